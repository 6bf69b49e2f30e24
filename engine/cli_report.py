"""`huilong report`: the campaign report in the terminal (docs/metrics.md), and one of its
tables as CSV with `--csv FILE`."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from db.analytics import campaign_report
from db.errors import CampaignNotFound, DbError
from engine.report_format import TABLES, QueryError, parse_range, report_csv, report_text
from engine.settings import Settings


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    report = commands.add_parser(
        "report", help="calls, promises, money, abandons and agents over a range of days")
    report.add_argument("--campaign", type=int, help="one campaign (default: all)")
    report.add_argument("--from", dest="first_day", metavar="DATE",
                        help="first day, YYYY-MM-DD (default: 30 days before --to)")
    report.add_argument("--to", dest="end_day", metavar="DATE",
                        help="the day after the last, YYYY-MM-DD (default: tomorrow, so "
                             "today is included)")
    report.add_argument("--tz", default="UTC",
                        help="the zone the days are in (default UTC), e.g. Asia/Shanghai")
    report.add_argument("--csv", type=Path, metavar="FILE",
                        help="also write a table as CSV (UTF-8 with a byte-order mark)")
    report.add_argument("--table", choices=TABLES, default="campaigns",
                        help="the table --csv writes (default: campaigns)")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    from engine.cli_portfolio import open_database

    try:
        period = parse_range(args.first_day, args.end_day, args.tz, datetime.now(UTC))
    except QueryError as exc:
        print(f"huilong report: {exc}", file=sys.stderr)
        return 2
    try:
        async with open_database(settings) as pool:
            report = await campaign_report(pool, period, args.campaign)
    except CampaignNotFound as exc:
        print(f"huilong report: {exc}", file=sys.stderr)
        return 1
    except (DbError, asyncpg.PostgresError) as exc:
        print(f"huilong report: {exc}", file=sys.stderr)
        return 1
    print(report_text(report), end="")
    if args.csv is not None:
        try:
            args.csv.write_text(report_csv(report, args.table), encoding="utf-8-sig",
                                newline="")
        except OSError as exc:
            print(f"huilong report: {args.csv}: {exc}", file=sys.stderr)
            return 1
        print(f"\n{args.table} written to {args.csv}")
    return 0
