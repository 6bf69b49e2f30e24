"""What the agent desk reads and writes: the screen pop of a bridged call, and the
agent's promises (one, or an instalment plan) for it.

An agent sees only calls bridged to them: every read and write checks the attempt's
`agent_connected` event names the agent. The pop shows the debtor masked; reading the
bot's transcript (it may repeat personal data) is audited in pii_audit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg

from db.bot import BotRepository, TurnRow
from db.crypto import PiiCipher, mask_name
from db.errors import DbError
from db.pool import connection, transaction

FOLLOW_UP_HOUR = 20  # the evening of the promised day, in the debtor's zone
MAX_PLAN_DAYS = 366
MAX_INSTALMENTS = 24


class NotYourCall(DbError):
    """The call was not bridged to this agent (or does not exist)."""


class PlanError(ValueError):
    """A promise or plan that cannot be accepted; the message names the field."""


@dataclass(frozen=True, slots=True)
class Pop:
    attempt_id: uuid.UUID
    debtor_id: int
    name: str  # masked
    amount_due: Decimal
    currency: str
    overdue_days: int
    due_date: date | None
    transcript: list[TurnRow]
    bot_outcome: str | None
    promises: list[tuple[date, Decimal, str]]  # (due, amount, status), this debtor's


@dataclass(frozen=True, slots=True)
class Instalment:
    due_date: date
    amount: Decimal


def check_plan(instalments: list[Instalment], today: date, amount_due: Decimal) -> None:
    """Dates in the future (from tomorrow to a year ahead), strictly increasing; amounts
    positive with at most 2 decimals; the total not above what is owed."""
    if not instalments:
        raise PlanError("a plan needs at least one instalment")
    if len(instalments) > MAX_INSTALMENTS:
        raise PlanError(f"at most {MAX_INSTALMENTS} instalments")
    previous: date | None = None
    for n, item in enumerate(instalments, 1):
        if item.amount <= 0 or item.amount.as_tuple().exponent < -2:  # type: ignore[operator]
            raise PlanError(f"instalment {n}: amount must be positive, at most 2 decimals")
        if not today < item.due_date <= today + timedelta(days=MAX_PLAN_DAYS):
            raise PlanError(f"instalment {n}: date must lie between tomorrow and a year ahead")
        if previous is not None and item.due_date <= previous:
            raise PlanError(f"instalment {n}: dates must increase")
        previous = item.due_date
    total = sum((i.amount for i in instalments), Decimal(0))
    if amount_due > 0 and total > amount_due:
        raise PlanError(f"the plan's total {total} is more than the {amount_due} owed")


class DeskRepository:
    def __init__(self, pool: asyncpg.Pool, cipher: PiiCipher) -> None:
        self._pool = pool
        self._bot = BotRepository(pool, cipher)

    async def agent_of(self, attempt_id: uuid.UUID) -> str | None:
        async with connection(self._pool) as conn:
            value = await conn.fetchval(
                "SELECT detail->>'agent' FROM call_events WHERE attempt_id = $1"
                " AND kind = 'agent_connected' ORDER BY at DESC LIMIT 1", attempt_id)
        return None if value is None else str(value)

    async def _debtor_of(self, attempt_id: uuid.UUID, agent_id: str) -> int:
        if await self.agent_of(attempt_id) != agent_id:
            raise NotYourCall(f"call {attempt_id} was not bridged to agent {agent_id}")
        async with connection(self._pool) as conn:
            return int(await conn.fetchval("SELECT debtor_id FROM attempts WHERE id = $1",
                                           attempt_id))

    async def pop(self, attempt_id: uuid.UUID, agent_id: str) -> Pop:
        debtor_id = await self._debtor_of(attempt_id, agent_id)
        facts = await self._bot.facts(debtor_id)
        transcript = await self._bot.turns(attempt_id)
        async with transaction(self._pool) as conn:
            if transcript:
                await conn.execute(
                    "INSERT INTO pii_audit (actor, action, subject, field, reason)"
                    " VALUES ($1, 'read', $2, 'bot.transcript', 'screen pop of a bridged call')",
                    f"agent:{agent_id}", f"attempt:{attempt_id}")
            outcome = await conn.fetchval(
                "SELECT kind FROM call_outcomes WHERE attempt_id = $1", attempt_id)
            rows = await conn.fetch(
                "SELECT due_date, amount, status FROM promises WHERE debtor_id = $1"
                " ORDER BY due_date", debtor_id)
        return Pop(attempt_id, debtor_id, mask_name(facts.name), facts.amount_due,
                   facts.currency, facts.overdue_days, facts.due_date, transcript,
                   outcome, [(r["due_date"], r["amount"], r["status"]) for r in rows])

    async def save_plan(self, attempt_id: uuid.UUID, agent_id: str,
                        instalments: list[Instalment], now: datetime) -> int:
        """The agent's promise(s) for this call, each followed up on the evening of its
        date in the debtor's zone. PlanError when the plan does not hold."""
        debtor_id = await self._debtor_of(attempt_id, agent_id)
        facts = await self._bot.facts(debtor_id)
        zone = ZoneInfo(facts.timezone)
        check_plan(instalments, now.astimezone(zone).date(), facts.amount_due)
        async with transaction(self._pool) as conn:
            for item in instalments:
                follow_up = datetime.combine(item.due_date, time(FOLLOW_UP_HOUR), zone)
                await conn.execute(
                    "INSERT INTO promises (debtor_id, attempt_id, amount, currency, due_date,"
                    " follow_up_at, agent_id) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    " ON CONFLICT (attempt_id, due_date) DO UPDATE SET amount = $3,"
                    " follow_up_at = $6, agent_id = $7",
                    debtor_id, attempt_id, item.amount, facts.currency, item.due_date,
                    follow_up, agent_id)
        return len(instalments)
