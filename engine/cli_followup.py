"""CLI commands for following up promises: `import payments`, `promises settle`,
`promises remind`.

Exit codes as everywhere: 0 done (rejected rows are reported, not failures), 1 failure at
run time (database, or reminders the gateway did not take), 2 unusable file, arguments
or settings.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg

from db.errors import DbError
from engine.settings import Settings, SettingsError


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date-time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give the UTC offset (e.g. +08:00)")
    return moment


def add_import_payments(kinds: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    payments = kinds.add_parser("payments", help="core bank payments CSV (UTF-8 or GB18030)")
    payments.add_argument("file", type=Path)
    payments.add_argument("--encoding", choices=("utf-8", "gb18030"), default=None)
    payments.add_argument("--rejects", type=Path, default=None,
                          help="where to write rejected rows (default: FILE.rejects.csv)")


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    promises = commands.add_parser("promises", help="settle promises, send reminders")
    actions = promises.add_subparsers(dest="promises_action", required=True)
    settle = actions.add_parser(
        "settle", help="mark open promises kept, partly kept or broken from the payments")
    settle.add_argument("--as-of", type=_day, default=None, metavar="YYYY-MM-DD",
                        help="settle as on this date in each debtor's zone (default: today "
                             "there)")
    settle.add_argument("--grace-days", type=int, default=None,
                        help="days after the due date a payment still counts "
                             "(default: followup.grace_days)")
    settle.add_argument("--rules", type=Path, default=None, help="segmentation rules file")
    requeue = actions.add_parser(
        "requeue", help="due callbacks, broken promises and reminder calls into their "
                        "campaigns now (the daemon does it every followup.requeue_interval_s)")
    requeue.add_argument("--at", type=_instant, default=None, metavar="YYYY-MM-DDTHH:MM+ZZ",
                         help="as if it were this moment (default: now)")
    remind = actions.add_parser("remind", help="SMS reminders for promises due soon")
    remind.add_argument("--as-of", type=_day, default=None, metavar="YYYY-MM-DD",
                        help="remind as on this date in each debtor's zone (default: today "
                             "there)")
    remind.add_argument("--at", type=_instant, default=None, metavar="YYYY-MM-DDTHH:MM+ZZ",
                        help="the moment the compliance gate judges (default: now)")


async def import_payments(args: argparse.Namespace, pool: asyncpg.Pool) -> int:
    from engine.payments.importer import PaymentFileError
    from engine.payments.importer import import_payments as run_import

    rejects = args.rejects or args.file.with_name(args.file.name + ".rejects.csv")
    try:
        report = await run_import(pool, args.file, encoding=args.encoding,
                                  rejects_path=rejects)
    except PaymentFileError as exc:
        print(f"huilong import payments: {exc}", file=sys.stderr)
        return 2
    print(f"{args.file}: {report.created} new, {report.duplicates} already recorded, "
          f"{report.rejected} rejected ({report.conflicts} conflicting references, "
          f"{report.unknown_debtors} unknown debtors)")
    if report.rejected:
        print(f"rejected rows (row, field, reason): {report.rejects_path}")
    if report.created:
        print("next: huilong promises settle")
    return 0


async def run(args: argparse.Namespace, settings: Settings) -> int:
    from engine.cli_portfolio import open_database

    try:
        async with open_database(settings) as pool:
            match args.promises_action:
                case "settle":
                    return await _settle(args, settings, pool)
                case "remind":
                    return await _remind(args, settings, pool)
                case "requeue":
                    return await _requeue(args, settings, pool)
    except DbError as exc:
        print(f"huilong promises {args.promises_action}: {exc}", file=sys.stderr)
        return 1
    raise AssertionError(args.promises_action)


async def _settle(args: argparse.Namespace, settings: Settings, pool: asyncpg.Pool) -> int:
    from db.followup import settle_promises
    from db.segments import resegment
    from engine.segmentation.rules import DEFAULT_RULES, RulesError, load_rules

    grace = settings.followup.grace_days if args.grace_days is None else args.grace_days
    if not 0 <= grace <= 60:
        raise SettingsError(f"--grace-days must be within 0..60, got {grace}")
    try:
        rules = load_rules(args.rules or DEFAULT_RULES)
    except RulesError as exc:
        raise SettingsError(str(exc)) from None
    report = await settle_promises(pool, grace_days=grace, as_of=args.as_of,
                                   now=datetime.now(UTC))
    when = args.as_of.isoformat() if args.as_of else "today in each debtor's zone"
    print(f"settled as of {when} (grace {grace} days): {report.debtors} debtors with open "
          f"promises; {report.kept} kept, {report.partly_kept} partly kept, {report.broken} "
          f"broken (both followed up: huilong promises requeue, or the daemon)")
    changed = await resegment(pool, rules.assign, report.changed_debtor_ids)
    print(f"segmentation: {changed} debtors (re)assigned")
    return 0


async def _requeue(args: argparse.Namespace, settings: Settings, pool: asyncpg.Pool) -> int:
    from db.requeue import ReminderTiming, requeue_due

    timing = ReminderTiming(settings.followup.reminder_days_before, settings.followup.grace_days)
    report = await requeue_due(pool, args.at or datetime.now(UTC), timing)
    print(f"re-queued: {report.callbacks} callbacks, {report.followups} broken or partly kept "
          f"promises, {report.reminders} reminder calls; {report.busy} left for the next "
          f"round (on a call now), {report.unrouted} with no campaign to go to")
    return 0


async def _remind(args: argparse.Namespace, settings: Settings, pool: asyncpg.Pool) -> int:
    from db.crypto import load_or_create_keyfile
    from engine.followup.remind import ReminderPolicy, send_reminders
    from engine.followup.sms import HttpSmsGateway

    followup = settings.followup
    if not followup.sms_url:
        raise SettingsError("followup.sms_url is not set: there is no SMS gateway to send "
                            "reminders through")
    policy = ReminderPolicy(followup.reminder_days_before, followup.grace_days,
                            followup.sms_sender)
    cipher = load_or_create_keyfile(settings.pii.keyfile)
    async with HttpSmsGateway(followup.sms_url, followup.sms_token,
                              timeout_s=followup.sms_timeout_s) as gateway:
        report = await send_reminders(pool, cipher, gateway, policy, as_of=args.as_of,
                                      now=args.at or datetime.now(UTC))
    print(f"reminders: {report.sent} sent, {report.failed} refused by the gateway (tried "
          f"again next run), {report.unknown} unanswered (not retried), {report.no_phone} "
          f"without an own number, {report.already_paid} already paid, {report.deferred} "
          f"not allowed now by the compliance gate (tried again next run)")
    return 1 if report.failed or report.unknown else 0
