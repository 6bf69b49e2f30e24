"""Validation of one imported debtor row. Pure: no I/O, no clock except `today` defaults.

Decisions worth knowing:
- Phones: E.164 or national (default region CN), must be a *valid* number per
  `phonenumbers`; stored E.164. A bad alternative phone rejects the whole row (it names
  the phone by position and masked form, never in clear). Duplicate phones collapse.
- id_number: 18 characters of digits (last may be X) is a PRC resident ID and must pass
  the ISO 7064 MOD 11-2 checksum and carry a real birth date (1900..today); 15 digits is a
  first-generation resident ID (birth date checked, no checksum exists); anything else is
  accepted as a foreign/passport number when it is 4..32 letters, digits or '-'.
- Money: plain decimal text only (no exponent, no thousands separator, never float),
  0 <= amount <= 999999999999.99 (what numeric(14,2) holds), at most 2 decimals.
- on_time_ratio: 0..1, rounded half-even to 3 decimals (the column is numeric(4,3)).
- Spreadsheet formulas: a text cell (name, credit_rating, unknown columns) that starts
  with = + - @ TAB or CR and is not a plain number is stored inert, prefixed with a single
  quote ('=1+1 -> '=1+1). Exports must keep it inert. An external_id starting that way is
  rejected instead: it is a key, and rewriting keys would break matching with the bank.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache
from typing import Annotated, Any
from zoneinfo import available_timezones

import phonenumbers
from phonenumbers import timezone as phone_timezones
from phonenumbers.phonemetadata import PhoneMetadata
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from db.crypto import mask_phone

DEFAULT_REGION = "CN"
DEFAULT_CURRENCY = "CNY"
MAX_EXTERNAL_ID = 64
MAX_NAME = 200
MAX_SHORT_TEXT = 32
MAX_ALT_PHONES = 10
MAX_OVERDUE_DAYS = 36_500
MAX_BROKEN_PROMISES = 100_000
MAX_AMOUNT = Decimal("999999999999.99")
LANGUAGES = ("zh", "en", "ko")
KNOWN_COLUMNS = frozenset(
    {
        "external_id", "name", "phone", "alt_phones", "id_number", "amount_due", "currency",
        "overdue_days", "due_date", "credit_rating", "broken_promises", "on_time_ratio",
        "timezone", "language",
    }
)  # fmt: skip
_LANGUAGE_BY_REGION = {"CN": "zh", "KR": "ko"}
_TIMEZONE_BY_REGION = {"CN": "Asia/Shanghai"}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_DECIMAL_TEXT = re.compile(r"^[+-]?\d+(\.\d+)?$")
_INTEGER_TEXT = re.compile(r"^[+-]?\d+$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_RESIDENT_ID_18 = re.compile(r"^\d{17}[\dX]$")
_RESIDENT_ID_15 = re.compile(r"^\d{15}$")
_OTHER_ID = re.compile(r"^[A-Z0-9-]{4,32}$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_ID_BYTE_OFFSET = 48 * sum(_ID_WEIGHTS)
_CENT = Decimal("0.01")
_RATIO_STEP = Decimal("0.001")
_VALUE_ERROR_PREFIX = "Value error, "


def _cn_pattern(kind: str) -> re.Pattern[str]:
    metadata = PhoneMetadata.metadata_for_region("CN")
    description = getattr(metadata, kind, None)
    pattern = getattr(description, "national_number_pattern", None)
    if not isinstance(pattern, str):
        raise RuntimeError(f"phonenumbers has no CN {kind} pattern")
    return re.compile(pattern)


_CN_MOBILE = _cn_pattern("mobile")
_CN_GENERAL = _cn_pattern("general_desc")
_CN_MOBILE_TEXT = re.compile(r"^(?:\+86)?(1\d{10})$")
_PHONE_SEPARATORS = re.compile(r"[ \-]")


@dataclass(frozen=True, slots=True)
class RowRejected:
    """Why a row was not imported; `field` is '' when the row as a whole is at fault."""

    row_number: int
    field: str
    reason: str
    raw_row: Mapping[str, str]


def make_inert(text: str) -> str:
    """Neutralise a spreadsheet formula: prefix ' unless the text is a plain number."""
    if text.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


# -- field parsers (before-validators): raw CSV text in, typed value out --------------


def _required_text(value: Any, limit: int) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError("is required")
    if len(text) > limit:
        raise ValueError(f"is longer than {limit} characters")
    return text


def _optional(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_external_id(value: Any) -> str:
    text = _required_text(value, MAX_EXTERNAL_ID)
    if text.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.match(text):
        raise ValueError("starts with a spreadsheet formula character")
    if not text.isprintable():
        raise ValueError("contains control characters")
    return text


def _name(value: Any) -> str:
    return make_inert(_required_text(value, MAX_NAME))


def _short_text(value: Any) -> str | None:
    text = _optional(value)
    if text is None:
        return None
    if len(text) > MAX_SHORT_TEXT:
        raise ValueError(f"is longer than {MAX_SHORT_TEXT} characters")
    return make_inert(text)


def parse_phone(text: str, *, region: str = DEFAULT_REGION) -> str:
    """E.164 of a valid number written in E.164 or national form; ValueError otherwise.

    The message never quotes the number: it may end up in logs.
    """
    if region == "CN":
        # Fast path for the common case, a CN mobile (phonenumbers' full parse is the
        # import's largest cost): the same metadata patterns is_valid_number applies.
        # Anything else takes the full path; a property test checks both agree.
        compact = _PHONE_SEPARATORS.sub("", text) if " " in text or "-" in text else text
        match = _CN_MOBILE_TEXT.match(compact)
        if match and _CN_MOBILE.fullmatch(match[1]) and _CN_GENERAL.fullmatch(match[1]):
            return "+86" + match[1]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValueError("is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"is not a valid phone number (default region {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone(value: Any) -> str:
    return parse_phone(_required_text(value, 32))


def _alt_phones(value: Any) -> tuple[str, ...]:
    text = _optional(value)
    if text is None:
        return ()
    parts = [part.strip() for part in text.split(";")]
    parts = [part for part in parts if part]
    if len(parts) > MAX_ALT_PHONES:
        raise ValueError(f"more than {MAX_ALT_PHONES} alternative phones")
    phones: list[str] = []
    for position, part in enumerate(parts, start=1):
        try:
            phones.append(parse_phone(part))
        except ValueError as exc:
            raise ValueError(f"alt phone #{position} ({mask_phone(part)}) {exc}") from None
    return tuple(phones)


def resident_id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits of a PRC resident ID."""
    if len(first17) == 17 and first17.isascii() and first17.isdigit():
        # ASCII digits: weigh the bytes directly (each is its digit + 48).
        total = sum(map(operator.mul, first17.encode("ascii"), _ID_WEIGHTS)) - _ID_BYTE_OFFSET
    else:
        total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def parse_id_number(value: Any, *, today: date | None = None) -> str | None:
    text = _optional(value)
    if text is None:
        return None
    text = text.upper()
    if len(text) == 18 and text[:17].isdigit():
        if not _RESIDENT_ID_18.match(text):
            raise ValueError("18-character resident ID must end in a digit or X")
        if resident_id_check_char(text[:17]) != text[17]:
            raise ValueError("resident ID checksum does not match")
        _require_birth_date(text[6:14], today)
        return text
    if _RESIDENT_ID_15.match(text):
        _require_birth_date("19" + text[6:12], today)
        return text
    if _OTHER_ID.match(text) and not text.isdigit():
        return text
    raise ValueError("is neither an 18-character resident ID nor 4..32 letters, digits or '-'")


def _require_birth_date(yyyymmdd: str, today: date | None) -> None:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        raise ValueError("resident ID has an impossible birth date") from None
    if born.year < 1900 or born > (today or date.today()):
        raise ValueError("resident ID has an implausible birth date")


def parse_amount(value: Any) -> Decimal:
    text = _required_text(value, 32)
    if not _DECIMAL_TEXT.match(text):
        raise ValueError("is not a plain decimal number (digits and an optional point)")
    amount = Decimal(text)
    if amount < 0:
        raise ValueError("must not be negative")
    if amount > MAX_AMOUNT:
        raise ValueError(f"is larger than {MAX_AMOUNT}")
    if amount != amount.quantize(_CENT):
        raise ValueError("has more than 2 decimal places")
    return amount.quantize(_CENT)


def _currency(value: Any) -> str:
    text = (_optional(value) or DEFAULT_CURRENCY).upper()
    if not _CURRENCY.match(text):
        raise ValueError("is not a 3-letter ISO 4217 code")
    return text


def _bounded_int(value: Any, *, maximum: int, default: int | None) -> int:
    text = _optional(value)
    if text is None:
        if default is None:
            raise ValueError("is required")
        return default
    if not _INTEGER_TEXT.match(text):
        raise ValueError("is not a whole number")
    number = int(text)
    if not 0 <= number <= maximum:
        raise ValueError(f"must be within 0..{maximum}")
    return number


def _overdue_days(value: Any) -> int:
    return _bounded_int(value, maximum=MAX_OVERDUE_DAYS, default=None)


def _broken_promises(value: Any) -> int:
    return _bounded_int(value, maximum=MAX_BROKEN_PROMISES, default=0)


def _due_date(value: Any) -> date | None:
    text = _optional(value)
    if text is None:
        return None
    if not _ISO_DATE.match(text):
        raise ValueError("is not an ISO date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("is not a real date") from None


def _on_time_ratio(value: Any) -> Decimal | None:
    text = _optional(value)
    if text is None:
        return None
    if not _DECIMAL_TEXT.match(text):
        raise ValueError("is not a plain decimal number")
    try:
        ratio = Decimal(text)
    except InvalidOperation:
        raise ValueError("is not a plain decimal number") from None
    if not 0 <= ratio <= 1:
        raise ValueError("must be within 0..1")
    return ratio.quantize(_RATIO_STEP, rounding=ROUND_HALF_EVEN)


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _timezone(value: Any) -> str | None:
    text = _optional(value)
    if text is None:
        return None
    if text not in _zones():
        raise ValueError("is not an IANA time zone name")
    return text


def _language(value: Any) -> str | None:
    text = _optional(value)
    if text is None:
        return None
    text = text.lower()
    if text not in LANGUAGES:
        raise ValueError(f"must be one of {', '.join(LANGUAGES)}")
    return text


class DebtorRow(BaseModel):
    """One validated debtor row; `region` is the ISO region of the primary phone."""

    model_config = ConfigDict(extra="forbid")

    external_id: Annotated[str, BeforeValidator(parse_external_id)]
    name: Annotated[str, BeforeValidator(_name)]
    phone: Annotated[str, BeforeValidator(_phone)]
    alt_phones: Annotated[tuple[str, ...], BeforeValidator(_alt_phones)] = ()
    id_number: Annotated[str | None, BeforeValidator(parse_id_number)] = None
    amount_due: Annotated[Decimal, BeforeValidator(parse_amount)]
    currency: Annotated[str, BeforeValidator(_currency)] = DEFAULT_CURRENCY
    overdue_days: Annotated[int, BeforeValidator(_overdue_days)]
    due_date: Annotated[date | None, BeforeValidator(_due_date)] = None
    credit_rating: Annotated[str | None, BeforeValidator(_short_text)] = None
    broken_promises: Annotated[int, BeforeValidator(_broken_promises)] = 0
    on_time_ratio: Annotated[Decimal | None, BeforeValidator(_on_time_ratio)] = None
    timezone: Annotated[str | None, BeforeValidator(_timezone)] = None
    language: Annotated[str | None, BeforeValidator(_language)] = None
    region: str = DEFAULT_REGION
    attributes: dict[str, str] = {}

    @model_validator(mode="after")
    def _fill_defaults(self) -> DebtorRow:
        # +86 is China's alone; any other code is parsed again (it can span regions).
        number = None if self.phone.startswith("+86") else phonenumbers.parse(self.phone, None)
        region = "CN" if number is None else phonenumbers.region_code_for_number(number)
        self.region = region or "ZZ"
        if self.timezone is None:
            zone = _TIMEZONE_BY_REGION.get(self.region)
            if zone is None and number is not None:
                zones = phone_timezones.time_zones_for_number(number)
                zone = zones[0] if zones and zones[0] in _zones() else None
            if zone is None:
                raise ValueError("cannot infer the time zone from the phone; give a timezone")
            self.timezone = zone
        if self.language is None:
            self.language = _LANGUAGE_BY_REGION.get(self.region, "en")
        # The primary phone first, each number once.
        self.alt_phones = tuple(dict.fromkeys(p for p in self.alt_phones if p != self.phone))
        return self

    @property
    def phones(self) -> tuple[str, ...]:
        """All numbers in dialling order (primary first)."""
        return (self.phone, *self.alt_phones)


def validate_row(row_number: int, raw: Mapping[str, str]) -> DebtorRow | RowRejected:
    """Validate one CSV row (column name -> text); unknown columns become attributes."""
    data: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    for column, value in raw.items():
        if column in KNOWN_COLUMNS:
            data[column] = value
        else:
            attributes[column] = make_inert(value)
    data["attributes"] = attributes
    try:
        return DebtorRow.model_validate(data)
    except ValidationError as exc:
        fields, reasons = [], []
        for error in exc.errors(include_url=False, include_input=False):
            field = ".".join(str(part) for part in error["loc"]) or "timezone"
            message = error["msg"].removeprefix(_VALUE_ERROR_PREFIX)
            if error["type"] == "missing":
                message = "is required"
            fields.append(field)
            reasons.append(f"{field} {message}")
        return RowRejected(row_number, ",".join(fields), "; ".join(reasons), dict(raw))


@dataclass(frozen=True, slots=True)
class ValidRow:
    """A validated debtor row as `validate_row_fast` builds it: the fields of `DebtorRow`
    (the reference) without a pydantic model behind them."""

    external_id: str
    name: str
    phone: str
    alt_phones: tuple[str, ...]
    id_number: str | None
    amount_due: Decimal
    currency: str
    overdue_days: int
    due_date: date | None
    credit_rating: str | None
    broken_promises: int
    on_time_ratio: Decimal | None
    timezone: str | None
    language: str | None
    region: str
    attributes: dict[str, str]

    @property
    def phones(self) -> tuple[str, ...]:
        return (self.phone, *self.alt_phones)


def validate_row_fast(
    row_number: int, raw: Mapping[str, str]
) -> ValidRow | DebtorRow | RowRejected:
    """`validate_row` for bulk imports: the same field parsers called directly, no model.

    Only a row that parses cleanly with a +86 primary phone is finished here; any error,
    missing column or other country goes through `validate_row`, so results and rejection
    reasons are exactly the reference's (a property test checks both agree).
    """
    get = raw.get
    try:
        external_id = parse_external_id(raw["external_id"])
        name = _name(raw["name"])
        phone = _phone(raw["phone"])
        alt_phones = _alt_phones(get("alt_phones"))
        id_number = parse_id_number(get("id_number"))
        amount_due = parse_amount(raw["amount_due"])
        currency = _currency(get("currency"))
        overdue_days = _overdue_days(raw["overdue_days"])
        due_date = _due_date(get("due_date"))
        credit_rating = _short_text(get("credit_rating"))
        broken_promises = _broken_promises(get("broken_promises"))
        on_time_ratio = _on_time_ratio(get("on_time_ratio"))
        timezone = _timezone(get("timezone"))
        language = _language(get("language"))
    except (KeyError, ValueError):
        return validate_row(row_number, raw)
    if not phone.startswith("+86"):
        return validate_row(row_number, raw)
    attributes = {
        column: make_inert(value) for column, value in raw.items() if column not in KNOWN_COLUMNS
    }
    if alt_phones:
        alt_phones = tuple(dict.fromkeys(p for p in alt_phones if p != phone))
    return ValidRow(
        external_id,
        name,
        phone,
        alt_phones,
        id_number,
        amount_due,
        currency,
        overdue_days,
        due_date,
        credit_rating,
        broken_promises,
        on_time_ratio,
        timezone or _TIMEZONE_BY_REGION["CN"],
        language or _LANGUAGE_BY_REGION["CN"],
        "CN",
        attributes,
    )
