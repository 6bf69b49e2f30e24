"""Validation of one payment, from a CSV row or the webhook's JSON. Pure: no I/O; the
clock only through `now`.

Decisions worth knowing:
- reference: the core bank's payment reference, the key that makes imports idempotent:
  1..64 characters, letters, digits and . _ : / - , starting with a letter or digit
  (so never a spreadsheet formula). Kept exactly as given (case matters).
- external_id: the debtor's id at the bank, the same rules as the debtor import's.
- amount: plain decimal text (or, from JSON, a number read exactly), > 0, at most 2
  decimals, at most 999999999999.99 (numeric(14,2)). Never a float.
- currency: ISO 4217 letters, CNY when empty.
- paid_at: ISO 8601 with its UTC offset (2024-05-01T14:30:00+08:00, Z allowed, seconds
  and fractions optional, T or a space), stored in UTC; or a date alone (2024-05-01),
  meaning that day in the debtor's time zone (its start, 00:00 local: the debtor is
  only known to the database, which resolves it). A time without an offset is refused:
  guessing the zone of a bank's clock is how money lands on the wrong day. Not before
  2000, not in the future (5 minutes' tolerance for clocks; a date may be "today" in
  the zone furthest ahead, UTC+14).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from engine.portfolio.validate import RowRejected, parse_amount, parse_external_id

DEFAULT_CURRENCY = "CNY"
REQUIRED_COLUMNS = ("reference", "external_id", "amount", "paid_at")
KNOWN_COLUMNS = frozenset({*REQUIRED_COLUMNS, "currency"})
MAX_REFERENCE = 64
EARLIEST = date(2000, 1, 1)
CLOCK_TOLERANCE = timedelta(minutes=5)
FURTHEST_AHEAD = timedelta(hours=14)  # UTC+14 (Kiribati) is the first to see a date
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(?P<offset>Z|[+-]\d{2}:?\d{2})?$"
)
_VALUE_ERROR_PREFIX = "Value error, "


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    text = value.strip()
    if not text:
        raise ValueError("is required")
    if len(text) > limit:
        raise ValueError(f"is longer than {limit} characters")
    return text


def parse_reference(value: Any) -> str:
    text = _text(value, MAX_REFERENCE)
    if not _REFERENCE.match(text):
        raise ValueError("must be letters, digits and . _ : / - (starting with a letter or digit)")
    return text


def _external_id(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    return parse_external_id(value)


def parse_payment_amount(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError("must be a decimal number (text, or an exact JSON number)")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError("is not a finite number")
    amount = parse_amount(value if isinstance(value, str) else _plain(value))
    if amount == 0:
        raise ValueError("must be more than 0")
    return amount


def _plain(number: int | Decimal) -> str:
    # A JSON number such as 1e2 arrives as Decimal('1E+2'): written out in full.
    return format(number, "f") if isinstance(number, Decimal) else str(number)


def parse_currency(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_CURRENCY
    text = _text(value, 3).upper()
    if not _CURRENCY.match(text):
        raise ValueError("is not a 3-letter ISO 4217 code")
    return text


def parse_paid_at(value: Any) -> datetime | date:
    """An aware datetime (in UTC), or a date alone; range checked by the model."""
    text = _text(value, 40)
    if _DATE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError("is not a real date") from None
    match = _DATETIME.match(text)
    if match is None:
        raise ValueError("is not ISO 8601 (YYYY-MM-DDTHH:MM[:SS]+HH:MM, or YYYY-MM-DD)")
    if match["offset"] is None:
        raise ValueError("has a time but no UTC offset (add one, e.g. +08:00, or give the date "
                         "alone for the debtor's local day)")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("is not a real date and time") from None
    return moment.astimezone(UTC)


class PaymentRow(BaseModel):
    """One validated payment. `paid_at` is a UTC datetime, or a date (the debtor's day).

    Validate with `context={"now": aware datetime}` to check against a fixed clock.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    reference: Annotated[str, BeforeValidator(parse_reference)]
    external_id: Annotated[str, BeforeValidator(_external_id)]
    amount: Annotated[Decimal, BeforeValidator(parse_payment_amount)]
    currency: Annotated[str, BeforeValidator(parse_currency)] = DEFAULT_CURRENCY
    paid_at: Annotated[datetime | date, BeforeValidator(parse_paid_at)]

    @model_validator(mode="after")
    def _in_range(self, info: ValidationInfo) -> PaymentRow:
        now = (info.context or {}).get("now") or datetime.now(UTC)
        if isinstance(self.paid_at, datetime):
            day, late = self.paid_at.date(), self.paid_at > now + CLOCK_TOLERANCE
        else:
            day, late = self.paid_at, self.paid_at > (now + FURTHEST_AHEAD).date()
        if day < EARLIEST:
            raise ValueError(f"paid_at is before {EARLIEST.isoformat()}")
        if late:
            raise ValueError("paid_at is in the future")
        return self

    @property
    def paid_at_utc(self) -> datetime | None:
        return self.paid_at if isinstance(self.paid_at, datetime) else None

    @property
    def paid_on(self) -> date | None:
        return None if isinstance(self.paid_at, datetime) else self.paid_at


def error_fields(exc: ValidationError) -> list[tuple[str, str]]:
    """(field, reason) for each problem; the field is '' when the row as a whole is."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix(_VALUE_ERROR_PREFIX)
        if error["type"] == "missing":
            message = "is required"
        if not field and message.startswith("paid_at "):
            field, message = "paid_at", message.removeprefix("paid_at ")
        problems.append((field, message))
    return problems


def validate_payment_row(
    row_number: int, raw: Mapping[str, str], *, now: datetime
) -> PaymentRow | RowRejected:
    """Validate one CSV row (column name -> text); unknown columns are ignored."""
    data = {column: value for column, value in raw.items() if column in KNOWN_COLUMNS}
    try:
        return PaymentRow.model_validate(data, context={"now": now})
    except ValidationError as exc:
        problems = error_fields(exc)
        fields = ",".join(field for field, _ in problems)
        reasons = "; ".join(f"{field} {reason}".strip() for field, reason in problems)
        return RowRejected(row_number, fields, reasons, dict(raw))
