"""Promise settlement: which of a debtor's open promises their payments kept. Pure.

Rules (all dates are the debtor's local dates, in `zone`):
- A payment counts toward a promise when it was made from the day the promise was made
  up to its due date plus `grace_days`, in the promise's currency, and not after `as_of`
  (what is known "today").
- Payments are allocated to promises oldest due date first (an instalment plan is
  several promises of one debtor); each promise takes the payments in the order they
  were made, never more than it still needs, and a payment's amount is shared out
  once: what one promise took, no other gets.
- kept: the allocation covers the amount (as soon as it does: kept early); partly_kept:
  some but not all of it once the grace has passed; broken: nothing once the grace has
  passed; open: otherwise. The grace has passed on the day after due date + grace.

A settled promise is final: the caller stores its allocations and passes later runs
only the open promises and what is left of each payment. Settling is monotone in time
(for the same payments, an outcome reached at one date is the same at any later date)
and idempotent (settling again what this returned changes nothing); the property tests
check both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

DEFAULT_GRACE_DAYS = 2
_RATIO_STEP = Decimal("0.001")  # on_time_ratio is numeric(4, 3)


class Status(StrEnum):
    OPEN = "open"
    KEPT = "kept"
    PARTLY_KEPT = "partly_kept"
    BROKEN = "broken"

    @property
    def final(self) -> bool:
        return self is not Status.OPEN


@dataclass(frozen=True, slots=True)
class OpenPromise:
    id: int
    due_date: date  # the debtor's local date
    amount: Decimal
    currency: str
    created_at: datetime  # timezone-aware


@dataclass(frozen=True, slots=True)
class Payment:
    id: int
    paid_at: datetime  # timezone-aware
    amount: Decimal  # what is left of it: not yet allocated to a settled promise
    currency: str


@dataclass(frozen=True, slots=True)
class Allocation:
    promise_id: int
    payment_id: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Settlement:
    promise_id: int
    status: Status
    paid: Decimal  # allocated to this promise, at most its amount
    allocations: tuple[Allocation, ...]
    # The local date the outcome became certain: the day of the payment that covered the
    # promise, or the first day after the grace. None while open.
    settled_on: date | None


def settle(
    promises: Iterable[OpenPromise],
    payments: Iterable[Payment],
    *,
    zone: tzinfo,
    as_of: date,
    grace_days: int = DEFAULT_GRACE_DAYS,
) -> tuple[Settlement, ...]:
    """One settlement per promise, in allocation order (due date, creation, id)."""
    if grace_days < 0:
        raise ValueError(f"grace_days must be >= 0, got {grace_days}")
    grace = timedelta(days=grace_days)
    visible = sorted(
        (
            (_local_date(p.paid_at, zone, "paid_at"), p)
            for p in payments
            if p.amount > 0
        ),
        key=lambda item: (item[0], item[1].paid_at, item[1].id),
    )
    visible = [(day, p) for day, p in visible if day <= as_of]
    left = {p.id: p.amount for _, p in visible}
    ordered = sorted(promises, key=lambda p: (p.due_date, p.created_at, p.id))
    results: list[Settlement] = []
    for promise in ordered:
        if promise.amount <= 0:
            raise ValueError(f"promise {promise.id}: amount must be positive")
        first_day = _local_date(promise.created_at, zone, "created_at")
        last_day = promise.due_date + grace
        need = promise.amount
        taken: list[Allocation] = []
        covered_on: date | None = None
        for day, payment in visible:
            if need == 0 or day > last_day:
                break
            if day < first_day or payment.currency != promise.currency:
                continue
            share = min(need, left[payment.id])
            if share <= 0:
                continue
            left[payment.id] -= share
            need -= share
            taken.append(Allocation(promise.id, payment.id, share))
            covered_on = day
        paid = promise.amount - need
        if need == 0:
            status, settled_on = Status.KEPT, covered_on
        elif as_of > last_day:
            status = Status.PARTLY_KEPT if paid > 0 else Status.BROKEN
            settled_on = last_day + timedelta(days=1)
        else:
            status, settled_on = Status.OPEN, None
        results.append(Settlement(promise.id, status, paid, tuple(taken), settled_on))
    return tuple(results)


def on_time_ratio(statuses: Sequence[Status]) -> Decimal | None:
    """kept ÷ settled (kept, partly kept or broken), half-even to 3 decimals as the
    import rounds it; None when nothing is settled yet."""
    settled = [s for s in statuses if s.final]
    if not settled:
        return None
    kept = sum(1 for s in settled if s is Status.KEPT)
    return (Decimal(kept) / Decimal(len(settled))).quantize(_RATIO_STEP, ROUND_HALF_EVEN)


def _local_date(moment: datetime, zone: tzinfo, what: str) -> date:
    if moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return moment.astimezone(zone).date()
