"""The counts behind best time to call, from the raw attempts: per debtor segment and hour
of week in the debtor's own zone, the finished dials, live answers and right-party
contacts (as docs/metrics.md defines them); and the mix of debtors a campaign still has
to call, which the pacing estimators' starting value is weighed by.

The table itself is fitted by the pure `predictive.best_time`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from db.pool import connection
from predictive.best_time import (
    BestTimeTable,
    Counts,
    HourCounts,
    Segment,
    Shrinkage,
    fit_best_time,
)

DEFAULT_LOOKBACK = timedelta(days=90)

# Hour of week in the debtor's zone at the moment the call was placed (originated_at):
# the hour the phone rang. Only finished attempts count, so a call still ringing is not
# taken for one nobody answered; attempts that were never placed (no originated_at) are
# not dials. The created_at bounds only let the (campaign_id, created_at) index narrow
# the scan: an attempt is created moments before it is placed, a day is ample margin.
_COUNTS_SQL = """
WITH placed AS (
    SELECT d.segment, a.originated_at AT TIME ZONE d.timezone AS local,
           a.answered_at IS NOT NULL AND NOT a.machine AS live, a.right_party
    FROM attempts a JOIN debtors d ON d.id = a.debtor_id
    WHERE a.state = 'final'
      AND a.originated_at >= $1 AND a.originated_at < $2
      AND a.created_at >= $1 - interval '1 day' AND a.created_at < $2
      AND ($3::bigint IS NULL OR a.campaign_id = $3))
SELECT segment,
       ((extract(isodow FROM local)::int - 1) * 24 + extract(hour FROM local)::int)
           AS hour_of_week,
       count(*) AS attempts,
       count(*) FILTER (WHERE live) AS live,
       count(*) FILTER (WHERE live AND right_party) AS right_party
FROM placed
GROUP BY 1, 2
"""

_PENDING_MIX_SQL = """
SELECT d.segment, d.timezone, count(*) AS debtors
FROM campaign_targets t JOIN debtors d ON d.id = t.debtor_id
WHERE t.campaign_id = $1 AND t.status = 'pending'
GROUP BY 1, 2
"""


async def fetch_hour_counts(pool: asyncpg.Pool, *, campaign_id: int | None = None,
                            lookback: timedelta = DEFAULT_LOOKBACK,
                            now: datetime | None = None) -> Counts:
    """Counts per (segment, hour of week) of the attempts placed in [now − lookback, now),
    of one campaign or all (None). `now`: the database clock unless given (aware)."""
    async with connection(pool) as conn:
        end = now if now is not None else await conn.fetchval("SELECT now()")
        rows = await conn.fetch(_COUNTS_SQL, end - lookback, end, campaign_id)
    return {(row["segment"], row["hour_of_week"]):
            HourCounts(row["attempts"], row["live"], row["right_party"]) for row in rows}


async def load_best_time(pool: asyncpg.Pool, *, campaign_id: int | None = None,
                         lookback: timedelta = DEFAULT_LOOKBACK, now: datetime | None = None,
                         shrinkage: Shrinkage | None = None) -> BestTimeTable:
    """The best-time table of the last `lookback` (90 days by default) of one campaign's
    calls, or of every campaign's (None: more data, when campaigns call alike).
    `shrinkage`: the prior strengths, estimated from the data by default."""
    counts = await fetch_hour_counts(pool, campaign_id=campaign_id, lookback=lookback, now=now)
    return fit_best_time(counts, shrinkage or Shrinkage())


async def pending_mix(pool: asyncpg.Pool, campaign_id: int) -> dict[tuple[Segment, str], float]:
    """(segment, zone) → debtors still pending in the campaign: the mix to weigh
    `predictive.best_time.answer_prior` by."""
    async with connection(pool) as conn:
        rows = await conn.fetch(_PENDING_MIX_SQL, campaign_id)
    return {(row["segment"], row["timezone"]): float(row["debtors"]) for row in rows}
