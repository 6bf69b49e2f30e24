"""Bringing the analytics rollups (migration 0009) up to date with the raw tables.

Triggers queue the keys whose raw rows changed — (campaign, quarter hour) of attempts,
debtors with promises, an agent's log from some time on — and `refresh` recomputes them
from the raw tables (quarter hours in ranges per campaign, db.analytics_model.spans), one
batch per transaction: the batch's queue rows are deleted and its rollup rows rewritten
together, so a failure leaves the queue as it was. Refreshes are serialised by an advisory
lock (two would otherwise write the same rollup keys).

A queue row written by a transaction that commits after the batch's DELETE is not seen by
that DELETE, so it stays queued for the next refresh: nothing changed is ever missed.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from db.analytics_model import NO_CAMPAIGN, spans
from db.pool import transaction

REFRESH_LOCK_KEY = 0x48_4C_41_4E_41_4C_59  # "HLANALY": any fixed number, the same everywhere
BATCH_ROWS = 2000  # queue rows per transaction

# The attempts of one campaign ($1; 0: no campaign) created in [$2, $3).
_SPAN = {
    False: "a.campaign_id = $1 AND a.created_at >= $2 AND a.created_at < $3",
    True: "$1::bigint = 0 AND a.campaign_id IS NULL AND a.created_at >= $2"
          " AND a.created_at < $3",
}

_DELETE_SPAN = [
    "DELETE FROM analytics_calls WHERE campaign_id = $1 AND bucket >= $2 AND bucket < $3",
    "DELETE FROM analytics_promises WHERE campaign_id = $1 AND bucket >= $2 AND bucket < $3",
]

# The definitions of docs/metrics.md, per attempt, then summed.
_INSERT_CALLS = """
INSERT INTO analytics_calls (campaign_id, bucket, local_hour, attempts, answered, live,
    machine, talk_calls, talk_us, right_party, promise_calls, abandoned, bot_person,
    bot_contained, promises_open, promises_kept, promises_partly_kept, promises_broken,
    promises_cancelled)
SELECT $1, bucket, local_hour, count(*), count(*) FILTER (WHERE answered),
       count(*) FILTER (WHERE live), count(*) FILTER (WHERE answered AND machine),
       count(*) FILTER (WHERE live AND ended),
       coalesce(sum(talk_us) FILTER (WHERE live AND ended), 0),
       count(*) FILTER (WHERE rpc), count(*) FILTER (WHERE rpc AND promised),
       count(*) FILTER (WHERE live AND abandoned),
       count(*) FILTER (WHERE bot_person),
       count(*) FILTER (WHERE bot_person AND resolved AND NOT to_agent),
       sum(open), sum(kept), sum(partly_kept), sum(broken), sum(cancelled)
FROM (
    SELECT analytics_bucket(a.created_at) AS bucket,
           extract(hour FROM a.created_at AT TIME ZONE d.timezone)::smallint AS local_hour,
           a.answered_at IS NOT NULL AS answered, a.machine,
           a.answered_at IS NOT NULL AND NOT a.machine AS live,
           a.ended_at IS NOT NULL AS ended,
           (extract(epoch FROM a.ended_at - a.answered_at) * 1000000)::bigint AS talk_us,
           a.answered_at IS NOT NULL AND NOT a.machine AND a.right_party IS TRUE AS rpc,
           a.abandoned,
           pc.open + pc.kept + pc.partly_kept + pc.broken > 0 AS promised,
           pc.open, pc.kept, pc.partly_kept, pc.broken, pc.cancelled,
           a.answered_at IS NOT NULL AND NOT a.machine AND o.kind IS NOT NULL
               AND o.kind <> 'machine' AS bot_person,
           coalesce(o.kind IN ('promise', 'callback', 'refusal', 'wrong_party', 'opt_out'),
                    false) AS resolved,
           EXISTS (SELECT 1 FROM call_events e WHERE e.attempt_id = a.id
                   AND e.kind = 'agent_connected') AS to_agent
    FROM attempts a
    JOIN debtors d ON d.id = a.debtor_id
    LEFT JOIN call_outcomes o ON o.attempt_id = a.id
    -- Per attempt (an index lookup each): a join would scan every promise when the
    -- planner misjudges the span, as it does for the last day (not in its statistics yet).
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE p.status = 'open') AS open,
               count(*) FILTER (WHERE p.status = 'kept') AS kept,
               count(*) FILTER (WHERE p.status = 'partly_kept') AS partly_kept,
               count(*) FILTER (WHERE p.status = 'broken') AS broken,
               count(*) FILTER (WHERE p.status = 'cancelled') AS cancelled
        FROM promises p WHERE p.attempt_id = a.id
    ) pc
    WHERE {span}
) per_attempt
GROUP BY bucket, local_hour
"""

_INSERT_PROMISES = """
INSERT INTO analytics_promises (campaign_id, bucket, currency, amount)
SELECT $1, analytics_bucket(a.created_at), pa.currency, sum(pa.amount)
FROM attempts a
CROSS JOIN LATERAL (SELECT p.currency, sum(p.amount) AS amount FROM promises p
                    WHERE p.attempt_id = a.id AND p.status <> 'cancelled'
                    GROUP BY p.currency) pa
WHERE {span}
GROUP BY 2, 3
"""

_PROMISERS = [
    "DELETE FROM analytics_promisers WHERE debtor_id = ANY($1::bigint[])",
    """INSERT INTO analytics_promisers (debtor_id, campaign_id, since)
       SELECT p.debtor_id, coalesce(a.campaign_id, 0), min(p.created_at)
       FROM promises p JOIN attempts a ON a.id = p.attempt_id
       WHERE p.debtor_id = ANY($1::bigint[]) AND p.status <> 'cancelled'
       GROUP BY 1, 2""",
]

# Payments of the debtors whose promisers rows were just rewritten.
_QUEUE_DEBTOR_PAYMENTS = """
INSERT INTO analytics_dirty_payments (bucket)
SELECT DISTINCT analytics_bucket(paid_at) FROM payments WHERE debtor_id = ANY($1::bigint[])
"""

# Payments paid in [$1, $2), for each campaign their debtor promised in before, and once
# for any campaign (-1).
_RECOVERED = [
    "DELETE FROM analytics_recovered WHERE bucket >= $1 AND bucket < $2",
    """INSERT INTO analytics_recovered (campaign_id, bucket, currency, amount)
       SELECT r.campaign_id, analytics_bucket(p.paid_at), p.currency, sum(p.amount)
       FROM payments p
       JOIN analytics_promisers r ON r.debtor_id = p.debtor_id AND r.since <= p.paid_at
       WHERE p.paid_at >= $1 AND p.paid_at < $2
       GROUP BY 1, 2, 3""",
    """INSERT INTO analytics_recovered (campaign_id, bucket, currency, amount)
       SELECT -1, analytics_bucket(p.paid_at), p.currency, sum(p.amount)
       FROM payments p
       WHERE p.paid_at >= $1 AND p.paid_at < $2
         AND EXISTS (SELECT 1 FROM analytics_promisers r
                     WHERE r.debtor_id = p.debtor_id AND r.since <= p.paid_at)
       GROUP BY 1, 2, 3""",
]

_DELETE_MARKS = "DELETE FROM analytics_agent_marks WHERE agent_id = $1 AND at >= $2"

# The agent's rows from $2 on, counted on from the last mark before $2 (the anchor, whose
# counts only depend on earlier rows): each row adds the time of the row before it.
_INSERT_MARKS = """
INSERT INTO analytics_agent_marks (log_id, agent_id, at, status, logged_in_us, on_call_us,
                                   wrap_up_us)
SELECT id, $1, at, status, li0 + sum(li) OVER w, oc0 + sum(oc) OVER w, wu0 + sum(wu) OVER w
FROM (
    SELECT id, at, status, anchor,
           coalesce(max(li0) OVER (), 0) AS li0, coalesce(max(oc0) OVER (), 0) AS oc0,
           coalesce(max(wu0) OVER (), 0) AS wu0,
           CASE WHEN lag(status) OVER p <> 'offline' THEN gap ELSE 0 END AS li,
           CASE WHEN lag(status) OVER p = 'on_call' THEN gap ELSE 0 END AS oc,
           CASE WHEN lag(status) OVER p = 'wrap_up' THEN gap ELSE 0 END AS wu
    FROM (
        SELECT *, (extract(epoch FROM at - lag(at) OVER (ORDER BY at, id)) * 1000000)::bigint
                  AS gap
        FROM (
            (SELECT log_id AS id, at, status, true AS anchor, logged_in_us AS li0,
                    on_call_us AS oc0, wrap_up_us AS wu0
             FROM analytics_agent_marks WHERE agent_id = $1 AND at < $2
             ORDER BY at DESC, log_id DESC LIMIT 1)
            UNION ALL
            SELECT id, at, status, false, NULL, NULL, NULL
            FROM agent_state_log WHERE agent_id = $1 AND at >= $2
        ) rows
    ) gaps
    WINDOW p AS (ORDER BY at, id)
) counted
WHERE NOT anchor
WINDOW w AS (ORDER BY at, id)
ON CONFLICT (log_id) DO UPDATE SET agent_id = excluded.agent_id, at = excluded.at,
    status = excluded.status, logged_in_us = excluded.logged_in_us,
    on_call_us = excluded.on_call_us, wrap_up_us = excluded.wrap_up_us
"""


async def refresh(pool: asyncpg.Pool, *, batch_rows: int = BATCH_ROWS) -> int:
    """Drain the queues; return how many queue rows were processed."""
    done = 0
    # Debtors before payments: rewriting a debtor's promisers queues their payments.
    for step in (_refresh_calls, _refresh_debtors, _refresh_payments, _refresh_agents):
        while True:
            async with transaction(pool) as conn:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", REFRESH_LOCK_KEY)
                # Compiling a plan costs more than these statements save (about 1 s per
                # statement); and each span has its own size, so each gets its own plan.
                await conn.execute("SET LOCAL jit = off;"
                                   " SET LOCAL plan_cache_mode = force_custom_plan")
                taken = await step(conn, batch_rows)
            done += taken
            if taken < batch_rows:
                break
    return done


async def _take(conn: asyncpg.Connection, queue: str, columns: str,
                limit: int) -> list[asyncpg.Record]:
    # In key order, so a batch holds neighbouring keys that recompute as few ranges.
    rows: list[asyncpg.Record] = await conn.fetch(
        f"DELETE FROM {queue} WHERE ctid = ANY(ARRAY("
        f"SELECT ctid FROM {queue} ORDER BY {columns} LIMIT $1)) RETURNING {columns}", limit)
    return rows


async def _refresh_calls(conn: asyncpg.Connection, limit: int) -> int:
    rows = await _take(conn, "analytics_dirty_calls", "campaign_id, bucket", limit)
    for campaign, lo, hi in spans((r["campaign_id"], r["bucket"]) for r in rows):
        span = _SPAN[campaign == NO_CAMPAIGN]
        for statement in (*_DELETE_SPAN, _INSERT_CALLS.format(span=span),
                          _INSERT_PROMISES.format(span=span)):
            await conn.execute(statement, campaign, lo, hi)
    return len(rows)


async def _refresh_debtors(conn: asyncpg.Connection, limit: int) -> int:
    rows = await _take(conn, "analytics_dirty_debtors", "debtor_id", limit)
    debtors = sorted({r["debtor_id"] for r in rows})
    if debtors:
        for statement in _PROMISERS:
            await conn.execute(statement, debtors)
        if await _has_payments(conn):
            await conn.execute(_QUEUE_DEBTOR_PAYMENTS, debtors)
    return len(rows)


async def _refresh_payments(conn: asyncpg.Connection, limit: int) -> int:
    rows = await _take(conn, "analytics_dirty_payments", "bucket", limit)
    if rows and await _has_payments(conn):
        for _, lo, hi in spans((0, r["bucket"]) for r in rows):
            for statement in _RECOVERED:
                await conn.execute(statement, lo, hi)
    return len(rows)


async def _has_payments(conn: asyncpg.Connection) -> bool:
    # The table comes with migration 0008 (analytics_follow_payments follows it then).
    return await conn.fetchval("SELECT to_regclass('payments') IS NOT NULL") is True


async def _refresh_agents(conn: asyncpg.Connection, limit: int) -> int:
    rows = await _take(conn, "analytics_dirty_agents", "agent_id, since", limit)
    since: dict[str, datetime] = {}
    for r in rows:
        since[r["agent_id"]] = min(r["since"], since.get(r["agent_id"], r["since"]))
    for agent_id, first in sorted(since.items()):
        await conn.execute(_DELETE_MARKS, agent_id, first)
        await conn.execute(_INSERT_MARKS, agent_id, first)
    return len(rows)
