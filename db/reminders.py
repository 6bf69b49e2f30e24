"""The reminders' bookkeeping: which open promises may get one, claiming a promise before
its SMS is sent (so no two runs send it), the number to send to, and the result.

A promise is a candidate while it is open, has no reminder (or only one the gateway
refused), and its debtor has not opted out, ceased contact or named an attorney. Only
the debtor's own numbers are used (never a third party's), the first by rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import asyncpg

from db.crypto import PiiCipher
from db.debtors import PHONE_PURPOSE
from db.pool import connection, transaction

CHANNEL_SMS = "sms"
RESULTS = ("sent", "failed", "unknown", "no_phone")


@dataclass(frozen=True, slots=True)
class Candidate:
    promise_id: int
    debtor_id: int
    due_date: date
    amount: Decimal
    currency: str
    created_at: datetime
    timezone: str
    language: str


@dataclass(frozen=True, slots=True)
class OwnPhone:
    id: int
    masked: str
    number: str


def reminder_reference(promise_id: int) -> str:
    """Stable per promise: the gateway may drop a repeat by it."""
    return f"huilong-reminder-{promise_id}"


async def candidates(pool: asyncpg.Pool, *, around: date, days_before: int) -> list[Candidate]:
    """Open promises due from the day before `around` to `days_before` + 1 days after it:
    a superset for every zone (a debtor's date is within a day of `around`); the caller
    decides per debtor with engine.followup.reminders.reminder_due."""
    async with connection(pool) as conn:
        rows = await conn.fetch(
            """
            SELECT p.id, p.debtor_id, p.due_date, p.amount, p.currency, p.created_at,
                   d.timezone, d.language
            FROM promises p
            JOIN debtors d ON d.id = p.debtor_id
            LEFT JOIN promise_reminders r ON r.promise_id = p.id
            WHERE p.status = 'open'
              AND (r.promise_id IS NULL OR r.status = 'failed')
              AND NOT (d.opted_out OR d.cease OR d.attorney)
              AND p.due_date BETWEEN $1::date AND $2::date
            ORDER BY p.debtor_id, p.due_date, p.id
            """,
            around - timedelta(days=1), around + timedelta(days=days_before + 1))
    return [Candidate(r["id"], r["debtor_id"], r["due_date"], r["amount"], r["currency"],
                      r["created_at"], r["timezone"], r["language"]) for r in rows]


async def claim(pool: asyncpg.Pool, promise_id: int, now: datetime) -> bool:
    """Take the promise's reminder for this run (committed before anything is sent);
    False when another run has it or it already went out."""
    async with transaction(pool) as conn:
        tries = await conn.fetchval(
            """
            INSERT INTO promise_reminders (promise_id, channel, reference, status, claimed_at)
            VALUES ($1, $2, $3, 'sending', $4)
            ON CONFLICT (promise_id) DO UPDATE
            SET status = 'sending', tries = promise_reminders.tries + 1,
                claimed_at = excluded.claimed_at, error = NULL
            WHERE promise_reminders.status = 'failed'
            RETURNING tries
            """,
            promise_id, CHANNEL_SMS, reminder_reference(promise_id), now)
    return tries is not None


async def own_phone(pool: asyncpg.Pool, cipher: PiiCipher, debtor_id: int,
                    allowed: Sequence[int] | None = None) -> OwnPhone | None:
    """The debtor's first own number (among `allowed` phone ids if given), decrypted to
    be sent to (and never logged)."""
    async with connection(pool) as conn:
        row = await conn.fetchrow(
            "SELECT id, phone_enc, key_id, masked FROM debtor_phones"
            " WHERE debtor_id = $1 AND owner = 'self'"
            " AND ($2::bigint[] IS NULL OR id = ANY($2::bigint[]))"
            " ORDER BY rank, id LIMIT 1", debtor_id, None if allowed is None else list(allowed))
    if row is None:
        return None
    number = cipher.decrypt(row["phone_enc"], row["key_id"], purpose=PHONE_PURPOSE)
    return OwnPhone(row["id"], row["masked"], number)


async def finish(pool: asyncpg.Pool, promise_id: int, result: str, *, now: datetime,
                 phone_id: int | None = None, error: str | None = None) -> None:
    if result not in RESULTS:
        raise ValueError(f"result must be one of {RESULTS}, got {result!r}")
    async with transaction(pool) as conn:
        await conn.execute(
            "UPDATE promise_reminders SET status = $2, phone_id = $3, error = $4,"
            " sent_at = CASE WHEN $2 = 'sent' THEN $5::timestamptz END"
            " WHERE promise_id = $1 AND status = 'sending'",
            promise_id, result, phone_id, error, now)


async def promise_campaign(pool: asyncpg.Pool, promise_id: int) -> int | None:
    """The campaign of the call where the promise was made (its rules apply)."""
    async with connection(pool) as conn:
        value = await conn.fetchval(
            "SELECT a.campaign_id FROM promises p JOIN attempts a ON a.id = p.attempt_id"
            " WHERE p.id = $1", promise_id)
    return None if value is None else int(value)
