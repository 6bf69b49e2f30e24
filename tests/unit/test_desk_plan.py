"""A promise or instalment plan entered at the desk: future dates in order within a
year, positive amounts in cents, not more than is owed; errors name the instalment."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from db.desk import Instalment, PlanError, check_plan

TODAY = date(2026, 12, 1)
OWED = Decimal("1000.00")


def plan(*items: tuple[int, str]) -> list[Instalment]:
    return [Instalment(TODAY + timedelta(days=d), Decimal(a)) for d, a in items]


def test_a_single_promise_and_a_plan_that_add_up_are_accepted():
    check_plan(plan((1, "1000.00")), TODAY, OWED)
    check_plan(plan((7, "300"), (37, "300"), (67, "400.00")), TODAY, OWED)


@pytest.mark.parametrize(("items", "message"), [
    ((), "at least one instalment"),
    (((0, "10"),), "instalment 1: date must lie between tomorrow"),
    (((367, "10"),), "instalment 1: date must lie between tomorrow"),
    (((5, "10"), (5, "10")), "instalment 2: dates must increase"),
    (((5, "0"),), "instalment 1: amount must be positive"),
    (((5, "-3"),), "instalment 1: amount must be positive"),
    (((5, "1.005"),), "instalment 1: amount must be positive, at most 2 decimals"),
    (((5, "600"), (9, "400.01")), "the plan's total 1000.01 is more than the 1000.00 owed"),
])
def test_plans_that_do_not_hold_are_refused_naming_the_instalment(items, message):
    with pytest.raises(PlanError, match=message.replace("(", r"\(")):
        check_plan(plan(*items), TODAY, OWED)


def test_too_many_instalments_are_refused():
    with pytest.raises(PlanError, match="at most 24"):
        check_plan(plan(*[(d, "1") for d in range(1, 26)]), TODAY, OWED)
