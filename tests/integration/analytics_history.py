"""A small hand-made history for the analytics tests: calls of a bot campaign, an agent
campaign and outside any campaign (answered or not, by machines, abandoned, still going,
just before and at the edges of the range, in the 30 days before it), the bot's outcomes,
promises in two currencies and every status, payments before and after promises and
outside the range, and two agents' state logs (one still logged in)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from db.agents import AgentRepository
from engine.agents.phones import digest_credential

REALM = "huilong"
ZONES = {1: "Asia/Shanghai", 2: "America/New_York", 3: "Asia/Kolkata", 4: "Asia/Shanghai"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Call:
    """One attempt as the dialer, the bot and the desk leave it."""

    campaign: int | None
    debtor: int
    created: str  # UTC
    answer_s: float | None = None  # after created; None: not answered
    talk_s: float | None = None  # after the answer; None: not ended
    machine: bool = False
    abandoned: bool = False
    right_party: bool | None = None
    outcome: str | None = None  # the bot's
    agent: str | None = None  # agent_connected
    promises: tuple[tuple[str, str, str], ...] = ()  # (amount, currency, status)


CALLS = {
    # campaign 1, the bot's
    "a1": Call(1, 1, "2024-06-01 02:00", 5, 120, right_party=True, outcome="promise",
               promises=(("500.00", "CNY", "kept"),)),
    "a2": Call(1, 1, "2024-06-01 03:10"),
    "a3": Call(1, 2, "2024-06-02 14:00", 4, 20, machine=True, outcome="machine"),
    "a4": Call(1, 2, "2024-06-02 14:30", 6, 45, right_party=False, outcome="wrong_party"),
    "a5": Call(1, 3, "2024-06-03 04:45", 3, 200.5, right_party=True, outcome="hardship",
               agent="1002"),
    "a6": Call(1, 4, "2024-06-03 05:00", 2, 90, right_party=True, outcome="promise",
               promises=(("300.00", "CNY", "kept"), ("300.00", "CNY", "broken"),
                         ("100.00", "CNY", "partly_kept"))),
    "a7": Call(1, 1, "2024-06-04 01:00", 8),  # still talking
    "a8": Call(1, 2, "2024-06-05 13:00", 5, 30, outcome="no_response"),
    "a9": Call(1, 4, "2024-06-06 02:00", 3, 60, right_party=True, outcome="promise",
               promises=(("200.00", "USD", "open"), ("999.00", "CNY", "cancelled"))),
    "a10": Call(1, 1, "2024-05-31 15:59:59.999999", 2, 10),  # 23:59 local: the day before
    "a11": Call(1, 1, "2024-06-07 16:00", 2, 10),  # midnight local: the end, not included
    "a12": Call(1, 1, "2024-05-10 02:00", 2, 10),
    "a13": Call(1, 1, "2024-04-01 02:00", 2, 50, right_party=True, outcome="promise",
                promises=(("80.00", "CNY", "kept"),)),
    # campaign 2, agents
    "b1": Call(2, 1, "2024-06-01 06:00", 4, 300, right_party=True, agent="1001",
               promises=(("1000.00", "CNY", "kept"),)),
    "b2": Call(2, 2, "2024-06-02 15:00", 3, 8, abandoned=True),
    "b3": Call(2, 3, "2024-06-02 05:00", 3, 100, right_party=True, agent="1002"),
    "b4": Call(2, 4, "2024-06-05 03:00"),
    "b5": Call(2, 4, "2024-06-05 03:20", 2, 9, abandoned=True),
    "b6": Call(2, 2, "2024-05-20 14:00", 2, 9, abandoned=True),
    "b7": Call(2, 4, "2024-06-06 07:00", 3, 4, machine=True),
    # outside any campaign
    "n1": Call(None, 3, "2024-06-04 09:00", 2, 15, right_party=True),
}

PAYMENTS = [  # (debtor, amount, currency, paid_at)
    (1, "600.00", "CNY", "2024-06-02 00:00"),
    (1, "100.00", "CNY", "2024-05-15 00:00"),
    (4, "250.00", "CNY", "2024-06-02 00:00"),  # before the debtor's first promise
    (4, "300.00", "CNY", "2024-06-04 00:00"),
    (2, "50.00", "USD", "2024-06-03 00:00"),  # no promise at all
    (4, "200.00", "USD", "2024-06-07 17:00"),  # after the range
    (4, "70.00", "USD", "2024-06-07 10:00"),
    (1, "40.00", "CNY", "2024-06-01 04:00"),  # after a1's promise, before b1's
]

AGENT_LOG = [
    ("1001", "ready", "2024-05-31 15:00"), ("1001", "reserved", "2024-06-01 06:00:05"),
    ("1001", "on_call", "2024-06-01 06:00:07"), ("1001", "wrap_up", "2024-06-01 06:05:07"),
    ("1001", "ready", "2024-06-01 06:06:07"), ("1001", "paused", "2024-06-01 10:00"),
    ("1001", "ready", "2024-06-01 10:30"), ("1001", "offline", "2024-06-01 12:00"),
    ("1001", "ready", "2024-06-07 15:00"),  # still logged in: until the end of the range
    ("1002", "ready", "2024-06-02 05:00"), ("1002", "on_call", "2024-06-02 05:00:03"),
    ("1002", "wrap_up", "2024-06-02 05:01:43"), ("1002", "ready", "2024-06-02 05:02:13"),
    ("1002", "offline", "2024-06-02 09:00"),
]


async def settle_columns(pool: asyncpg.Pool) -> bool:
    """Whether promises have migration 0008's settlement columns (required when settled)."""
    return bool(await pool.fetchval(
        "SELECT count(*) FROM information_schema.columns"
        " WHERE table_name = 'promises' AND column_name = 'settled_on'"))


async def set_status(pool: asyncpg.Pool, promise_id: int, status: str) -> None:
    """As the settlement would leave it (with migration 0008, settled rows say when and
    what was paid, the others nothing)."""
    if not await settle_columns(pool):
        await pool.execute("UPDATE promises SET status = $2 WHERE id = $1", promise_id, status)
    elif status in ("kept", "partly_kept", "broken"):
        await pool.execute(
            "UPDATE promises SET status = $2, paid_amount = 0, settled_on = due_date,"
            " settled_at = created_at + interval '7 days' WHERE id = $1", promise_id, status)
    else:
        await pool.execute("UPDATE promises SET status = $2, paid_amount = NULL,"
                           " settled_on = NULL, settled_at = NULL WHERE id = $1",
                           promise_id, status)


async def add_call(pool: asyncpg.Pool, call: Call) -> uuid.UUID:
    attempt = uuid.uuid4()
    created = at(call.created)
    answered = created + timedelta(seconds=call.answer_s) if call.answer_s is not None else None
    ended = (answered + timedelta(seconds=call.talk_s) if answered and call.talk_s is not None
             else None if answered else created + timedelta(seconds=30))
    await pool.execute(
        "INSERT INTO attempts (id, campaign_id, debtor_id, phone_id, state, created_at)"
        " VALUES ($1, $2, $3, $3, 'intent', $4)", attempt, call.campaign, call.debtor, created)
    await pool.execute(
        "UPDATE attempts SET state = $2, disposition = $3, answered_at = $4, ended_at = $5,"
        " machine = $6, abandoned = $7, right_party = $8 WHERE id = $1", attempt,
        "final" if ended else "answered", ("answered" if answered else "no_answer")
        if ended else None, answered, ended, call.machine, call.abandoned, call.right_party)
    if call.outcome is not None:
        await pool.execute(
            "INSERT INTO call_outcomes (attempt_id, debtor_id, script, kind) VALUES ($1, $2,"
            " 'zh', $3)", attempt, call.debtor, call.outcome)
    if call.agent is not None:
        await pool.execute(
            "INSERT INTO call_events (attempt_id, at, kind, detail) VALUES ($1, $2,"
            " 'agent_connected', $3::jsonb)", attempt, answered,
            json.dumps({"agent": call.agent, "latency_ms": 700}))
    for n, (amount, currency, status) in enumerate(call.promises):
        assert answered is not None
        promise_id = await pool.fetchval(
            "INSERT INTO promises (debtor_id, attempt_id, amount, currency, due_date,"
            " follow_up_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            call.debtor, attempt, Decimal(amount), currency,
            created.date() + timedelta(days=3 + n), created + timedelta(days=3 + n),
            answered + timedelta(seconds=10))
        if status != "open":
            await set_status(pool, promise_id, status)
    return attempt


async def has_source(pool: asyncpg.Pool) -> bool:  # migration 0008's column
    return bool(await pool.fetchval(
        "SELECT count(*) FROM information_schema.columns"
        " WHERE table_name = 'payments' AND column_name = 'source'"))


async def seed(db_pool: asyncpg.Pool) -> dict[str, uuid.UUID]:
    """The history above, and the payments table if migration 0008 is absent (with the
    columns the report reads; the rollup follows it as it would follow 0008's)."""
    if await db_pool.fetchval("SELECT to_regclass('payments')") is None:
        await db_pool.execute(
            "CREATE TABLE payments (debtor_id bigint, reference text, amount numeric(14, 2),"
            " currency text, paid_at timestamptz)")
        await db_pool.execute("SELECT analytics_follow_payments()")
    accounts = AgentRepository(db_pool)
    for agent_id, role in (("1001", "agent"), ("1002", "agent"), ("1900", "supervisor")):
        await accounts.add(agent_id, f"Agent {agent_id}", REALM,
                           digest_credential(agent_id, REALM, "pw"), role)
    await db_pool.execute("INSERT INTO campaigns (id, name) VALUES (1, '春季 bot'),"
                          " (2, '=agents'), (3, 'idle')")
    for debtor, zone in ZONES.items():
        await db_pool.execute(
            "INSERT INTO debtors (id, external_id, timezone) VALUES ($1, $2, $3)",
            debtor, f"D{debtor}", zone)
        await db_pool.execute(
            "INSERT INTO debtor_phones (id, debtor_id, phone_enc, phone_bidx, key_id, masked)"
            " VALUES ($1, $1, '\\x00', int8send($1), 'k', '+86***')", debtor)
    attempts = {name: await add_call(db_pool, call) for name, call in CALLS.items()}
    for n, (debtor, amount, currency, paid) in enumerate(PAYMENTS):
        await db_pool.execute(
            "INSERT INTO payments (debtor_id, reference, amount, currency, paid_at"
            + (", source) VALUES ($1, $2, $3, $4, $5, 'api')"
               if await has_source(db_pool) else ") VALUES ($1, $2, $3, $4, $5)"),
            debtor, f"P{n}", Decimal(amount), currency, at(paid))
    await db_pool.executemany(
        "INSERT INTO agent_state_log (agent_id, status, at) VALUES ($1, $2, $3)",
        [(a, s, at(t)) for a, s, t in AGENT_LOG])
    return attempts
