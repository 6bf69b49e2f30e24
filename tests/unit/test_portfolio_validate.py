"""Import validators: one debtor row in, a typed row or a precise rejection out."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.portfolio.validate import (
    DebtorRow,
    RowRejected,
    make_inert,
    parse_id_number,
    parse_phone,
    resident_id_check_char,
    validate_row,
    validate_row_fast,
)

GOOD_ID = "11010519491231002X"
BASE = {
    "external_id": "ACC-1",
    "name": "张三",
    "phone": "13800138000",
    "amount_due": "1234.50",
    "overdue_days": "30",
}


def accepted(**changes: str) -> DebtorRow:
    result = validate_row(2, {**BASE, **changes})
    assert isinstance(result, DebtorRow), result
    return result


def rejected(**changes: str) -> RowRejected:
    result = validate_row(7, {**BASE, **changes})
    assert isinstance(result, RowRejected), result
    assert result.row_number == 7
    return result


def test_minimal_row_gets_cn_defaults() -> None:
    """Validate a row with only the required columns, national CN mobile.

    Expected: phone in E.164, region CN, Asia/Shanghai, zh, CNY, no alt phones, zero
    broken promises, amount as Decimal with two places.
    """
    row = accepted()
    assert row.phone == "+8613800138000"
    assert (row.region, row.timezone, row.language, row.currency) == (
        "CN", "Asia/Shanghai", "zh", "CNY",
    )  # fmt: skip
    assert row.alt_phones == ()
    assert row.broken_promises == 0
    assert row.amount_due == Decimal("1234.50")
    assert isinstance(row.amount_due, Decimal)


@pytest.mark.parametrize(
    ("phone", "e164", "region", "zone", "language"),
    [
        ("+86 138 0013 8000", "+8613800138000", "CN", "Asia/Shanghai", "zh"),
        ("010 6552 9988", "+861065529988", "CN", "Asia/Shanghai", "zh"),
        ("+82 10-1234-5678", "+821012345678", "KR", "Asia/Seoul", "ko"),
        ("+1 650-253-0000", "+16502530000", "US", "America/Los_Angeles", "en"),
        ("+44 20 7946 0000", "+442079460000", "GB", "Europe/London", "en"),
    ],
)
def test_phone_forms_and_region_defaults(
    phone: str, e164: str, region: str, zone: str, language: str
) -> None:
    """Validate rows whose phone is national or E.164 with spaces and dashes.

    Expected: E.164 stored; region, time zone (first zone phonenumbers gives) and language
    follow the phone's country.
    """
    row = accepted(phone=phone)
    assert (row.phone, row.region, row.timezone, row.language) == (e164, region, zone, language)


@pytest.mark.parametrize("phone", ["12345", "call me", "+86 123", "138001380001234", ""])
def test_bad_phone_rejected_without_quoting_it(phone: str) -> None:
    """Validate rows with invalid or missing phones.

    Expected: rejected on field 'phone'; the reason never contains the digits given.
    """
    result = rejected(phone=phone)
    assert result.field == "phone"
    if phone.strip():
        assert phone not in result.reason


def test_alt_phones_validated_deduplicated_and_ordered() -> None:
    """alt_phones '+82 10-1234-5678; 13800138000 ;;13900139000'.

    Expected: the primary's duplicate dropped, order kept, empty parts ignored.
    """
    row = accepted(alt_phones="+82 10-1234-5678; 13800138000 ;;13900139000")
    assert row.alt_phones == ("+821012345678", "+8613900139000")
    assert row.phones[0] == "+8613800138000"


def test_one_bad_alt_phone_rejects_row_naming_it_masked() -> None:
    """alt_phones with a valid first and an invalid second number.

    Expected: the row is rejected on alt_phones, the reason says '#2' and does not contain
    the raw number.
    """
    result = rejected(alt_phones="13900139000;99912345678")
    assert result.field == "alt_phones"
    assert "#2" in result.reason
    assert "99912345678" not in result.reason


def test_resident_id_checksum_good_and_bad() -> None:
    """A known-good 18-char resident ID, the same with a wrong check char, lower-case x.

    Expected: good accepted (upper-cased), wrong check char rejected with 'checksum'.
    """
    assert accepted(id_number=GOOD_ID.lower()).id_number == GOOD_ID
    result = rejected(id_number=GOOD_ID[:17] + "5")
    assert result.field == "id_number"
    assert "checksum" in result.reason


def test_resident_id_birth_date_must_be_real_and_past() -> None:
    """IDs with a valid checksum but birth dates 1949-02-30 and 2999-01-01.

    Expected: both rejected on id_number.
    """
    for birth in ("19490230", "29990101"):
        first17 = "110105" + birth + "002"
        result = rejected(id_number=first17 + resident_id_check_char(first17))
        assert result.field == "id_number"
        assert "birth date" in result.reason


def test_other_id_formats_accepted_within_limits() -> None:
    """A passport number, a 15-digit first-generation ID, then junk.

    Expected: passport and 15-digit ID kept; '12' and a 33-char value and 'A B' rejected.
    """
    assert accepted(id_number="E12345678").id_number == "E12345678"
    assert accepted(id_number="110105491231002").id_number == "110105491231002"
    for junk in ("12", "A" * 33, "A B"):
        assert rejected(id_number=junk).field == "id_number"


@given(st.text(alphabet="0123456789", min_size=8, max_size=8).filter(lambda s: s != "00000000"))
def test_any_valid_checksum_passes_and_any_other_char_fails(serial: str) -> None:
    """Property: for generated IDs (fixed region and birth date, any sequence digits), the
    computed check char is accepted and every other check char is rejected."""
    first17 = "110105" + "19800101" + serial[:3]
    good = resident_id_check_char(first17)
    assert parse_id_number(first17 + good, today=date(2026, 1, 1)) == first17 + good
    for other in "0123456789X":
        if other != good:
            with pytest.raises(ValueError, match="checksum"):
                parse_id_number(first17 + other, today=date(2026, 1, 1))


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("-1.00", "negative"),
        ("1000000000000", "larger"),
        ("1e5", "plain decimal"),
        ("1.005", "2 decimal"),
        ("1,000.00", "plain decimal"),
        ("NaN", "plain decimal"),
        ("", "required"),
    ],
)
def test_bad_amounts_rejected(amount: str, reason: str) -> None:
    """Negative, absurd, exponent (float-like), 3 decimals, thousands separator, NaN, empty.

    Expected: each rejected on amount_due with a reason naming the problem.
    """
    result = rejected(amount_due=amount)
    assert result.field == "amount_due"
    assert reason in result.reason


def test_amount_edges_accepted_exactly() -> None:
    """'0', '999999999999.99', '12.5'. Expected: exact Decimals, quantised to cents."""
    assert accepted(amount_due="0").amount_due == Decimal("0.00")
    assert accepted(amount_due="999999999999.99").amount_due == Decimal("999999999999.99")
    assert str(accepted(amount_due="12.5").amount_due) == "12.50"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("overdue_days", "-1"),
        ("overdue_days", "36501"),
        ("overdue_days", "3.5"),
        ("broken_promises", "-2"),
        ("on_time_ratio", "1.2"),
        ("on_time_ratio", "1e-1"),
        ("due_date", "2024-02-30"),
        ("due_date", "02/03/2024"),
        ("currency", "RMB1"),
        ("language", "fr"),
        ("timezone", "Mars/Olympus"),
        ("timezone", "../../etc/passwd"),
        ("external_id", "=HYPERLINK(1)"),
        ("external_id", "x" * 65),
        ("name", "   "),
    ],
)
def test_field_rules(column: str, value: str) -> None:
    """Each value breaks its column's rule. Expected: rejected naming exactly that column."""
    assert rejected(**{column: value}).field == column


def test_optional_fields_parsed() -> None:
    """All optional columns given. Expected: typed values, ratio rounded to 3 decimals."""
    row = accepted(
        due_date="2024-03-01", credit_rating="B+", broken_promises="3",
        on_time_ratio="0.83333", timezone="Asia/Urumqi", language="EN", currency="usd",
    )  # fmt: skip
    assert row.due_date == date(2024, 3, 1)
    assert row.credit_rating == "B+"
    assert row.broken_promises == 3
    assert row.on_time_ratio == Decimal("0.833")
    assert (row.timezone, row.language, row.currency) == ("Asia/Urumqi", "en", "USD")


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("=1+1", "'=1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("\tx", "'\tx"),
        ("-12.5", "-12.5"),
        ("+86", "+86"),
        ("plain", "plain"),
    ],
)
def test_formula_prefixes_made_inert_unless_numbers(text: str, stored: str) -> None:
    """make_inert on formula-looking and numeric text.

    Expected: formulas get a leading quote; plain numbers and ordinary text are unchanged.
    """
    assert make_inert(text) == stored


def test_formulas_in_name_rating_and_attributes_stored_inert() -> None:
    """A row with formulas in name, credit_rating and an unknown column 'note'.

    Expected: all three stored with a leading quote; the unknown column is an attribute.
    """
    row = accepted(name="=cmd()", credit_rating="@A", note="=1+2", branch="上海")
    assert row.name == "'=cmd()"
    assert row.credit_rating == "'@A"
    assert row.attributes == {"note": "'=1+2", "branch": "上海"}


def test_name_keeps_embedded_newline() -> None:
    """A name with an embedded newline (from a quoted CSV field). Expected: kept as is."""
    assert accepted(name="张\n三").name == "张\n三"


def test_several_errors_reported_together() -> None:
    """Bad phone and bad amount in one row. Expected: both fields listed, both reasons."""
    result = rejected(phone="1", amount_due="-5")
    assert result.field == "phone,amount_due"
    assert "phone" in result.reason and "amount_due" in result.reason
    assert result.raw_row["amount_due"] == "-5"


def _full_parse(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _fast_or_none(text: str) -> str | None:
    try:
        return parse_phone(text)
    except ValueError:
        return None


@settings(max_examples=1000)
@given(
    digits=st.text(alphabet="0123456789", min_size=10, max_size=10),
    form=st.sampled_from(["1{}", "+861{}", "+86 1{}", "1{}-"]),
)
def test_cn_mobile_fast_path_agrees_with_phonenumbers(digits: str, form: str) -> None:
    """Property: for any '1' + 10 digits, national or E.164, with spaces or dashes,
    parse_phone (which short-cuts CN mobiles) returns exactly what phonenumbers' full
    parse + is_valid_number + E.164 formatting returns, including 'invalid'."""
    text = form.format(digits)
    assert _fast_or_none(text) == _full_parse(text)


_FIELD_VALUES = {
    "external_id": ["ACC-1", " ACC-2 ", "", "=X", "x" * 65, "12"],
    "name": ["张三", " Wang Wu ", "", "=cmd()", "张\n三"],
    "phone": ["13800138000", "+86 138 0013 8000", "+82 10-1234-5678", "12345", "",
              "010 6552 9988", "+1 650-253-0000"],
    "alt_phones": ["", "13900139000", "13800138000;13900139000", "99912345678", ";;"],
    "id_number": ["", GOOD_ID, GOOD_ID.lower(), GOOD_ID[:17] + "5", "E12345678", "12"],
    "amount_due": ["1234.50", "0", "-1", "1e5", "12.5", "1.005", ""],
    "currency": ["", "usd", "RMB1"],
    "overdue_days": ["30", "-1", "3.5", ""],
    "due_date": ["", "2024-03-01", "2024-02-30"],
    "credit_rating": ["", "B+", "@A", "x" * 33],
    "broken_promises": ["", "3", "-2"],
    "on_time_ratio": ["", "0.83333", "1.2"],
    "timezone": ["", "Asia/Urumqi", "Mars/Olympus"],
    "language": ["", "EN", "fr"],
    "note": ["", "=1+2", "上海"],
}  # fmt: skip


def _as_tuple(result: object) -> object:
    if isinstance(result, RowRejected):
        return result
    return tuple(getattr(result, name) for name in DebtorRow.model_fields)


@settings(max_examples=1500)
@given(
    st.fixed_dictionaries(
        {column: st.sampled_from(values) for column, values in _FIELD_VALUES.items()}
    ),
    st.sets(st.sampled_from(sorted(set(_FIELD_VALUES) - set(BASE)))),
)
def test_fast_validation_agrees_with_the_pydantic_reference(
    raw: dict[str, str], absent: set[str]
) -> None:
    """Property: validate_row_fast (no model for the common case) gives exactly what
    validate_row gives (every field, or the same rejection), optional columns present,
    empty or absent."""
    row = {column: value for column, value in raw.items() if column not in absent}
    assert _as_tuple(validate_row_fast(3, row)) == _as_tuple(validate_row(3, row))
