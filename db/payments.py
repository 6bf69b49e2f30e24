"""Recording payments, from a file or the webhook: find the debtor, insert by reference,
and say for every payment what happened.

Idempotent by the bank's reference: `INSERT … ON CONFLICT (reference) DO NOTHING`, then
the payments that were not inserted are compared with what is stored under their
reference: the same debtor, amount, currency and instant is a duplicate (a replay:
nothing written), anything else a conflict (nothing overwritten). A reference written by
another transaction at the same moment is waited for by the insert, and so classified
like any other. A date-only payment is 00:00 of that day in the debtor's time zone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

import asyncpg

from db.pool import transaction

SOURCES = ("file", "api")
IMPORT_KIND = "payments"

_INSERT = """
INSERT INTO payments (debtor_id, reference, amount, currency, paid_at, source, import_run_id)
SELECT u.debtor_id, u.reference, u.amount, u.currency, u.paid_at, $6, $7
FROM unnest($1::bigint[], $2::text[], $3::numeric[], $4::text[], $5::timestamptz[])
     AS u(debtor_id, reference, amount, currency, paid_at)
ON CONFLICT (reference) DO NOTHING
RETURNING id, reference
"""


class Outcome(StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    UNKNOWN_DEBTOR = "unknown_debtor"

    @property
    def accepted(self) -> bool:
        return self in (Outcome.CREATED, Outcome.DUPLICATE)


@dataclass(frozen=True, slots=True)
class NewPayment:
    reference: str
    external_id: str
    amount: Decimal
    currency: str
    paid_at: datetime | None  # timezone-aware; or
    paid_on: date | None  # a date alone: the day in the debtor's zone

    def __post_init__(self) -> None:
        if (self.paid_at is None) == (self.paid_on is None):
            raise ValueError("a payment has either paid_at or paid_on")
        if self.paid_at is not None and self.paid_at.utcoffset() is None:
            raise ValueError("paid_at must be timezone-aware")
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite() or self.amount <= 0:
            raise ValueError("amount must be a positive Decimal")


@dataclass(frozen=True, slots=True)
class Recorded:
    reference: str
    outcome: Outcome
    payment_id: int | None  # the stored payment (new or earlier); None for unknown debtors
    detail: str = ""  # what differs, for a conflict


@dataclass(frozen=True, slots=True)
class BatchResult:
    recorded: tuple[Recorded, ...]
    committed: bool


async def record_payments(
    conn: asyncpg.Connection,
    payments: Sequence[NewPayment],
    *,
    source: str,
    import_run_id: int | None = None,
) -> list[Recorded]:
    """Record `payments` on `conn` (inside the caller's transaction); one result each, in
    order. References should be unique within the batch (a repeat is compared with the
    first, like a replay)."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if not payments:
        return []
    resolved = await _resolve(conn, payments)
    inserted = await _insert(conn, payments, resolved, source, import_run_id)
    repeated = {ref for ref, n in Counter(p.reference for p in payments).items() if n > 1}
    stored = await _stored(conn, {
        payments[i].reference for i in resolved
        if payments[i].reference not in inserted or payments[i].reference in repeated})
    results: list[Recorded] = []
    for position, payment in enumerate(payments):
        reference = payment.reference
        if position not in resolved:
            results.append(Recorded(reference, Outcome.UNKNOWN_DEBTOR, None,
                                    "no debtor with this external_id"))
        elif reference in inserted:
            results.append(Recorded(reference, Outcome.CREATED, inserted.pop(reference)))
        else:
            row = stored[reference]  # the insert skipped it only because this row exists
            differs = _differences(row, *resolved[position], payment)
            results.append(Recorded(
                reference, Outcome.CONFLICT, int(row["id"]),
                f"reference already recorded (payment {row['id']}) with another "
                f"{', '.join(differs)}") if differs
                else Recorded(reference, Outcome.DUPLICATE, int(row["id"])))
    return results


async def _resolve(conn: asyncpg.Connection,
                   payments: Sequence[NewPayment]) -> dict[int, tuple[int, datetime]]:
    """Position -> (debtor id, paid_at in UTC) of each payment whose debtor exists."""
    debtors = {
        row["external_id"]: (int(row["id"]), str(row["timezone"]))
        for row in await conn.fetch(
            "SELECT external_id, id, timezone FROM debtors WHERE external_id = ANY($1::text[])",
            sorted({p.external_id for p in payments}))
    }
    resolved = {}
    for position, payment in enumerate(payments):
        found = debtors.get(payment.external_id)
        if found is not None:
            resolved[position] = (found[0], _instant(payment, found[1]))
    return resolved


async def _insert(conn: asyncpg.Connection, payments: Sequence[NewPayment],
                  resolved: dict[int, tuple[int, datetime]], source: str,
                  import_run_id: int | None) -> dict[str, int]:
    """Reference -> id of the payments this statement inserted."""
    columns: tuple[list[object], ...] = ([], [], [], [], [])
    for position, (debtor_id, paid_at) in resolved.items():
        payment = payments[position]
        values = (debtor_id, payment.reference, payment.amount, payment.currency, paid_at)
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    rows = await conn.fetch(_INSERT, *columns, source, import_run_id)
    return {row["reference"]: int(row["id"]) for row in rows}


async def _stored(conn: asyncpg.Connection, references: set[str]) -> dict[str, asyncpg.Record]:
    if not references:
        return {}
    rows = await conn.fetch(
        "SELECT id, reference, debtor_id, amount, currency, paid_at FROM payments"
        " WHERE reference = ANY($1::text[])", sorted(references))
    return {row["reference"]: row for row in rows}


def _instant(payment: NewPayment, timezone: str) -> datetime:
    if payment.paid_at is not None:
        return payment.paid_at.astimezone(UTC)
    assert payment.paid_on is not None
    return datetime.combine(payment.paid_on, time(0), ZoneInfo(timezone)).astimezone(UTC)


def _differences(row: asyncpg.Record, debtor_id: int, paid_at: datetime,
                 payment: NewPayment) -> list[str]:
    differs = []
    if row["debtor_id"] != debtor_id:
        differs.append("debtor")
    if row["amount"] != payment.amount:
        differs.append("amount")
    if row["currency"] != payment.currency:
        differs.append("currency")
    if row["paid_at"] != paid_at:
        differs.append("paid_at")
    return differs


class PaymentRepository:
    """The webhook's way in: one request, one transaction."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record_batch(self, payments: Sequence[NewPayment]) -> BatchResult:
        """All or nothing: committed only when every payment is new or a duplicate; the
        results say which were not (a conflict, an unknown debtor)."""
        recorded: list[Recorded] = []
        try:
            async with transaction(self._pool) as conn:
                recorded = await record_payments(conn, payments, source="api")
                if not all(r.outcome.accepted for r in recorded):
                    raise _Refused
        except _Refused:
            return BatchResult(tuple(recorded), committed=False)
        return BatchResult(tuple(recorded), committed=True)


class _Refused(Exception):
    """Rolls the webhook's transaction back."""


async def start_import_run(conn: asyncpg.Connection, *, file_name: str, encoding: str,
                           started_at: datetime) -> int:
    """The run's row, first, so its payments can point at it; counts come at the end."""
    return int(await conn.fetchval(
        "INSERT INTO import_runs (kind, file_name, encoding, started_at)"
        " VALUES ($1, $2, $3, $4) RETURNING id",
        IMPORT_KIND, file_name, encoding, started_at))


async def finish_import_run(conn: asyncpg.Connection, run_id: int, *, accepted: int,
                            unchanged: int, rejected: int) -> None:
    await conn.execute(
        "UPDATE import_runs SET finished_at = clock_timestamp(), accepted = $2,"
        " unchanged = $3, rejected = $4 WHERE id = $1",
        run_id, accepted, unchanged, rejected)
