"""CLI commands over the portfolio: import, segments, campaigns, explain, keys."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from db.crypto import PiiCipher, load_or_create_keyfile
from db.errors import DbError
from db.pool import create_pool
from engine.settings import Settings, SettingsError


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    importing = commands.add_parser("import", help="import a portfolio file")
    kinds = importing.add_subparsers(dest="import_kind", required=True)
    debtors = kinds.add_parser("debtors", help="debtors CSV (UTF-8 or GB18030)")
    debtors.add_argument("file", type=Path)
    debtors.add_argument("--encoding", choices=("utf-8", "gb18030"), default=None)
    debtors.add_argument("--rejects", type=Path, default=None,
                         help="where to write rejected rows (default: FILE.rejects.csv)")
    debtors.add_argument("--rules", type=Path, default=None, help="segmentation rules file")
    from engine.cli_followup import add_import_payments

    add_import_payments(kinds)

    segments = commands.add_parser("segments", help="debtors per segment")
    segments.add_argument("--reassign", action="store_true",
                          help="run the segmentation rules for every debtor first")
    segments.add_argument("--rules", type=Path, default=None)

    campaign = commands.add_parser("campaign", help="campaigns")
    actions = campaign.add_subparsers(dest="campaign_action", required=True)
    create = actions.add_parser("create", help="a campaign over some segments")
    create.add_argument("name")
    create.add_argument("--segments", required=True, help="comma-separated segment names")
    create.add_argument("--packs", default="CN", help="rule packs, comma-separated (CN,US,UK)")
    answered = create.add_mutually_exclusive_group()
    answered.add_argument("--script", default=None,
                          help="answered calls talk with the voice bot (script pack: zh, en, ko…)")
    answered.add_argument("--agents", action="store_true",
                          help="answered calls are bridged to agents (predictive)")
    create.add_argument("--amd", action="store_true",
                        help="agent campaigns: the answering-machine check before an agent "
                             "(machines are hung up, never offered)")
    create.add_argument("--pacing", default=None,
                        help="pacing policy (progressive by default; huilong, fixed_ratio, …)")
    create.add_argument("--retry", default=None, metavar="standard|FILE",
                        help="retry rules by outcome (engine/retry.py): the shipped "
                             "`standard` set or a TOML file; without it each debtor is "
                             "dialled once")
    create.add_argument("--best-time", default=None, metavar="GOAL",
                        choices=("right_party", "answer"),
                        help="wait for each debtor's better hour (learned from the calls of "
                             "the last 90 days) while others can take the line: ranked by "
                             "right-party contacts or by answers")
    create.add_argument("--remind-in", default=None, type=int, metavar="ID",
                        help="a reminder call before each promised date made in this "
                             "campaign, placed by campaign ID (a bot campaign; "
                             "followup.reminder_days_before)")
    create.add_argument("--on-broken", default=None, metavar="ID[,ID…]",
                        help="where broken promises made in this campaign are re-queued: "
                             "campaign ids, one per broken promise of a debtor, the last "
                             "repeating (default: this campaign)")
    for action in ("start", "pause", "status"):
        actions.add_parser(action).add_argument("campaign_id", type=int)

    debtor = commands.add_parser("debtor", help="one debtor, masked unless revealed")
    debtor_actions = debtor.add_subparsers(dest="debtor_action", required=True)
    show = debtor_actions.add_parser("show", help="facts, numbers (masked), segment")
    show.add_argument("external_id")
    show.add_argument("--reveal", choices=("name", "phone", "id_number"), default=None,
                      help="decrypt one value; the read is audited")
    show.add_argument("--reason", default="", help="why the value is needed (required with "
                      "--reveal; stored in the audit log)")

    explain = commands.add_parser("explain", help="why a debtor is or is not being called")
    explain.add_argument("external_id")
    explain.add_argument("--campaign", type=int, default=None)

    keys = commands.add_parser("keys", help="PII encryption keys")
    keys.add_subparsers(dest="keys_action", required=True).add_parser(
        "rotate", help="add a new active key and re-encrypt everything under it")


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    url = settings.database_url()
    if not url:
        raise SettingsError("database.url is not set (nor DATABASE_URL)")
    pool = await create_pool(url, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


def _cipher(settings: Settings) -> PiiCipher:
    return load_or_create_keyfile(settings.pii.keyfile)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        async with open_database(settings) as pool:
            match args.command:
                case "import" if args.import_kind == "payments":
                    from engine.cli_followup import import_payments

                    return await import_payments(args, pool)
                case "import":
                    return await _import_debtors(args, settings, pool)
                case "segments":
                    return await _segments(args, pool)
                case "campaign":
                    return await _campaign(args, pool)
                case "explain":
                    return await _explain(args, settings, pool)
                case "debtor":
                    return await _show_debtor(args, settings, pool)
                case "keys":
                    return await _rotate(settings, pool)
    except DbError as exc:
        print(f"huilong {args.command}: {exc}", file=sys.stderr)
        return 1
    raise AssertionError(args.command)


def _rules(path: Path | None):
    from engine.segmentation.rules import DEFAULT_RULES, RulesError, load_rules

    try:
        return load_rules(path or DEFAULT_RULES)
    except RulesError as exc:
        raise SettingsError(str(exc)) from None


async def _import_debtors(args: argparse.Namespace, settings: Settings,
                          pool: asyncpg.Pool) -> int:
    from db.segments import resegment, segment_counts
    from engine.portfolio.importer import ImportFileError, import_debtors

    rules = _rules(args.rules)
    rejects = args.rejects or args.file.with_name(args.file.name + ".rejects.csv")
    try:
        report = await import_debtors(pool, _cipher(settings), args.file,
                                      encoding=args.encoding, rejects_path=rejects)
    except ImportFileError as exc:
        print(f"huilong import debtors: {exc}", file=sys.stderr)
        return 2
    changed = await resegment(pool, rules.assign, report.changed_debtor_ids)
    print(f"{args.file}: {report.accepted} new, {report.updated} updated, "
          f"{report.unchanged} unchanged, {report.rejected} rejected")
    if report.rejected:
        print(f"rejected rows (row, field, reason): {report.rejects_path}")
    print(f"segmentation: {changed} debtors (re)assigned")
    _print_segments(await segment_counts(pool))
    return 0


def _print_segments(counts: list[tuple[str, str, int]]) -> None:
    print(f"{'segment':26} {'strategy':12} {'debtors':>8}")
    for segment, strategy, n in counts:
        print(f"{segment:26} {strategy:12} {n:8d}")


async def _segments(args: argparse.Namespace, pool: asyncpg.Pool) -> int:
    from db.segments import resegment, segment_counts

    if args.reassign:
        changed = await resegment(pool, _rules(args.rules).assign)
        print(f"segmentation: {changed} debtors (re)assigned")
    _print_segments(await segment_counts(pool))
    return 0


async def _campaign(args: argparse.Namespace, pool: asyncpg.Pool) -> int:
    from db.campaigns import CampaignRepository
    from db.targets import TargetRepository

    campaigns, targets = CampaignRepository(pool), TargetRepository(pool)
    match args.campaign_action:
        case "create":
            segments = [s.strip() for s in args.segments.split(",") if s.strip()]
            packs = [p.strip().upper() for p in args.packs.split(",") if p.strip()]
            options: dict[str, object] = {"segments": segments, "packs": packs}
            if args.script:
                options["script"] = args.script
            if args.agents:
                options["agents"] = True
            if args.amd:
                if not args.agents:
                    print("--amd is for agent campaigns (--agents); bot campaigns always "
                          "run the check ([bot] amd)", file=sys.stderr)
                    return 2
                options["amd"] = True
            if args.pacing:
                options["pacing"] = args.pacing
            try:
                if args.retry:
                    options["retry"] = retry_rules_from(args.retry)
                if args.best_time:
                    options["best_time"] = {"goal": args.best_time}
                if args.on_broken:
                    options["on_broken"] = await _ladder(pool, args.on_broken)
                if args.remind_in is not None:
                    options["remind_in"] = (await _ladder(pool, str(args.remind_in),
                                                          "--remind-in"))[0]
            except ValueError as exc:
                print(f"huilong campaign create: {exc}", file=sys.stderr)
                return 2
            campaign_id = await campaigns.create(args.name, "hold", options)
            added = await targets.add_segments(campaign_id, segments)
            print(f"campaign {campaign_id} ({args.name}): {added} debtors from "
                  f"{', '.join(segments)}; rule packs {', '.join(packs)}")
        case "start" | "pause":
            status = "running" if args.campaign_action == "start" else "paused"
            await campaigns.set_status(args.campaign_id, status)
            print(f"campaign {args.campaign_id}: {status}")
        case "status":
            campaign = await campaigns.get(args.campaign_id)
            if campaign is None:
                print(f"no campaign {args.campaign_id}", file=sys.stderr)
                return 1
            progress = await targets.progress(args.campaign_id)
            print(f"campaign {campaign.id} ({campaign.name}): {campaign.status}; "
                  f"{progress.pending} pending, {progress.dialling} dialling, "
                  f"{progress.done} done, {progress.blocked} blocked")
    return 0


async def _ladder(pool: asyncpg.Pool, text: str, option: str = "--on-broken") -> list[int]:
    """Campaign ids that must exist; ValueError names the option and the id."""
    ids = []
    for part in text.split(","):
        if not part.strip().isdigit():
            raise ValueError(f"{option}: {part.strip()!r} is not a campaign id")
        ids.append(int(part))
    missing = sorted(set(ids) - {r["id"] for r in await pool.fetch(
        "SELECT id FROM campaigns WHERE id = ANY($1::bigint[])", ids)})
    if missing:
        raise ValueError(f"{option}: no campaign {missing[0]}")
    return ids


def retry_rules_from(source: str) -> dict[str, Any]:
    """`standard` or a TOML file of rules; ValueError names the file and the field."""
    import tomllib

    from engine.retry import STANDARD_RULES, RetryRules, RetryRulesError

    if source == "standard":
        return dict(STANDARD_RULES)
    try:
        raw = tomllib.loads(Path(source).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"--retry {source}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"--retry {source}: {exc}") from None
    rules = raw.get("retry", raw)  # a [retry] table, or the rules at the top level
    try:
        RetryRules.parse(rules)
    except RetryRulesError as exc:
        raise ValueError(f"--retry {source}: {exc}") from None
    return dict(rules)


async def _explain(args: argparse.Namespace, settings: Settings, pool: asyncpg.Pool) -> int:
    from engine.eligibility import explain_debtor

    lines = await explain_debtor(pool, _cipher(settings), args.external_id,
                                 campaign_id=args.campaign)
    if lines is None:
        print(f"no debtor with external_id {args.external_id!r}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


async def _show_debtor(args: argparse.Namespace, settings: Settings, pool: asyncpg.Pool) -> int:
    from db.eligibility import debtor_id_for
    from db.pii import reveal

    if args.reveal and not args.reason.strip():
        print("huilong debtor show: --reveal needs --reason (it is audited)", file=sys.stderr)
        return 2
    debtor_id = await debtor_id_for(pool, args.external_id)
    if debtor_id is None:
        print(f"no debtor with external_id {args.external_id!r}", file=sys.stderr)
        return 1
    row = await pool.fetchrow(
        """SELECT d.timezone, d.language, d.segment, d.strategy, d.priority,
                  coalesce(sum(b.amount_due), 0) AS due, max(b.currency) AS currency,
                  coalesce(max(b.overdue_days), 0) AS overdue_days
           FROM debtors d LEFT JOIN debts b ON b.debtor_id = d.id
           WHERE d.id = $1 GROUP BY d.id""", debtor_id)
    phones = await pool.fetch("SELECT masked, owner FROM debtor_phones WHERE debtor_id = $1 "
                              "ORDER BY rank, id", debtor_id)
    print(f"debtor {args.external_id}: {row['due']} {row['currency'] or ''} due, "
          f"{row['overdue_days']} days overdue; segment {row['segment'] or '-'} "
          f"({row['strategy'] or '-'}), priority {row['priority']}; "
          f"{row['timezone']}, {row['language']}")
    for phone in phones:
        print(f"  {phone['masked']:16} {phone['owner']}")
    if args.reveal:
        value = await reveal(pool, _cipher(settings), debtor_id=debtor_id, field=args.reveal,
                             actor=f"cli:{getpass.getuser()}", reason=args.reason.strip())
        print(f"{args.reveal}: {value}   (this read is recorded in the audit log)")
    return 0


async def _rotate(settings: Settings, pool: asyncpg.Pool) -> int:
    from db.pii import add_active_key, rotate_keys

    key_id = add_active_key(settings.pii.keyfile)
    count = await rotate_keys(pool, _cipher(settings))
    print(f"new active key {key_id}; {count} values re-encrypted")
    return 0
