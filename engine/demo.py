"""`huilong demo`: a small simulated campaign through the real lab.

Simulated debtors with mixed behaviours are loaded, the carrier learns each one's
scenario, the daemon dials them through PBX → PJSIP trunk → carrier, progress is shown
live, and the run ends with a table of outcomes checked against what each simulated
debtor was set up to do.
"""

from __future__ import annotations

import asyncio
import csv
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from db.attempts import AttemptRepository
from db.campaigns import CampaignRepository
from db.crypto import load_or_create_keyfile
from db.pool import create_pool
from db.targets import TargetRepository
from engine import demo_agents, demo_followup
from engine.daemon import Daemon
from engine.lab.carrier import AwaitPrompt, Network, Pause, Say, Scenario
from engine.lab.lab import Lab
from engine.settings import BotSettings, Settings


@dataclass(frozen=True, slots=True)
class DemoDebtor:
    external_id: str
    name: str
    e164: str
    scenario: Scenario
    expected: str


BEHAVIOURS: tuple[tuple[Network, float | None, tuple[Say | Pause, ...], str], ...] = (
    (Network.ANSWER, 2, (Pause(0.5), Say("Hello? Yes, speaking.")), "answered"),
    (Network.BUSY, 1, (), "busy"),
    (Network.ANSWER, 1, (Say("Yes. I will pay on Friday."),), "answered"),
    (Network.NO_ANSWER, 3, (), "no_answer"),
    (Network.CONGESTION, 0.5, (), "congestion"),
    (Network.INVALID, None, (), "invalid_number"),
    (Network.MACHINE, 2, (), "answered"),
    (Network.ANSWER, 3, (Say("Who is this? I am busy now."),), "answered"),
    (Network.REJECT, 1, (), "rejected"),
    (Network.BUSY, 2, (), "busy"),
    (Network.NO_ANSWER, 2, (), "no_answer"),
    (Network.ANSWER, 1, (Pause(1.0), Say("No, that is not me.")), "answered"),
)

SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙")
# CN rules (calling hours, caps) apply; public holidays are ignored so the demo runs any
# day of the year.
RULES: dict[str, object] = {"packs": ["CN"], "pack_overrides": {"CN": {"avoid_holidays": False}}}


# Debtors the voice bot talks to (script `ko`: the small Korean model runs offline):
# what they say after each prompt, and the outcome the bot should record.
BOT_BEHAVIOURS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("네", "금요일"), "promise"),  # pays on the day (the follow-up's kept promise)
    (("네", "금요일"), "promise"),  # does not pay (broken, re-queued)
    (("네", "없어요"), "hardship"),
    ((), "no_response"),
)


def bot_debtors() -> list[DemoDebtor]:
    debtors = []
    for i, (answers, expected) in enumerate(BOT_BEHAVIOURS):
        digits = f"86139{i + 1:08d}"
        script: list[AwaitPrompt | Say] = []
        for answer in answers:
            script += [AwaitPrompt(), Say(answer, voice="ko")]
        if answers:  # asked again, a person repeats the last answer
            script += [AwaitPrompt(), Say(answers[-1], voice="ko")]
        scenario = Scenario(digits, Network.ANSWER, ring_s=1, script=tuple(script),
                            hold_s=None)
        debtors.append(DemoDebtor(f"DEMO-B{i + 1:03d}", f"{SURNAMES[i]}女士", f"+{digits}",
                                  scenario, expected))
    return debtors


def demo_debtors(count: int) -> list[DemoDebtor]:
    debtors = []
    for i in range(count):
        network, ring, script, expected = BEHAVIOURS[i % len(BEHAVIOURS)]
        digits = f"86138{i + 1:08d}"
        scenario = Scenario(digits, network, ring_s=ring, script=script, hold_s=0.5)
        debtors.append(DemoDebtor(f"DEMO-{i + 1:04d}", f"{SURNAMES[i % len(SURNAMES)]}先生",
                                  f"+{digits}", scenario, expected))
    return debtors


async def run_demo(settings: Settings, debtors: int = 12) -> int:
    lab = Lab(settings)
    status = lab.status()
    if status.pbx is None or status.carrier is None:
        print("the lab is not running: `huilong lab up` (or `make demo`) first", file=sys.stderr)
        return 1
    people, talkers = demo_debtors(debtors), bot_debtors()
    agent_lines = demo_agents.agent_lines()
    lab.carrier.apply([p.scenario for p in people + talkers] + agent_lines)
    pool = await create_pool(lab.database_url())
    try:
        earlier = await pool.fetchval("SELECT coalesce(max(id), 0) FROM campaigns")
        campaign_id, bot_campaign_id = await _load(pool, settings, people, talkers)
        settings.http.port = 0
        settings.bot = BotSettings(**lab.bot_settings())
        demo_agents.configure(settings)
        daemon = Daemon(settings)
        daemon_task = asyncio.create_task(daemon.run(), name="daemon")
        await _show_progress(pool, campaign_id, len(people), daemon_task)
        print(f"\nvoice bot campaign {bot_campaign_id}: {len(talkers)} debtors answer in Korean")
        await _show_progress(pool, bot_campaign_id, len(talkers), daemon_task)

        async def progress(pool, campaign: int, total: int) -> None:  # type: ignore[no-untyped-def]
            await _show_progress(pool, campaign, total, daemon_task)

        agents = await demo_agents.run_agent_campaign(
            pool, settings, daemon, agent_lines, zone_at_local_hour(11, datetime.now(UTC)),
            RULES, progress)
        try:
            calls = await _report(pool, campaign_id, people)
            conversations = await _report_bot(pool, settings, bot_campaign_id, talkers)
            followed = await demo_followup.next_day(pool, settings, bot_campaign_id,
                                                    settings.lab.state_dir / "demo")
            await _final_report(pool, earlier)
            await demo_followup.print_report(
                pool, followed.day if followed else datetime.now(UTC).date())
            password = await demo_followup.add_supervisor(pool, settings)
            try:
                await demo_followup.serve_dashboard(settings, daemon.http_port, password)
            finally:
                await pool.execute("UPDATE agents SET removed_at = now() WHERE agent_id = $1",
                                   demo_followup.SUPERVISOR_ID)
        finally:
            daemon.request_stop()
            await daemon_task
        return calls or conversations or agents or int(followed is None)
    finally:
        await pool.close()


# Portfolio facts per demo debtor (overdue days, amount due, on-time ratio, broken
# promises, credit rating), varied so the shipped rules put them in several segments.
PROFILES = (
    (3, "800.00", "0.95", 0, "A"), (12, "2400.00", "0.70", 0, "B"),
    (45, "650.00", "", 1, "B"), (75, "8800.00", "0.40", 2, "C"),
    (120, "62000.00", "0.20", 1, "D"), (150, "3000.00", "0.10", 4, "D"),
)


def zone_at_local_hour(hour: int, now: datetime) -> str:
    """A fixed-offset IANA zone in which it is now about `hour` o'clock: the demo's
    debtors live there so the calling-hours rules let the demo dial at any hour."""
    offset = (hour - now.hour + 12) % 24 - 12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def write_portfolio(path: Path, people: list[DemoDebtor], zone: str) -> None:
    """The demo's debtors as a bank would export them, plus two rows a bank gets wrong."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["external_id", "name", "phone", "amount_due", "currency",
                         "overdue_days", "due_date", "on_time_ratio", "broken_promises",
                         "credit_rating", "timezone", "branch"])
        today = datetime.now(UTC).date()
        for i, person in enumerate(people):
            days, amount, ratio, broken, rating = PROFILES[i % len(PROFILES)]
            due = today - timedelta(days=days)
            writer.writerow([person.external_id, person.name, person.e164, amount, "CNY", days,
                             due.isoformat(), ratio, broken, rating, zone, "demo"])
        writer.writerow(["DEMO-BAD1", "错号码", "12345", "100.00", "CNY", 5, "", "", 0, "", zone,
                         ""])
        writer.writerow(["DEMO-BAD2", "负金额", "+8613800009999", "-5", "CNY", 5, "", "", 0, "",
                         zone, ""])


async def _load(pool, settings: Settings, people: list[DemoDebtor],
                talkers: list[DemoDebtor]) -> tuple[int, int]:
    from db.segments import resegment
    from engine.portfolio.importer import import_debtors
    from engine.segmentation.rules import load_rules

    folder = settings.lab.state_dir / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    portfolio = folder / f"debtors-{now:%Y%m%d-%H%M%S}.csv"
    write_portfolio(portfolio, people + talkers, zone_at_local_hour(11, now))
    report = await import_debtors(pool, load_or_create_keyfile(settings.pii.keyfile), portfolio,
                                  rejects_path=portfolio.with_suffix(".rejects.csv"))
    await resegment(pool, load_rules().assign, report.changed_debtor_ids)
    print(f"imported {portfolio.name}: {report.accepted} new, {report.updated} updated, "
          f"{report.unchanged} unchanged, {report.rejected} rejected "
          f"(see {report.rejects_path.name if report.rejects_path else '-'})")
    rows = await pool.fetch(
        "SELECT id, external_id, segment, strategy, priority FROM debtors "
        "WHERE external_id = ANY($1::text[]) ORDER BY priority DESC, external_id",
        [p.external_id for p in people + talkers])
    print(f"\n{'debtor':10} {'segment':24} {'strategy':12} {'priority':>9}")
    for row in rows:
        print(f"{row['external_id']:10} {row['segment']:24} {row['strategy']:12} "
              f"{row['priority']:9}")
    campaigns, targets = CampaignRepository(pool), TargetRepository(pool)
    rules = RULES
    campaign_id = await campaigns.create(f"demo-{now:%Y%m%d-%H%M%S}", "hold", rules)
    bot_campaign_id = await campaigns.create(f"demo-bot-{now:%Y%m%d-%H%M%S}", "bot",
                                             {**rules, "script": "ko"})
    bot_ids = {p.external_id for p in talkers}
    for row in rows:
        phone = await pool.fetchval("SELECT id FROM debtor_phones WHERE debtor_id = $1 "
                                    "ORDER BY rank LIMIT 1", row["id"])
        target = bot_campaign_id if row["external_id"] in bot_ids else campaign_id
        await targets.add(target, row["id"], phone, row["priority"])
    await campaigns.set_status(campaign_id, "running")
    await campaigns.set_status(bot_campaign_id, "running")
    print(f"\ncampaign {campaign_id}: {len(rows) - len(talkers)} debtors, highest priority first")
    return campaign_id, bot_campaign_id


async def _show_progress(pool, campaign_id: int, total: int, daemon_task: asyncio.Task) -> None:
    targets = TargetRepository(pool)
    last = None
    async with asyncio.timeout(180):
        while True:
            if daemon_task.done():
                await daemon_task  # surface its error
                raise RuntimeError("the daemon stopped before the campaign finished")
            rows = await pool.fetch(
                "SELECT state, disposition FROM attempts WHERE campaign_id = $1", campaign_id)
            live = sum(1 for r in rows if r["state"] != "final")
            counts: dict[str, int] = {}
            for r in rows:
                if r["disposition"]:
                    counts[r["disposition"]] = counts.get(r["disposition"], 0) + 1
            line = (f"placed {len(rows):2d}/{total}  live {live:2d}  "
                    + "  ".join(f"{k} {v}" for k, v in sorted(counts.items())))
            if line != last:
                print(line, flush=True)
                last = line
            progress = await targets.progress(campaign_id)
            if progress.pending == 0 and progress.dialling == 0 and live == 0 and rows:
                return
            await asyncio.sleep(0.5)


async def _report(pool, campaign_id: int, people: list[DemoDebtor]) -> int:
    attempts = AttemptRepository(pool)
    rows = await pool.fetch(
        """SELECT t.attempt_id, p.masked, d.external_id FROM campaign_targets t
           JOIN debtor_phones p ON p.id = t.phone_id JOIN debtors d ON d.id = t.debtor_id
           WHERE t.campaign_id = $1 ORDER BY d.external_id""", campaign_id)
    expected = {p.external_id: p for p in people}
    print()
    print(f"{'debtor':10} {'number':16} {'scenario':11} {'outcome':15} {'cause':>5} "
          f"{'ring s':>6} {'talk s':>6}  check")
    mismatches = 0
    for row in rows:
        attempt = await attempts.get(row["attempt_id"])
        person = expected[row["external_id"]]
        ring = _seconds(attempt.originated_at, attempt.answered_at or attempt.ended_at)
        talk = _seconds(attempt.answered_at, attempt.ended_at) if attempt.answered_at else ""
        ok = attempt.disposition == person.expected
        mismatches += not ok
        cause = "-" if attempt.hangup_cause is None else attempt.hangup_cause
        print(f"{row['external_id']:10} {row['masked']:16} {person.scenario.network.value:11} "
              f"{attempt.disposition:15} {cause:>5} "
              f"{ring:>6} {talk:>6}  {'ok' if ok else 'expected ' + person.expected}")
    print(f"\n{len(rows)} calls placed through the PBX and the carrier; "
          f"{len(rows) - mismatches} outcomes as expected, {mismatches} not")
    return 0 if mismatches == 0 and len(rows) == len(people) else 1


async def _report_bot(pool, settings: Settings, campaign_id: int,
                      talkers: list[DemoDebtor]) -> int:
    from db.bot import BotRepository

    bot = BotRepository(pool, load_or_create_keyfile(settings.pii.keyfile))
    rows = await pool.fetch(
        """SELECT t.attempt_id, d.external_id, o.kind, o.promise_date, a.recording
           FROM campaign_targets t JOIN debtors d ON d.id = t.debtor_id
           LEFT JOIN call_outcomes o ON o.attempt_id = t.attempt_id
           LEFT JOIN attempts a ON a.id = t.attempt_id
           WHERE t.campaign_id = $1 ORDER BY d.external_id""", campaign_id)
    expected = {p.external_id: p.expected for p in talkers}
    print(f"\n{'debtor':10} {'debtor said':18} {'bot outcome':12} {'promised for':12}  check")
    mismatches = 0
    for row in rows:
        heard = [t.heard or "(silence)" for t in await bot.turns(row["attempt_id"])
                 if t.prompt is None]
        ok = row["kind"] == expected[row["external_id"]]
        mismatches += not ok
        print(f"{row['external_id']:10} {' | '.join(heard):18} {row['kind'] or '-':12} "
              f"{row['promise_date'] or '-'!s:12}  "
              f"{'ok' if ok else 'expected ' + expected[row['external_id']]}")
    print(f"\n{len(rows)} bot conversations (transcripts encrypted, recordings in the PBX's "
          f"spool); {len(rows) - mismatches} outcomes as expected, {mismatches} not")
    return 0 if mismatches == 0 and len(rows) == len(talkers) else 1


async def _final_report(pool, after_campaign: int) -> None:  # type: ignore[no-untyped-def]
    """The demo's campaigns side by side, counted from the attempt and outcome tables."""
    rows = await pool.fetch(
        """SELECT c.id, c.name, count(a.id) AS calls,
                  count(a.answered_at) AS answered,
                  count(*) FILTER (WHERE a.machine) AS machines,
                  count(o.attempt_id) FILTER (WHERE o.kind = 'promise') AS bot_promises,
                  count(*) FILTER (WHERE EXISTS (SELECT 1 FROM call_events e
                      WHERE e.attempt_id = a.id AND e.kind = 'agent_connected')) AS to_agents,
                  count(*) FILTER (WHERE a.abandoned) AS abandoned,
                  coalesce(sum(extract(epoch FROM a.ended_at - a.answered_at)), 0) AS talk_s
           FROM campaigns c LEFT JOIN attempts a ON a.campaign_id = c.id
           LEFT JOIN call_outcomes o ON o.attempt_id = a.id
           WHERE c.id > $1 GROUP BY c.id ORDER BY c.id""", after_campaign)
    print("\nfinal report")
    print(f"{'campaign':28} {'calls':>5} {'answered':>8} {'machines':>8} "
          f"{'bot promises':>12} {'to agents':>9} {'abandoned':>9} {'abandon rate':>12} "
          f"{'talk min':>8}")
    for r in rows:
        rate = f"{r['abandoned'] / r['answered']:.1%}" if r["answered"] else "-"
        print(f"{r['name'][:28]:28} {r['calls']:5d} {r['answered']:8d} {r['machines']:8d} "
              f"{r['bot_promises']:12d} {r['to_agents']:9d} {r['abandoned']:9d} {rate:>12} "
              f"{float(r['talk_s']) / 60:8.1f}")


def _seconds(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    return f"{(end - start).total_seconds():.1f}"
