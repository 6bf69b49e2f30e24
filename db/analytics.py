"""The campaign report: every figure of docs/metrics.md for one campaign or all, over local
days [from, to) in a time zone, read from the rollups of migration 0009 after bringing
them up to date (db.analytics_refresh). The figures' types are in db.analytics_model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from db.analytics_model import (
    NO_CAMPAIGN,
    PROMISE_STATUSES,
    ROLLING_DAYS,
    AgentFigures,
    CallCounts,
    CampaignFigures,
    HourFigures,
    PromiseCounts,
    Report,
    ReportRange,
    agent_time_at,
    money,
    rolling_days,
)
from db.analytics_refresh import refresh
from db.errors import CampaignNotFound
from db.pool import connection

NO_CAMPAIGN_NAME = "(no campaign)"
ANY_CAMPAIGN = -1  # analytics_recovered's key for "each payment once"
STATUS_COLUMNS = {f"promises_{s}": s for s in PROMISE_STATUSES}
_SUMS = ", ".join(f"sum({name})::bigint AS {name}"
                  for name in (*(f.name for f in fields(CallCounts)), *STATUS_COLUMNS))
# $1, $2: the range's instants; $3: the campaign, or NULL for all.
_IN_RANGE = "bucket >= $1 AND bucket < $2 AND ($3::bigint IS NULL OR campaign_id = $3)"

# Per campaign and local day ($4: the zone), from 29 days before the range (the rolling
# abandon rate); the campaigns' figures are the sums of the range's days.
_BY_DAY = f"""
SELECT campaign_id, (bucket AT TIME ZONE $4)::date AS day, {_SUMS}
FROM analytics_calls WHERE {_IN_RANGE} GROUP BY 1, 2
"""

_BY_HOUR = f"""
SELECT local_hour, {_SUMS} FROM analytics_calls WHERE {_IN_RANGE} GROUP BY local_hour
"""

_PROMISED = f"""
SELECT campaign_id, currency, sum(amount) AS amount
FROM analytics_promises WHERE {_IN_RANGE} GROUP BY 1, 2
"""

# Campaign -1: each payment once, whichever campaigns its debtor promised in (the total).
_RECOVERED = """
SELECT campaign_id, currency, sum(amount) AS amount
FROM analytics_recovered
WHERE bucket >= $1 AND bucket < $2 AND ($3::bigint IS NULL OR campaign_id IN ($3, -1))
GROUP BY 1, 2
"""

# Each agent's last mark at or before the range's start ($1) and end ($2), both capped at
# now by the caller (db.analytics_model.agent_time_at carries the counts on from there).
_AGENT_MARKS = """
SELECT g.agent_id, t.n, m.at, m.status, m.logged_in_us, m.on_call_us, m.wrap_up_us
FROM agents g
CROSS JOIN (VALUES (0, $1::timestamptz), (1, $2::timestamptz)) AS t(n, at)
CROSS JOIN LATERAL (SELECT m.at, m.status, m.logged_in_us, m.on_call_us, m.wrap_up_us
                    FROM analytics_agent_marks m
                    WHERE m.agent_id = g.agent_id AND m.at <= t.at
                    ORDER BY m.at DESC, m.log_id DESC LIMIT 1) m
"""


async def campaign_report(pool: asyncpg.Pool, period: ReportRange,
                          campaign_id: int | None = None, *, now: datetime | None = None,
                          refresh_first: bool = True) -> Report:
    """The report; CampaignNotFound for a campaign filter naming no campaign.
    `now` ends the agents' current states (default: the clock)."""
    now = now or datetime.now(UTC)
    if refresh_first:
        await refresh(pool)
    async with connection(pool) as conn, conn.transaction(isolation="repeatable_read",
                                                          readonly=True):
        # These statements take milliseconds; compiling them would take a second.
        await conn.execute("SET LOCAL jit = off")
        names = {r["id"]: r["name"] for r in await conn.fetch("SELECT id, name FROM campaigns")}
        if campaign_id is not None and campaign_id not in names:
            raise CampaignNotFound(f"no campaign {campaign_id}")
        names[NO_CAMPAIGN] = NO_CAMPAIGN_NAME
        args = (period.start, period.end, campaign_id)
        window_start = period.midnight(period.first_day - timedelta(days=ROLLING_DAYS - 1))
        by_day = await conn.fetch(_BY_DAY, window_start, period.end, campaign_id, period.zone)
        hours = [HourFigures(r["local_hour"], _calls(r))
                 for r in await conn.fetch(_BY_HOUR, *args)]
        promised: dict[int, list[tuple[str, Decimal]]] = {}
        for r in await conn.fetch(_PROMISED, *args):
            promised.setdefault(r["campaign_id"], []).append((r["currency"], r["amount"]))
        recovered, recovered_total = await _recovered(conn, args)
        start, end = min(period.start, now), min(period.end, now)
        agents = _agents(await conn.fetch(_AGENT_MARKS, start, end), (start, end))
    calls: dict[int, CallCounts] = {}
    statuses: dict[int, dict[str, int]] = {}
    for r in by_day:
        if r["day"] < period.first_day:
            continue
        campaign = r["campaign_id"]
        calls[campaign] = calls.get(campaign, CallCounts()) + _calls(r)
        counted = statuses.setdefault(campaign, {})
        for column, status in STATUS_COLUMNS.items():
            counted[status] = counted.get(status, 0) + int(r[column])
    promises = {c: PromiseCounts({s: n for s, n in statuses.get(c, {}).items() if n},
                                 money(promised.get(c, ())))
                for c in set(statuses) | set(promised)}
    daily = {(r["campaign_id"], r["day"]): (r["live"], r["abandoned"]) for r in by_day}
    # Campaigns by id, the calls outside any campaign last.
    shown = sorted(set(calls) | set(promises) | set(recovered)
                   | ({campaign_id} if campaign_id is not None else set()),
                   key=lambda c: (c == NO_CAMPAIGN, c))
    campaigns = tuple(
        CampaignFigures(c, names.get(c, str(c)), calls.get(c, CallCounts()),
                        promises.get(c, PromiseCounts()), money(recovered.get(c, ())))
        for c in shown)
    total = CampaignFigures(
        None, "all", sum((c.calls for c in campaigns), CallCounts()),
        sum((c.promises for c in campaigns), PromiseCounts()), money(recovered_total))
    return Report(period, campaign_id, now, campaigns, total,
                  tuple(sorted(hours, key=lambda h: h.hour)),
                  tuple(rolling_days(daily, period.days())), agents)


def _calls(row: asyncpg.Record) -> CallCounts:
    return CallCounts(**{f.name: int(row[f.name]) for f in fields(CallCounts)})


async def _recovered(conn: asyncpg.Connection, args: tuple[datetime, datetime, int | None]
                     ) -> tuple[dict[int, list[tuple[str, Decimal]]], list[tuple[str, Decimal]]]:
    by_campaign: dict[int, list[tuple[str, Decimal]]] = {}
    for r in await conn.fetch(_RECOVERED, *args):
        by_campaign.setdefault(r["campaign_id"], []).append((r["currency"], r["amount"]))
    total = by_campaign.pop(ANY_CAMPAIGN, [])
    if args[2] is not None:  # with one campaign, its payments are the total
        total = by_campaign.get(args[2], [])
    return by_campaign, total


def _agents(rows: Sequence[asyncpg.Record],
            ends: tuple[datetime, datetime]) -> tuple[AgentFigures, ...]:
    at_ends: dict[str, list[tuple[int, int, int]]] = {}
    for r in rows:
        values = at_ends.setdefault(r["agent_id"], [(0, 0, 0), (0, 0, 0)])
        values[r["n"]] = agent_time_at(r["status"], r["at"], (
            r["logged_in_us"], r["on_call_us"], r["wrap_up_us"]), ends[r["n"]])
    agents = [AgentFigures(a, *(end - start for start, end in zip(*v, strict=True)))
              for a, v in sorted(at_ends.items())]
    agents = [a for a in agents if a.logged_in_us]
    if not agents:
        return ()
    total = AgentFigures("", sum(a.logged_in_us for a in agents),
                         sum(a.on_call_us for a in agents), sum(a.wrap_up_us for a in agents))
    return (*agents, total)


async def recent_abandons(pool: asyncpg.Pool, now: datetime,
                          days: int = ROLLING_DAYS) -> dict[int, tuple[int, int]]:
    """Per campaign, (live answers, abandoned) of the calls made in the `days` days up to
    `now` (from the quarter hour `days` days before now's), as the rollups hold them."""
    rows = await pool.fetch(
        "SELECT campaign_id, sum(live)::bigint AS live, sum(abandoned)::bigint AS abandoned"
        " FROM analytics_calls WHERE bucket >= analytics_bucket($1) GROUP BY campaign_id",
        now - timedelta(days=days))
    return {r["campaign_id"]: (r["live"], r["abandoned"]) for r in rows}
