"""Validation of one payment (pure): reference, amount as Decimal, paid_at with an offset
or a date alone, the clock, and rejections that name the field."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from engine.payments.rows import PaymentRow, validate_payment_row
from engine.portfolio.validate import RowRejected

NOW = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)
GOOD = {"reference": "TX-2024/05:01.7", "external_id": "A1", "amount": "1200.5",
        "currency": "", "paid_at": "2024-05-01T10:15:00+08:00", "branch": "=x"}
JSON = {key: value for key, value in GOOD.items() if key != "branch"}


def check(**changes: str) -> PaymentRow | RowRejected:
    return validate_payment_row(7, {**GOOD, **changes}, now=NOW)


def test_good_row_is_typed_exactly() -> None:
    """A row with an ISO time and offset, an empty currency and an extra column.
    Expected: amount Decimal('1200.50'), CNY, paid_at in UTC (02:15), the extra column
    ignored."""
    row = check()
    assert isinstance(row, PaymentRow)
    assert row.amount == Decimal("1200.50") and isinstance(row.amount, Decimal)
    assert row.currency == "CNY"
    assert row.paid_at_utc == datetime(2024, 5, 1, 2, 15, tzinfo=UTC)
    assert row.paid_on is None


@pytest.mark.parametrize("text", ["2024-05-01T02:15Z", "2024-05-01 10:15+0800",
                                  "2024-05-01T10:15:00.250000+08:00"])
def test_offset_forms(text: str) -> None:
    """Z, a space and +HHMM, fractions: all the same instant (to the microsecond)."""
    row = check(paid_at=text)
    assert isinstance(row, PaymentRow)
    assert row.paid_at_utc is not None
    assert row.paid_at_utc.replace(microsecond=0) == datetime(2024, 5, 1, 2, 15, tzinfo=UTC)


def test_date_alone_is_the_debtors_day() -> None:
    """paid_at 2024-05-01. Expected: kept as a date (the database puts it in the
    debtor's zone), no UTC instant yet."""
    row = check(paid_at="2024-05-01")
    assert isinstance(row, PaymentRow)
    assert (row.paid_on, row.paid_at_utc) == (date(2024, 5, 1), None)


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"reference": ""}, "reference", "reference is required"),
        ({"reference": "=HYPERLINK(1)"}, "reference", "reference must be letters"),
        ({"reference": "R" * 65}, "reference", "longer than 64"),
        ({"external_id": " "}, "external_id", "external_id is required"),
        ({"amount": "0"}, "amount", "amount must be more than 0"),
        ({"amount": "-3"}, "amount", "must not be negative"),
        ({"amount": "1.005"}, "amount", "more than 2 decimal places"),
        ({"amount": "1,200.00"}, "amount", "not a plain decimal"),
        ({"amount": "1e3"}, "amount", "not a plain decimal"),
        ({"amount": "1000000000000.00"}, "amount", "larger than"),
        ({"currency": "RMB1"}, "currency", "longer than 3"),
        ({"currency": "12"}, "currency", "ISO 4217"),
        ({"paid_at": "2024-05-01T10:15"}, "paid_at", "no UTC offset"),
        ({"paid_at": "01/05/2024"}, "paid_at", "not ISO 8601"),
        ({"paid_at": "2024-02-30"}, "paid_at", "not a real date"),
        ({"paid_at": "2024-05-01T25:00+08:00"}, "paid_at", "not a real date and time"),
        ({"paid_at": "1999-12-31"}, "paid_at", "before 2000-01-01"),
        ({"paid_at": "2024-05-02T12:06Z"}, "paid_at", "in the future"),
        ({"paid_at": "2024-05-04"}, "paid_at", "in the future"),
    ],
)
def test_bad_fields_are_named(changes: dict[str, str], field: str, reason: str) -> None:
    """Each bad value rejects the row, naming the field and why, with the raw row kept."""
    result = check(**changes)
    assert isinstance(result, RowRejected)
    assert result.row_number == 7
    assert result.field == field
    assert reason in result.reason
    assert result.raw_row["branch"] == "=x"


def test_clock_tolerance_and_the_zone_furthest_ahead() -> None:
    """5 minutes of clock skew pass; a date that is already 'today' at UTC+14 passes."""
    assert isinstance(check(paid_at="2024-05-02T12:04Z"), PaymentRow)
    assert isinstance(check(paid_at="2024-05-03"), PaymentRow)  # 02:00 on May 3 at UTC+14


def test_several_problems_are_all_named() -> None:
    result = check(reference="", amount="x")
    assert isinstance(result, RowRejected)
    assert result.field == "reference,amount"


@pytest.mark.parametrize("amount", [Decimal("12.5"), 12, Decimal("1E+2")])
def test_json_numbers_are_exact(amount: object) -> None:
    """From the webhook: a Decimal (how a JSON number is read) or an int.
    Expected: the exact amount in cents."""
    row = PaymentRow.model_validate({**JSON, "amount": amount}, context={"now": NOW})
    assert row.amount == Decimal(str(amount)).quantize(Decimal("0.01"))


@pytest.mark.parametrize("amount", [12.5, True, None, [1]])
def test_floats_and_other_types_are_refused(amount: object) -> None:
    with pytest.raises(ValueError, match="amount"):
        PaymentRow.model_validate({**JSON, "amount": amount}, context={"now": NOW})
