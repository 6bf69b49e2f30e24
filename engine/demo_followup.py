"""The demo's follow-up: the "next day" on a simulated clock, then the report and the
dashboard.

After the calls, the clock jumps to the morning after the last promised date's grace.
The core bank's payments file of that day arrives: the first debtor who promised pays in
full on the promised date, the others do not. The payments are imported, the promises
settled (kept, broken), the broken ones re-queued into their campaign (not before the
simulated morning, so the daemon does not dial them today), and the report printed from
the same definitions as `huilong report` and the dashboard.
"""

from __future__ import annotations

import asyncio
import csv
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg

from db.agents import AgentRepository
from db.analytics import campaign_report
from db.analytics_model import ReportRange
from db.followup import settle_promises
from db.requeue import requeue_due
from engine.agents.phones import digest_credential, new_password
from engine.payments.importer import import_payments
from engine.report_format import report_text
from engine.settings import Settings

SUPERVISOR_ID = "7000"


@dataclass(frozen=True, slots=True)
class NextDay:
    day: date  # the simulated day, in the debtors' zone
    kept: int
    broken: int
    requeued: int


async def next_day(pool: asyncpg.Pool, settings: Settings, campaign_id: int,
                   folder: Path) -> NextDay | None:
    """Payments, settlement and re-queue for the promises of `campaign_id`."""
    promises = await pool.fetch(
        """SELECT p.id, p.amount, p.currency, p.due_date, d.external_id, d.timezone
           FROM promises p JOIN attempts a ON a.id = p.attempt_id
           JOIN debtors d ON d.id = p.debtor_id
           WHERE a.campaign_id = $1 AND p.status = 'open' ORDER BY d.external_id""",
        campaign_id)
    if not promises:
        print("\nno promises to follow up")
        return None
    zone = ZoneInfo(promises[0]["timezone"])
    grace = settings.followup.grace_days
    day = max(p["due_date"] for p in promises) + timedelta(days=grace + 1)
    clock = datetime.combine(day, time(9), zone)
    print(f"\nthe next day (simulated clock: {clock:%Y-%m-%d %H:%M} in the debtors' zone, "
          f"grace {grace} days)")

    payments = folder / f"payments-{day:%Y%m%d}-{campaign_id}.csv"
    with payments.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["reference", "external_id", "amount", "currency", "paid_at"])
        first = promises[0]  # pays in full on the promised date; the others pay nothing
        paid_at = datetime.combine(first["due_date"], time(10), zone)
        writer.writerow([f"DEMO-PAY-{first['id']}", first["external_id"], first["amount"],
                         first["currency"], paid_at.isoformat()])
    imported = await import_payments(pool, payments, now=clock.astimezone(UTC),
                                     rejects_path=payments.with_suffix(".rejects.csv"))
    print(f"imported {payments.name}: {imported.created} payment, {imported.rejected} rejected")
    settled = await settle_promises(pool, grace_days=grace, as_of=day, now=clock)
    requeued = await requeue_due(pool, clock)
    rows = await pool.fetch(
        """SELECT d.external_id, p.amount, p.due_date, p.status, p.paid_amount,
                  t.status AS target, t.reason, t.next_allowed_at
           FROM promises p JOIN debtors d ON d.id = p.debtor_id
           LEFT JOIN campaign_targets t ON t.debtor_id = p.debtor_id AND t.campaign_id = $2
           WHERE p.id = ANY($1::bigint[]) ORDER BY d.external_id""",
        [p["id"] for p in promises], campaign_id)
    print(f"\n{'debtor':10} {'promised':>9} {'due':10} {'paid':>9} {'promise':8} follow-up")
    for r in rows:
        follow = ("-" if r["reason"] not in ("broken_promise", "partly_kept") else
                  f"re-queued in campaign {campaign_id} from "
                  f"{r['next_allowed_at'].astimezone(zone):%Y-%m-%d %H:%M} ({r['target']})")
        print(f"{r['external_id']:10} {r['amount']:>9} {r['due_date']!s:10} "
              f"{r['paid_amount'] or 0:>9} {r['status']:8} {follow}")
    print(f"\n{settled.kept} kept, {settled.partly_kept} partly kept, {settled.broken} broken; "
          f"{requeued.followups} re-queued (bot reminder in the same campaign)")
    return NextDay(day, settled.kept, settled.broken, requeued.followups)


async def print_report(pool: asyncpg.Pool, until: date) -> None:
    """The report over the demo's days, today up to `until` (the simulated day) included."""
    today = datetime.now(UTC).date()
    period = ReportRange(today - timedelta(days=1), until + timedelta(days=2), "UTC")
    print("\nreport (huilong report --from "
          f"{period.first_day} --to {period.end_day}; docs/metrics.md)")
    print(report_text(await campaign_report(pool, period, None)), end="")


async def add_supervisor(pool: asyncpg.Pool, settings: Settings) -> str:
    """A supervisor account to open the dashboard with; returns its new password."""
    password = new_password()
    await AgentRepository(pool).add(
        SUPERVISOR_ID, "演示主管", settings.agents.realm,
        digest_credential(SUPERVISOR_ID, settings.agents.realm, password), "supervisor")
    return password


async def serve_dashboard(settings: Settings, port: int | None, password: str) -> None:
    """Print the dashboard's address and keep serving it until Enter (or end of input:
    non-interactive runs end at once)."""
    host = settings.http.host if settings.http.host not in ("0.0.0.0", "::") else "127.0.0.1"
    print(f"\ndashboard: http://{host}:{port}/dashboard  (supervisor {SUPERVISOR_ID}, "
          f"password {password})", flush=True)
    print("press Enter to stop the demo's daemon and end", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
