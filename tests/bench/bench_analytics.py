"""The campaign report over months of calls: from the rollups of migration 0009 (ours)
against the same questions asked straight of the raw tables (the baseline), same run,
same database.

    .venv/bin/python -m tests.bench.bench_analytics [--attempts N] [--campaigns C]
        [--agents A] [--days D]

Fills a throwaway cluster (tests/bench/analytics_data.py) with N attempts over D days
(default 182) in C campaigns, builds the rollups from that history as migration 0009 does
on an existing database, then times the report (every figure of docs/metrics.md) for the
last month and for the whole range, for all campaigns and for one. Ours is the median of 5
runs (each refreshes the rollups first, nothing queued); the baseline runs once per
question. Last, 10,000 attempts are added with the triggers on and the report is timed
again, its refresh included. Goal: the report within a second at 10 million attempts.

The default is 2,000,000 attempts (about 3 minutes on two cores); `--attempts 10000000`
(the goal's size) took about 16 minutes there, mostly filling the tables (6 min),
building the rollups (5 min) and the baseline's four questions (4 min).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta

import asyncpg

from db.analytics import campaign_report
from db.analytics_model import ROLLING_DAYS, CallCounts, Report, ReportRange
from db.analytics_refresh import refresh
from db.migrate import migrate
from db.pool import create_pool
from tests.bench.analytics_data import ATTEMPTS_SQL, baseline, fill
from tests.bench.postgres import bench_database

START = datetime(2024, 1, 1, tzinfo=UTC)
ZONE = "Asia/Shanghai"
OUR_RUNS = 5
LIVE_ATTEMPTS = 10_000
GOAL_S = 1.0


def progress(text: str) -> None:
    print(f"  … {text}", file=sys.stderr, flush=True)


async def time_ours(pool: asyncpg.Pool, period: ReportRange, campaign: int | None,
                    now: datetime) -> tuple[float, Report]:
    samples = []
    for _ in range(OUR_RUNS):
        started = time.perf_counter()
        report = await campaign_report(pool, period, campaign, now=now)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), report


async def time_baseline(conn: asyncpg.Connection, period: ReportRange, campaign: int | None,
                        now: datetime) -> tuple[float, dict[str, list[asyncpg.Record]]]:
    window = period.midnight(period.first_day - timedelta(days=ROLLING_DAYS - 1))
    started = time.perf_counter()
    rows = await baseline(conn, period.start, period.end, window, ZONE, campaign, now)
    return time.perf_counter() - started, rows


def check_agree(name: str, report: Report, rows: dict[str, list[asyncpg.Record]]) -> None:
    """Both answers are the same numbers (the totals of each table), or the bench stops."""
    counts = {f.name: sum(r[f.name] for r in rows["calls"]) for f in fields(CallCounts)}
    theirs = {
        "calls": counts,
        "hours": sorted((int(r["hour"]), r["attempts"], r["live"]) for r in rows["hours"]),
        "kept": sum(r["count"] for r in rows["promises"] if r["status"] == "kept"),
        "recovered": {r["currency"]: r["sum"] for r in rows["recovered"]},
        "on call µs": int(sum(r["sum"] for r in rows["agents"] if r["status"] == "on_call")
                          * 1_000_000),
    }
    agents = {a.agent_id: a for a in report.agents}
    ours = {
        "calls": {f.name: getattr(report.total.calls, f.name) for f in fields(CallCounts)},
        "hours": [(h.hour, h.calls.attempts, h.calls.live) for h in report.hours],
        "kept": report.total.promises.kept,
        "recovered": {m.currency: m.amount for m in report.total.recovered},
        "on call µs": agents[""].on_call_us if "" in agents else 0,
    }
    for key, value in theirs.items():
        assert ours[key] == value, f"{name}: {key} differs: raw tables {value}, report {ours[key]}"


async def run(attempts: int, campaigns: int, agents: int, days: int) -> None:
    end = START + timedelta(days=days)
    last_month = date(end.year, end.month, 1) - timedelta(days=1)
    month = ReportRange(last_month.replace(day=1), last_month + timedelta(days=1), ZONE)
    whole = ReportRange(START.date(), end.date() + timedelta(days=1), ZONE)
    questions = [(f"month ({month.first_day:%Y-%m}), all campaigns", month, None),
                 ("month, one campaign", month, 2),
                 (f"whole range ({days} days), all campaigns", whole, None),
                 ("whole range, one campaign", whole, 2)]
    async with bench_database() as dsn:
        conn = await asyncpg.connect(dsn)  # no statement timeout: the baseline runs long
        pool = await create_pool(dsn, min_size=1, max_size=2, statement_timeout=1800)
        try:
            await migrate(conn)
            started = time.perf_counter()
            await fill(conn, attempts=attempts, campaigns=campaigns, agents=agents,
                       start=START, days=days)
            fill_s = time.perf_counter() - started
            progress(f"filled in {fill_s:.0f} s")
            started = time.perf_counter()
            await conn.execute("SELECT analytics_queue_everything()")
            queued = await refresh(pool)
            build_s = time.perf_counter() - started
            progress(f"rollups built in {build_s:.0f} s")
            await conn.execute("VACUUM ANALYZE")  # as autovacuum would have by then
            sizes = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in (
                "attempts", "call_events", "promises", "payments", "agent_state_log",
                "analytics_calls", "analytics_promises", "analytics_promisers",
                "analytics_recovered", "analytics_agent_marks")}
            rows = []
            for name, period, campaign in questions:
                base_s, raw = await time_baseline(conn, period, campaign, end)
                ours_s, report = await time_ours(pool, period, campaign, end)
                check_agree(name, report, raw)
                rows.append((name, report.total.calls.attempts, base_s, ours_s))
                progress(f"{name}: raw tables {base_s:.3f} s, rollups {ours_s:.3f} s")
            live_s = await time_live(conn, pool, month, end)
        finally:
            await pool.close()
            await conn.close()
    print(f"campaign report: {attempts:,} attempts, {campaigns} campaigns, {agents} agents, "
          f"{days} days (filled in {fill_s:.0f} s; rollups built from {queued:,} queued keys "
          f"in {build_s:.1f} s)")
    print("  rows: " + ", ".join(f"{t} {n:,}" for t, n in sizes.items()))
    print(f"{'question':40} {'attempts':>10} {'raw tables s':>13} {'rollups s':>10} "
          f"{'speed-up':>9}")
    for name, n, base_s, ours_s in rows:
        print(f"{name:40} {n:10,} {base_s:13.3f} {ours_s:10.3f} {base_s / ours_s:8.0f}x")
    print(f"{f'month, after {LIVE_ATTEMPTS:,} new attempts':40} {'':10} {'':>13} "
          f"{live_s:10.3f}   (refresh of the queued keys included)")
    worst = max(r[3] for r in rows)
    print("(each question's figures agree between the two)")
    print(f"goal: the report within {GOAL_S:.0f} s at 10,000,000 attempts; slowest here "
          f"{worst:.3f} s at {attempts:,}")


async def time_live(conn: asyncpg.Connection, pool: asyncpg.Pool, month: ReportRange,
                    end: datetime) -> float:
    """New calls on the month's last day, written with the triggers on, as the dialer
    writes them; then the report, which first recomputes what they queued."""
    last_day = end - timedelta(days=1)
    await conn.execute(ATTEMPTS_SQL, 0, LIVE_ATTEMPTS - 1, 4, 1000, last_day, 1, LIVE_ATTEMPTS)
    started = time.perf_counter()
    await campaign_report(pool, month, now=end)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=2_000_000)
    parser.add_argument("--campaigns", type=int, default=8)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--days", type=int, default=182)
    args = parser.parse_args(argv)
    asyncio.run(run(args.attempts, args.campaigns, args.agents, args.days))


if __name__ == "__main__":
    main()
