"""Promise settlement (pure): kept, partly kept, broken and open by the payments made in
the promise's window, allocated oldest due date first; plus its invariants as properties
(allocations never exceed payments or promises, monotone in time, idempotent)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.followup.settle import (
    OpenPromise,
    Payment,
    Settlement,
    Status,
    on_time_ratio,
    settle,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
MADE = datetime(2024, 4, 20, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai, 2024-04-20
DUE = date(2024, 5, 1)


def promise(pid: int = 1, amount: str = "100.00", due: date = DUE, made: datetime = MADE,
            currency: str = "CNY") -> OpenPromise:
    return OpenPromise(pid, due, Decimal(amount), currency, made)


def paid(pid: int, day: date | datetime, amount: str, currency: str = "CNY") -> Payment:
    at = day if isinstance(day, datetime) else datetime(day.year, day.month, day.day, 2,
                                                         tzinfo=UTC)  # 10:00 Shanghai
    return Payment(pid, at, Decimal(amount), currency)


def one(promises: list[OpenPromise], payments: list[Payment], as_of: date,
        grace: int = 2, zone: ZoneInfo = SHANGHAI) -> tuple[Settlement, ...]:
    return settle(promises, payments, zone=zone, as_of=as_of, grace_days=grace)


def test_paid_in_full_before_the_date_is_kept_early() -> None:
    """Steps: 100 promised for May 1; 60 paid Apr 25, 40 Apr 28; settle on Apr 28.
    Expected: kept on Apr 28 (the day it was covered), both payments allocated."""
    (result,) = one([promise()], [paid(1, date(2024, 4, 25), "60"),
                                  paid(2, date(2024, 4, 28), "40")], date(2024, 4, 28))
    assert result.status is Status.KEPT
    assert result.paid == Decimal("100.00")
    assert result.settled_on == date(2024, 4, 28)
    assert [(a.payment_id, a.amount) for a in result.allocations] == [
        (1, Decimal("60")), (2, Decimal("40"))]


def test_paid_within_the_grace_is_kept() -> None:
    """Steps: 100 due May 1, grace 2; paid in full May 3 (the last day of the grace).
    Expected: open on May 2; kept on May 3, settled on May 3."""
    payments = [paid(1, date(2024, 5, 3), "100")]
    assert one([promise()], payments, date(2024, 5, 2))[0].status is Status.OPEN
    result = one([promise()], payments, date(2024, 5, 3))[0]
    assert (result.status, result.settled_on) == (Status.KEPT, date(2024, 5, 3))


def test_part_paid_is_open_until_the_grace_ends_then_partly_kept() -> None:
    """Steps: 100 due May 1; 30 paid May 1; settle May 3, then May 4.
    Expected: open on May 3 (the grace's last day), partly kept on May 4 with 30 paid,
    settled on May 4."""
    payments = [paid(1, date(2024, 5, 1), "30")]
    assert one([promise()], payments, date(2024, 5, 3))[0].status is Status.OPEN
    result = one([promise()], payments, date(2024, 5, 4))[0]
    assert (result.status, result.paid, result.settled_on) == (
        Status.PARTLY_KEPT, Decimal("30"), date(2024, 5, 4))


def test_nothing_paid_is_broken_after_the_grace() -> None:
    """Steps: 100 due May 1, nothing paid; settle May 3 and May 4; grace 0 on May 2.
    Expected: open, then broken (paid 0); with no grace broken already on May 2."""
    assert one([promise()], [], date(2024, 5, 3))[0].status is Status.OPEN
    result = one([promise()], [], date(2024, 5, 4))[0]
    assert (result.status, result.paid, result.allocations) == (Status.BROKEN, 0, ())
    assert one([promise()], [], date(2024, 5, 2), grace=0)[0].status is Status.BROKEN


def test_payments_outside_the_window_do_not_count() -> None:
    """Steps: 100 made Apr 20 due May 1 (grace 2); 100 paid Apr 19 (before the promise),
    100 paid May 4 (after the grace), 100 in USD on Apr 25; settle May 10.
    Expected: broken: none of them counts."""
    payments = [paid(1, date(2024, 4, 19), "100"), paid(2, date(2024, 5, 4), "100"),
                paid(3, date(2024, 4, 25), "100", currency="USD")]
    assert one([promise()], payments, date(2024, 5, 10))[0].status is Status.BROKEN


def test_a_payment_on_the_day_the_promise_was_made_counts() -> None:
    """Steps: the promise made at 14:00 Shanghai on Apr 20; paid at 09:00 that day.
    Expected: kept: the window starts on the day, in the debtor's zone."""
    morning = datetime(2024, 4, 20, 1, 0, tzinfo=UTC)
    assert one([promise()], [paid(1, morning, "100")], date(2024, 4, 20))[0].status is (
        Status.KEPT)


def test_the_debtor_zone_decides_the_day() -> None:
    """Steps: due May 1, grace 2; paid 2024-05-03T17:00Z (May 4, 01:00 in Shanghai).
    Expected: broken for a Shanghai debtor (a day late), kept for a UTC one."""
    late = [paid(1, datetime(2024, 5, 3, 17, 0, tzinfo=UTC), "100")]
    assert one([promise()], late, date(2024, 5, 5))[0].status is Status.BROKEN
    assert one([promise()], late, date(2024, 5, 5), zone=ZoneInfo("UTC"))[0].status is (
        Status.KEPT)


def test_instalments_take_payments_oldest_due_first() -> None:
    """Steps: a plan of 3 × 100 due May 1, Jun 1, Jul 1; one payment of 250 on Apr 25;
    settle Jul 10.
    Expected: May and June kept (100 each), July partly kept with the 50 left; the
    payment's 250 shared out exactly once."""
    plan = [promise(3, due=date(2024, 7, 1)), promise(1), promise(2, due=date(2024, 6, 1))]
    results = one(plan, [paid(9, date(2024, 4, 25), "250")], date(2024, 7, 10))
    assert [(r.promise_id, r.status, r.paid) for r in results] == [
        (1, Status.KEPT, Decimal("100.00")), (2, Status.KEPT, Decimal("100.00")),
        (3, Status.PARTLY_KEPT, Decimal("50.00"))]
    assert sum(a.amount for r in results for a in r.allocations) == Decimal("250")


def test_payments_after_as_of_are_not_known_yet() -> None:
    """Steps: 100 due May 10; paid May 5; settle as of May 4.
    Expected: still open with nothing paid."""
    result = one([promise(due=date(2024, 5, 10))], [paid(1, date(2024, 5, 5), "100")],
                 date(2024, 5, 4))[0]
    assert (result.status, result.paid) == (Status.OPEN, 0)


def test_bad_input_is_refused() -> None:
    """Steps: a naive creation time; a negative grace.
    Expected: ValueError each."""
    naive = promise(made=datetime(2024, 4, 20, 6, 0))
    with pytest.raises(ValueError, match="created_at must be timezone-aware"):
        one([naive], [], DUE)
    with pytest.raises(ValueError, match="grace_days"):
        one([promise()], [], DUE, grace=-1)


def test_on_time_ratio_counts_settled_promises_only() -> None:
    """Steps: ratio of (kept, kept, broken, open), of (partly kept), of nothing settled.
    Expected: 0.667 (2 of 3, half-even), 0.000, None."""
    assert on_time_ratio([Status.KEPT, Status.KEPT, Status.BROKEN, Status.OPEN]) == (
        Decimal("0.667"))
    assert on_time_ratio([Status.PARTLY_KEPT]) == Decimal("0.000")
    assert on_time_ratio([Status.OPEN]) is None


# -- properties ------------------------------------------------------------------------

BASE = date(2024, 5, 1)
ZONES = [ZoneInfo(z) for z in ("Asia/Shanghai", "UTC", "America/New_York",
                                "Pacific/Kiritimati")]
cents = st.integers(min_value=1, max_value=50_000).map(lambda c: Decimal(c) / 100)
currencies = st.sampled_from(["CNY", "CNY", "CNY", "USD"])
moments = st.integers(min_value=-10 * 24, max_value=40 * 24).map(
    lambda hours: datetime(2024, 5, 1, tzinfo=UTC) + timedelta(hours=hours))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[OpenPromise], list[Payment], ZoneInfo, int]:
    promises = [
        OpenPromise(pid, BASE + timedelta(days=draw(st.integers(0, 25))), draw(cents),
                    draw(currencies), draw(moments) - timedelta(days=draw(st.integers(1, 10))))
        for pid in range(1, draw(st.integers(1, 6)) + 1)
    ]
    payments = [Payment(pid, draw(moments), draw(cents), draw(currencies))
                for pid in range(1, draw(st.integers(0, 8)) + 1)]
    return promises, payments, draw(st.sampled_from(ZONES)), draw(st.integers(0, 5))


as_of_dates = st.integers(-5, 45).map(lambda d: BASE + timedelta(days=d))


def _window_holds(result: Settlement, promise: OpenPromise, payment: Payment,
                  zone: ZoneInfo, grace: int, as_of: date) -> bool:
    day = payment.paid_at.astimezone(zone).date()
    return (promise.created_at.astimezone(zone).date() <= day
            <= promise.due_date + timedelta(days=grace)) and day <= as_of and (
        payment.currency == promise.currency)


@settings(max_examples=300, deadline=None)
@given(scenarios(), as_of_dates)
def test_allocations_never_exceed_payments_or_promises(scenario, as_of: date) -> None:
    """Property: per payment, what all promises took ≤ its amount; per promise, paid =
    its allocations ≤ its amount; each (promise, payment) pair once; each allocation in
    the promise's window, currency and not after as_of; the status agrees with the paid
    amount and the date."""
    promises, payments, zone, grace = scenario
    results = settle(promises, payments, zone=zone, as_of=as_of, grace_days=grace)
    by_id = {p.id: p for p in promises}
    pay_by_id = {p.id: p for p in payments}
    taken: dict[int, Decimal] = defaultdict(Decimal)
    assert sorted(r.promise_id for r in results) == sorted(by_id)
    for result in results:
        promise = by_id[result.promise_id]
        pairs = [a.payment_id for a in result.allocations]
        assert len(pairs) == len(set(pairs))
        assert result.paid == sum((a.amount for a in result.allocations), Decimal(0))
        assert 0 <= result.paid <= promise.amount
        for allocation in result.allocations:
            assert allocation.amount > 0
            taken[allocation.payment_id] += allocation.amount
            assert _window_holds(result, promise, pay_by_id[allocation.payment_id], zone,
                                 grace, as_of)
        closed = as_of > promise.due_date + timedelta(days=grace)
        expected = (Status.KEPT if result.paid == promise.amount
                    else Status.OPEN if not closed
                    else Status.PARTLY_KEPT if result.paid > 0 else Status.BROKEN)
        assert result.status is expected
        assert (result.settled_on is None) == (result.status is Status.OPEN)
    for payment_id, amount in taken.items():
        assert amount <= pay_by_id[payment_id].amount


@settings(max_examples=300, deadline=None)
@given(scenarios(), as_of_dates)
def test_an_unkept_promise_leaves_no_usable_payment_behind(scenario, as_of: date) -> None:
    """Property: a promise not kept took everything it could: every payment in its window
    and currency (known by as_of) is used up by the end."""
    promises, payments, zone, grace = scenario
    results = settle(promises, payments, zone=zone, as_of=as_of, grace_days=grace)
    left = {p.id: p.amount for p in payments}
    for result in results:
        for allocation in result.allocations:
            left[allocation.payment_id] -= allocation.amount
    by_id = {p.id: p for p in promises}
    for result in results:
        if result.status is Status.KEPT:
            continue
        for payment in payments:
            if _window_holds(result, by_id[result.promise_id], payment, zone, grace, as_of):
                assert left[payment.id] == 0


@settings(max_examples=300, deadline=None)
@given(scenarios(), as_of_dates, st.integers(0, 30))
def test_settlement_is_monotone_in_time(scenario, as_of: date, later_by: int) -> None:
    """Property: with the same payments, an outcome reached at one date is the same
    (status, amount, allocations) at any later date; what is open later was open before."""
    promises, payments, zone, grace = scenario
    early = settle(promises, payments, zone=zone, as_of=as_of, grace_days=grace)
    late = {r.promise_id: r for r in settle(promises, payments, zone=zone,
                                            as_of=as_of + timedelta(days=later_by),
                                            grace_days=grace)}
    for result in early:
        if result.status.final:
            assert late[result.promise_id] == result
        if late[result.promise_id].status is Status.OPEN:
            assert result.status is Status.OPEN


@settings(max_examples=300, deadline=None)
@given(scenarios(), as_of_dates)
def test_settling_again_changes_nothing(scenario, as_of: date) -> None:
    """Property: store the final outcomes (drop those promises, take their allocations off
    the payments, as the database does) and settle again at the same date: nothing new
    becomes final and the open promises are allocated exactly as before."""
    promises, payments, zone, grace = scenario
    first = settle(promises, payments, zone=zone, as_of=as_of, grace_days=grace)
    finals = {r.promise_id for r in first if r.status.final}
    used: dict[int, Decimal] = defaultdict(Decimal)
    for result in first:
        if result.status.final:
            for allocation in result.allocations:
                used[allocation.payment_id] += allocation.amount
    rest = [p for p in promises if p.id not in finals]
    remainders = [Payment(p.id, p.paid_at, p.amount - used[p.id], p.currency)
                  for p in payments]
    second = settle(rest, remainders, zone=zone, as_of=as_of, grace_days=grace)
    assert all(r.status is Status.OPEN for r in second)
    assert second == tuple(r for r in first if not r.status.final)
