"""What the voice bot reads and writes: the facts it speaks, each turn's transcript
(encrypted), the call's structured outcome and what follows from it (a promise with its
follow-up, an agent task, a callback to schedule, an opt-out on the do-not-call list) in
one transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import asyncpg

from db.crypto import PiiCipher
from db.debtors import NAME_PURPOSE
from db.opt_out import add_opt_out
from db.pool import connection, transaction

TRANSCRIPT_PURPOSE = "bot.transcript"
AGENT_REASONS = frozenset({"hardship", "dispute", "handoff_request"})


@dataclass(frozen=True, slots=True)
class DebtorFacts:
    debtor_id: int
    name: str
    language: str
    timezone: str
    amount_due: Decimal
    currency: str
    overdue_days: int
    due_date: date | None


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    kind: str
    identity: str | None
    promise_amount: Decimal | None
    promise_date: date | None
    callback_at: datetime | None
    follow_up_at: datetime | None  # for a promise: when to look for the payment


@dataclass(frozen=True, slots=True)
class TurnRow:
    seq: int
    node: str
    prompt: str | None
    heard: str | None
    intent: str | None
    at: datetime


class BotRepository:
    def __init__(self, pool: asyncpg.Pool, cipher: PiiCipher) -> None:
        self._pool = pool
        self._cipher = cipher

    async def facts(self, debtor_id: int) -> DebtorFacts:
        """The debtor's name (decrypted, to be spoken to them) and the debt totals."""
        async with connection(self._pool) as conn:
            row = await conn.fetchrow(
                """
                SELECT d.name_enc, d.name_key_id, d.language, d.timezone,
                       coalesce(sum(t.amount_due), 0) AS amount_due,
                       coalesce(min(t.currency), 'CNY') AS currency,
                       coalesce(max(t.overdue_days), 0) AS overdue_days,
                       min(t.due_date) AS due_date
                FROM debtors d LEFT JOIN debts t ON t.debtor_id = d.id
                WHERE d.id = $1
                GROUP BY d.id
                """,
                debtor_id,
            )
        if row is None:
            raise LookupError(f"debtor {debtor_id} does not exist")
        name = ""
        if row["name_enc"] is not None:
            name = self._cipher.decrypt(row["name_enc"], row["name_key_id"], purpose=NAME_PURPOSE)
        return DebtorFacts(
            debtor_id=debtor_id,
            name=name,
            language=row["language"],
            timezone=row["timezone"],
            amount_due=row["amount_due"],
            currency=row["currency"],
            overdue_days=row["overdue_days"],
            due_date=row["due_date"],
        )

    async def record_turn(
        self,
        attempt_id: uuid.UUID,
        seq: int,
        node: str,
        prompt: str | None,
        heard: str | None,
        intent: str | None,
        at: datetime,
    ) -> None:
        encrypt = self._cipher.encryptor(TRANSCRIPT_PURPOSE)
        async with connection(self._pool) as conn:
            await conn.execute(
                """
                INSERT INTO bot_turns (attempt_id, seq, node, prompt_enc, heard_enc, key_id,
                                       intent, at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                """,
                attempt_id,
                seq,
                node,
                None if prompt is None else encrypt(prompt),
                None if heard is None else encrypt(heard),
                self._cipher.active_key_id,
                intent,
                at,
            )

    async def turns(self, attempt_id: uuid.UUID) -> list[TurnRow]:
        """The decrypted transcript (callers that show it to a person audit the read)."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "SELECT * FROM bot_turns WHERE attempt_id = $1 ORDER BY seq", attempt_id
            )

        def text(blob: bytes | None, key_id: str) -> str | None:
            if blob is None:
                return None
            return self._cipher.decrypt(blob, key_id, purpose=TRANSCRIPT_PURPOSE)

        return [
            TurnRow(
                seq=row["seq"],
                node=row["node"],
                prompt=text(row["prompt_enc"], row["key_id"]),
                heard=text(row["heard_enc"], row["key_id"]),
                intent=row["intent"],
                at=row["at"],
            )
            for row in rows
        ]

    async def set_recording(self, attempt_id: uuid.UUID, path: str) -> None:
        async with connection(self._pool) as conn:
            await conn.execute("UPDATE attempts SET recording = $2 WHERE id = $1", attempt_id, path)

    async def record_outcome(
        self,
        attempt_id: uuid.UUID,
        facts: DebtorFacts,
        script: str,
        outcome: OutcomeRecord,
    ) -> None:
        """The outcome and its consequences, all or nothing."""
        async with transaction(self._pool) as conn:
            await conn.execute(
                """
                INSERT INTO call_outcomes (attempt_id, debtor_id, script, kind, identity,
                                           promise_amount, promise_date, callback_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (attempt_id) DO NOTHING
                """,
                attempt_id,
                facts.debtor_id,
                script,
                outcome.kind,
                outcome.identity,
                outcome.promise_amount,
                outcome.promise_date,
                outcome.callback_at,
            )
            if outcome.kind == "machine":
                await conn.execute("UPDATE attempts SET machine = true WHERE id = $1", attempt_id)
            if outcome.identity is not None:
                await conn.execute(
                    "UPDATE attempts SET right_party = $2 WHERE id = $1",
                    attempt_id,
                    outcome.identity == "confirmed",
                )
            if outcome.kind == "promise" and outcome.promise_date is not None:
                if outcome.follow_up_at is None:
                    raise ValueError("a promise needs its follow-up time")
                await conn.execute(
                    """
                    INSERT INTO promises (debtor_id, attempt_id, amount, currency, due_date,
                                          follow_up_at)
                    VALUES ($1, $2, $3, $4, $5, $6)
                    ON CONFLICT (attempt_id, due_date) DO NOTHING
                    """,
                    facts.debtor_id,
                    attempt_id,
                    outcome.promise_amount or facts.amount_due,
                    facts.currency,
                    outcome.promise_date,
                    outcome.follow_up_at,
                )
            if outcome.kind in AGENT_REASONS:
                await conn.execute(
                    "INSERT INTO agent_tasks (debtor_id, attempt_id, reason) VALUES ($1, $2, $3)",
                    facts.debtor_id,
                    attempt_id,
                    outcome.kind,
                )
            if outcome.kind == "callback" and outcome.callback_at is not None:
                # For the callback scheduler, which dials through the compliance gate.
                await conn.execute(
                    """
                    INSERT INTO callbacks (debtor_id, attempt_id, due_at, source)
                    VALUES ($1, $2, $3, 'bot')
                    ON CONFLICT (attempt_id) WHERE source = 'bot' DO NOTHING
                    """,
                    facts.debtor_id,
                    attempt_id,
                    outcome.callback_at,
                )
            if outcome.kind == "opt_out":
                await add_opt_out(conn, facts.debtor_id, f"asked the bot on call {attempt_id}")
