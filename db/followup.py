"""Settling promises in the database, one transaction per debtor, with the pure rules of
engine.followup.settle.

Per debtor, under a lock on the debtor's row (two runs at once queue, and the second
finds nothing left to do): read the open promises and what is left of each payment
(its amount minus what settled promises took), settle them as of the debtor's local
date, then for each promise that is now final: its status, paid amount and dates, the
payments it took (`promise_settlements`), and for a broken one a follow-up request
(`followups`, kind 'broken_promise', for the scheduler: a bot reminder first, then an
agent). The debtor's history follows: `broken_promises` grows by the newly broken (the
imported count is the base), `on_time_ratio` becomes kept ÷ settled over the promises
settled here, and `facts_changed_at` moves so the segmentation picks the debtor up.
Running it again changes nothing: final outcomes are never revisited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import asyncpg

from db.pool import connection, transaction
from engine.followup.settle import (
    OpenPromise,
    Payment,
    Settlement,
    Status,
    on_time_ratio,
    settle,
)

DEBTOR_BATCH = 1000
FOLLOWUP_BROKEN = "broken_promise"
FOLLOWUP_PARTLY = "partly_kept"


@dataclass(frozen=True, slots=True)
class DebtorState:
    """What settling one debtor reads: their zone, open promises, payments' remainders."""

    timezone: str
    promises: tuple[OpenPromise, ...]
    payments: tuple[Payment, ...]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class DebtorSettled:
    debtor_id: int
    kept: int = 0
    partly_kept: int = 0
    broken: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.kept or self.partly_kept or self.broken)


@dataclass(slots=True)
class SettleReport:
    debtors: int = 0  # with open promises, looked at
    kept: int = 0
    partly_kept: int = 0
    broken: int = 0  # each one re-queued
    changed_debtor_ids: list[int] = field(default_factory=list)

    def add(self, settled: DebtorSettled) -> None:
        self.debtors += 1
        self.kept += settled.kept
        self.partly_kept += settled.partly_kept
        self.broken += settled.broken
        if settled.changed:
            self.changed_debtor_ids.append(settled.debtor_id)


async def settle_promises(pool: asyncpg.Pool, *, grace_days: int, as_of: date | None,
                          now: datetime) -> SettleReport:
    """Settle every debtor with open promises. `as_of` is the local date to settle at
    in every debtor's zone (default: `now` in each debtor's zone)."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    report = SettleReport()
    after = 0
    while True:
        async with connection(pool) as conn:
            ids = [row["debtor_id"] for row in await conn.fetch(
                "SELECT DISTINCT debtor_id FROM promises WHERE status = 'open'"
                " AND debtor_id > $1 ORDER BY debtor_id LIMIT $2", after, DEBTOR_BATCH)]
        if not ids:
            return report
        for debtor_id in ids:
            report.add(await settle_debtor(pool, debtor_id, grace_days=grace_days,
                                           as_of=as_of, now=now))
        after = ids[-1]


async def settle_debtor(pool: asyncpg.Pool, debtor_id: int, *, grace_days: int,
                        as_of: date | None, now: datetime) -> DebtorSettled:
    async with transaction(pool) as conn:
        timezone = await conn.fetchval(
            "SELECT timezone FROM debtors WHERE id = $1 FOR UPDATE", debtor_id)
        if timezone is None:
            return DebtorSettled(debtor_id)
        state = await load_state(conn, debtor_id, timezone)
        today = as_of or now.astimezone(state.zone).date()
        finals = [s for s in settle(state.promises, state.payments, zone=state.zone,
                                    as_of=today, grace_days=grace_days) if s.status.final]
        if not finals:
            return DebtorSettled(debtor_id)
        await _record(conn, debtor_id, finals, now)
    return DebtorSettled(
        debtor_id,
        kept=sum(1 for s in finals if s.status is Status.KEPT),
        partly_kept=sum(1 for s in finals if s.status is Status.PARTLY_KEPT),
        broken=sum(1 for s in finals if s.status is Status.BROKEN))


async def load_state(conn: asyncpg.Connection, debtor_id: int, timezone: str) -> DebtorState:
    promises = await conn.fetch(
        "SELECT id, due_date, amount, currency, created_at FROM promises"
        " WHERE debtor_id = $1 AND status = 'open'", debtor_id)
    payments = await conn.fetch(
        """
        SELECT p.id, p.paid_at, p.currency, p.amount - coalesce(sum(s.amount), 0) AS left_over
        FROM payments p LEFT JOIN promise_settlements s ON s.payment_id = p.id
        WHERE p.debtor_id = $1
        GROUP BY p.id
        HAVING p.amount - coalesce(sum(s.amount), 0) > 0
        """, debtor_id)
    return DebtorState(
        timezone,
        tuple(OpenPromise(r["id"], r["due_date"], r["amount"], r["currency"], r["created_at"])
              for r in promises),
        tuple(Payment(r["id"], r["paid_at"], r["left_over"], r["currency"]) for r in payments))


async def _record(conn: asyncpg.Connection, debtor_id: int, finals: Sequence[Settlement],
                  now: datetime) -> None:
    status = await conn.execute(
        """
        UPDATE promises p SET status = u.status, paid_amount = u.paid, settled_on = u.settled_on,
                              settled_at = $5
        FROM unnest($1::bigint[], $2::text[], $3::numeric[], $4::date[])
             AS u(id, status, paid, settled_on)
        WHERE p.id = u.id AND p.status = 'open'
        """,
        [s.promise_id for s in finals], [s.status.value for s in finals],
        [s.paid for s in finals], [s.settled_on for s in finals], now)
    if int(status.split()[-1]) != len(finals):
        # The debtor's row lock makes this impossible for settlement runs; anything else
        # changing a promise meanwhile must not leave half an outcome behind.
        raise RuntimeError(f"debtor {debtor_id}: a promise changed during its settlement")
    allocations = [a for s in finals for a in s.allocations]
    if allocations:
        await conn.execute(
            "INSERT INTO promise_settlements (promise_id, payment_id, amount)"
            " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::numeric[])",
            [a.promise_id for a in allocations], [a.payment_id for a in allocations],
            [a.amount for a in allocations])
    broken = [s.promise_id for s in finals if s.status is Status.BROKEN]
    # A partly kept promise leaves a shortfall: followed up like a broken one, but it
    # does not count as broken in the debtor's history.
    for kind, ids in ((FOLLOWUP_BROKEN, broken), (FOLLOWUP_PARTLY, [
            s.promise_id for s in finals if s.status is Status.PARTLY_KEPT])):
        if ids:
            await conn.execute(
                "INSERT INTO followups (debtor_id, promise_id, kind, due_at)"
                " SELECT $1, u.id, $3, $4 FROM unnest($2::bigint[]) AS u(id)"
                " ON CONFLICT (promise_id, kind) DO NOTHING",
                debtor_id, ids, kind, now)
    statuses = [Status(r["status"]) for r in await conn.fetch(
        "SELECT status FROM promises WHERE debtor_id = $1"
        " AND status IN ('kept', 'partly_kept', 'broken')", debtor_id)]
    await conn.execute(
        "UPDATE debtors SET broken_promises = broken_promises + $2, on_time_ratio = $3,"
        " facts_changed_at = $4, updated_at = $4 WHERE id = $1",
        debtor_id, len(broken), on_time_ratio(statuses), now)



async def covered_promises(conn: asyncpg.Connection, debtor_id: int, zone: ZoneInfo,
                           today: date, grace_days: int) -> set[int]:
    """The debtor's open promises the payments so far already cover (nothing written):
    no reminder for those."""
    state = await load_state(conn, debtor_id, zone.key)
    return {s.promise_id for s in settle(state.promises, state.payments, zone=zone,
                                         as_of=today, grace_days=grace_days)
            if s.status is Status.KEPT}
