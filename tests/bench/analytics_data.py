"""The analytics benchmark's data and its baseline.

`fill` loads months of history with generate_series (one INSERT … SELECT per table):
debtors (nine in ten in Shanghai, one in New York), campaigns (odd ids: the voice bot,
even ids: agents), attempts through the calling day, outcomes, promises settled by age,
payments for the kept ones, a final event per call plus agent_connected for agent calls,
and the agents' state log (a login and logout per day, four states per call). The rollup
triggers are off during the load, as for history that predates migration 0009; the
rollups are then built the way the migration does it (queue everything, refresh).

`baseline` asks the same questions straight of the raw tables, without the rollups and
without the indexes 0009 adds (dropped inside the transaction, then rolled back).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import asyncpg


async def ensure_payments(conn: asyncpg.Connection) -> None:
    """Migration 0008's table, with the columns the report reads, if 0008 is not there."""
    if await conn.fetchval("SELECT to_regclass('payments')") is None:
        await conn.execute("CREATE TABLE payments (debtor_id bigint, reference text,"
                           " amount numeric(14, 2), currency text, paid_at timestamptz)")
        await conn.execute("SELECT analytics_follow_payments()")


TRIGGERED = ("attempts", "call_outcomes", "promises", "call_events", "agent_state_log",
             "debtors", "payments")
OUR_INDEXES = ("call_events_agent_connected_idx", "promises_debtor_idx", "payments_paid_at_idx")
KINDS = "ARRAY['promise','refusal','callback','wrong_party','no_response','hardship'," \
        "'dispute','incomplete','opt_out']"

ATTEMPTS_SQL = """
INSERT INTO attempts (id, campaign_id, debtor_id, phone_id, state, disposition, created_at,
                      answered_at, ended_at, machine, abandoned, right_party)
SELECT gen_random_uuid(), c, d, d, 'final', CASE WHEN ans THEN 'answered' ELSE 'no_answer' END,
       t, CASE WHEN ans THEN t + interval '15 seconds' END,
       CASE WHEN ans THEN t + interval '15 seconds' + talk * interval '1 second'
            ELSE t + interval '30 seconds' END,
       ans AND mach, ans AND NOT mach AND c % 2 = 0 AND r1 < 0.03,
       CASE WHEN NOT ans OR mach THEN NULL WHEN r2 < 0.7 THEN true WHEN r2 < 0.8 THEN false END
FROM (SELECT 1 + g % $3 AS c, 1 + (g * 7919) % $4 AS d,
             $5::timestamptz + (g * $6 / $7) * interval '1 day'
                 + random() * interval '13 hours' AS t,
             random() < 0.35 AS ans, random() < 0.2 AS mach, 10 + random() * 290 AS talk,
             random() AS r1, random() AS r2
      FROM generate_series($1::bigint, $2::bigint) g) x
"""

_OUTCOMES = f"""
INSERT INTO call_outcomes (attempt_id, debtor_id, script, kind, recorded_at)
SELECT id, debtor_id, 'zh',
       CASE WHEN machine THEN 'machine' ELSE ({KINDS})[1 + floor(random() * 9)::int] END,
       ended_at
FROM attempts WHERE campaign_id % 2 = 1 AND answered_at IS NOT NULL
"""

# Settled by age: a promise older than a fortnight before the end is kept, partly kept,
# broken or cancelled; a recent one is still open.
_PROMISES = """
INSERT INTO promises (debtor_id, attempt_id, amount, currency, due_date, follow_up_at, status,
                      created_at {settle_columns})
SELECT debtor_id, id, amount, 'CNY', due, due + interval '20 hours', status, ended_at
       {settle_values}
FROM (SELECT a.*, (100 + floor(random() * 5000))::numeric(14, 2) AS amount,
             (a.ended_at + interval '7 days')::date AS due,
             CASE WHEN a.created_at > $1::timestamptz - interval '14 days' THEN 'open'
                  WHEN r < 0.5 THEN 'kept' WHEN r < 0.65 THEN 'partly_kept'
                  WHEN r < 0.97 THEN 'broken' ELSE 'cancelled' END AS status
      FROM (SELECT *, random() AS r FROM attempts) a
      WHERE answered_at IS NOT NULL AND NOT machine AND right_party AND random() < 0.2) p
"""

_PAYMENTS = """
INSERT INTO payments (debtor_id, reference, amount, currency, paid_at {source})
SELECT debtor_id, 'P' || id, CASE WHEN status = 'kept' THEN amount ELSE amount / 2 END,
       'CNY', due_date + interval '12 hours' {source_value}
FROM promises WHERE status IN ('kept', 'partly_kept')
"""

_EVENTS = """
INSERT INTO call_events (attempt_id, at, kind, detail)
SELECT id, ended_at, 'final', '{}' FROM attempts;
INSERT INTO call_events (attempt_id, at, kind, detail)
SELECT id, answered_at + interval '1 second', 'agent_connected',
       jsonb_build_object('agent', (1000 + abs(hashtext(id::text)) % $1)::text,
                          'latency_ms', 700)
FROM attempts
WHERE campaign_id % 2 = 0 AND answered_at IS NOT NULL AND NOT machine AND NOT abandoned;
"""

_AGENTS = """
INSERT INTO agents (agent_id, display_name, realm, md5_cred)
SELECT (1000 + g)::text, 'Agent ' || g, 'huilong', md5(g::text)
FROM generate_series(0, $1 - 1) g;
INSERT INTO agent_state_log (agent_id, status, at)
SELECT (1000 + g)::text, s.status, $2::timestamptz + d * interval '1 day' + s.offset_
FROM generate_series(0, $1 - 1) g, generate_series(0, $3 - 1) d,
     (VALUES ('ready', interval '0 hours'), ('offline', interval '13 hours 30 minutes'))
         AS s(status, offset_);
INSERT INTO agent_state_log (agent_id, status, call_id, at)
SELECT e.detail->>'agent', s.status, e.attempt_id::text, s.at
FROM call_events e JOIN attempts a ON a.id = e.attempt_id
CROSS JOIN LATERAL (VALUES ('reserved', a.answered_at), ('on_call', e.at),
                           ('wrap_up', a.ended_at),
                           ('ready', a.ended_at + interval '30 seconds')) AS s(status, at)
WHERE e.kind = 'agent_connected';
"""


async def _columns(conn: asyncpg.Connection, table: str) -> set[str]:
    rows = await conn.fetch("SELECT column_name FROM information_schema.columns"
                            " WHERE table_name = $1", table)
    return {r["column_name"] for r in rows}


@asynccontextmanager
async def _bulk_load(conn: asyncpg.Connection, tables: tuple[str, ...]) -> AsyncIterator[None]:
    """Without the tables' foreign keys, secondary indexes and rollup triggers while loading,
    then with them again (each rebuilt or checked in one pass, which is much faster than row
    by row; the keys are checked when added back)."""
    keys = await conn.fetch(
        "SELECT conrelid::regclass::text AS tab, conname, pg_get_constraintdef(oid) AS def"
        " FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY($1)",
        list(tables))
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY($1) AND indexname"
        " NOT IN (SELECT conname FROM pg_constraint)", list(tables))
    for key in keys:
        await conn.execute(f"ALTER TABLE {key['tab']} DROP CONSTRAINT {key['conname']}")
    for index in indexes:
        await conn.execute(f"DROP INDEX {index['indexname']}")
    for table in TRIGGERED:
        await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    yield
    for table in TRIGGERED:
        await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    for index in indexes:
        await conn.execute(index["indexdef"])
    for key in keys:
        await conn.execute(f"ALTER TABLE {key['tab']} ADD CONSTRAINT {key['conname']}"
                           f" {key['def']}")


async def fill(conn: asyncpg.Connection, *, attempts: int, campaigns: int, agents: int,
               start: datetime, days: int) -> None:
    await ensure_payments(conn)
    async with _bulk_load(conn, ("attempts", "call_outcomes", "promises", "payments",
                                 "call_events", "agent_state_log")):
        await _fill(conn, attempts=attempts, campaigns=campaigns, agents=agents, start=start,
                    days=days)
    await conn.execute("ANALYZE")


async def _fill(conn: asyncpg.Connection, *, attempts: int, campaigns: int, agents: int,
                start: datetime, days: int) -> None:
    debtors = max(1, attempts // 10)
    await conn.execute(
        "INSERT INTO campaigns (id, name) SELECT g, 'campaign ' || g"
        " FROM generate_series(1, $1) g", campaigns)
    await conn.execute(
        "INSERT INTO debtors (id, external_id, timezone) SELECT g, 'D' || g,"
        " CASE WHEN g % 10 = 0 THEN 'America/New_York' ELSE 'Asia/Shanghai' END"
        " FROM generate_series(1, $1) g", debtors)
    await conn.execute(
        "INSERT INTO debtor_phones (id, debtor_id, phone_enc, phone_bidx, key_id, masked)"
        " SELECT g, g, '\\x00', int8send(g), 'k', '+86***' FROM generate_series(1, $1) g",
        debtors)
    chunk = 1_000_000
    for low in range(0, attempts, chunk):
        await conn.execute(ATTEMPTS_SQL, low, min(low + chunk, attempts) - 1, campaigns, debtors,
                           start, days, attempts)
    await conn.execute(_OUTCOMES)
    settled = "settled_on" in await _columns(conn, "promises")
    end = start + timedelta(days=days)
    await conn.execute(_PROMISES.format(
        settle_columns=", paid_amount, settled_on, settled_at" if settled else "",
        settle_values=(", CASE WHEN status IN ('kept','partly_kept','broken') THEN amount END,"
                       " CASE WHEN status IN ('kept','partly_kept','broken') THEN due END,"
                       " CASE WHEN status IN ('kept','partly_kept','broken')"
                       " THEN due + interval '1 day' END") if settled else ""), end)
    source = "source" in await _columns(conn, "payments")
    await conn.execute(_PAYMENTS.format(source=", source" if source else "",
                                        source_value=", 'api'" if source else ""))
    await conn.execute(_EVENTS.replace("$1", str(int(agents))))
    await conn.execute(_AGENTS.replace("$1", str(int(agents))).replace("$3", str(int(days)))
                       .replace("$2", f"'{start.isoformat()}'"))


_SUMS = """
count(*) AS attempts, count(*) FILTER (WHERE answered) AS answered,
count(*) FILTER (WHERE live) AS live, count(*) FILTER (WHERE answered AND machine) AS machine,
count(*) FILTER (WHERE live AND ended) AS talk_calls,
coalesce(sum(talk_us) FILTER (WHERE live AND ended), 0)::bigint AS talk_us,
count(*) FILTER (WHERE rpc) AS right_party, count(*) FILTER (WHERE rpc AND promised)
    AS promise_calls, count(*) FILTER (WHERE live AND abandoned) AS abandoned,
count(*) FILTER (WHERE bot_person) AS bot_person,
count(*) FILTER (WHERE bot_person AND resolved AND NOT to_agent) AS bot_contained
"""

_PER_ATTEMPT = """
SELECT coalesce(a.campaign_id, 0) AS campaign_id, a.created_at, d.timezone,
       a.answered_at IS NOT NULL AS answered, a.machine,
       a.answered_at IS NOT NULL AND NOT a.machine AS live, a.ended_at IS NOT NULL AS ended,
       (extract(epoch FROM a.ended_at - a.answered_at) * 1000000)::bigint AS talk_us,
       a.answered_at IS NOT NULL AND NOT a.machine AND a.right_party IS TRUE AS rpc,
       a.abandoned,
       EXISTS (SELECT 1 FROM promises p WHERE p.attempt_id = a.id
               AND p.status <> 'cancelled') AS promised,
       a.answered_at IS NOT NULL AND NOT a.machine AND o.kind IS NOT NULL
           AND o.kind <> 'machine' AS bot_person,
       coalesce(o.kind IN ('promise', 'callback', 'refusal', 'wrong_party', 'opt_out'),
                false) AS resolved,
       EXISTS (SELECT 1 FROM call_events e WHERE e.attempt_id = a.id
               AND e.kind = 'agent_connected') AS to_agent
FROM attempts a JOIN debtors d ON d.id = a.debtor_id
LEFT JOIN call_outcomes o ON o.attempt_id = a.id
WHERE a.created_at >= $1 AND a.created_at < $2
  AND ($3::bigint IS NULL OR a.campaign_id = $3)
"""

BASELINE = {
    "calls": f"SELECT campaign_id, {_SUMS} FROM ({_PER_ATTEMPT}) x GROUP BY 1",
    "hours": f"""SELECT extract(hour FROM created_at AT TIME ZONE timezone) AS hour,
                 {_SUMS} FROM ({_PER_ATTEMPT}) x GROUP BY 1""",
    "days": f"""SELECT campaign_id, (created_at AT TIME ZONE $4)::date AS day,
                count(*) FILTER (WHERE live) AS live,
                count(*) FILTER (WHERE live AND abandoned) AS abandoned
                FROM ({_PER_ATTEMPT}) x GROUP BY 1, 2""",
    "promises": """SELECT coalesce(a.campaign_id, 0), p.currency, p.status, count(*),
                   sum(p.amount)
                   FROM promises p JOIN attempts a ON a.id = p.attempt_id
                   WHERE a.created_at >= $1 AND a.created_at < $2
                     AND ($3::bigint IS NULL OR a.campaign_id = $3) GROUP BY 1, 2, 3""",
    "recovered": """SELECT p.currency, sum(p.amount) FROM payments p
                    WHERE p.paid_at >= $1 AND p.paid_at < $2
                      AND EXISTS (SELECT 1 FROM promises r JOIN attempts a
                                  ON a.id = r.attempt_id
                                  WHERE r.debtor_id = p.debtor_id AND r.status <> 'cancelled'
                                    AND r.created_at <= p.paid_at
                                    AND ($3::bigint IS NULL OR a.campaign_id = $3))
                    GROUP BY 1""",
    "agents": """SELECT agent_id, status, sum(extract(epoch FROM
                     least(coalesce(next_at, $3), $2) - greatest(at, $1)))
                 FROM (SELECT agent_id, status, at, lead(at) OVER (PARTITION BY agent_id
                       ORDER BY at, id) AS next_at FROM agent_state_log) s
                 WHERE status <> 'offline' AND at < $2 AND coalesce(next_at, $3) > $1
                 GROUP BY 1, 2""",
}


async def baseline(conn: asyncpg.Connection, start: datetime, end: datetime,
                   window_start: datetime, zone: str, campaign: int | None,
                   now: datetime) -> dict[str, list[asyncpg.Record]]:
    """Every figure from the raw tables, in one transaction rolled back (it drops the
    indexes 0009 added, so the planner cannot use them)."""
    out: dict[str, list[asyncpg.Record]] = {}
    tr = conn.transaction()
    await tr.start()
    try:
        for index in OUR_INDEXES:
            await conn.execute(f"DROP INDEX {index}")
        out["calls"] = await conn.fetch(BASELINE["calls"], start, end, campaign)
        out["hours"] = await conn.fetch(BASELINE["hours"], start, end, campaign)
        out["days"] = await conn.fetch(BASELINE["days"], window_start, end, campaign, zone)
        out["promises"] = await conn.fetch(BASELINE["promises"], start, end, campaign)
        out["recovered"] = await conn.fetch(BASELINE["recovered"], start, end, campaign)
        out["agents"] = await conn.fetch(BASELINE["agents"], start, end, now)
    finally:
        await tr.rollback()
    return out
