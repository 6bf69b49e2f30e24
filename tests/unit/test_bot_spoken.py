"""How prompts say money, dates and counts in zh, en and ko: words for TTS, by the
documented zero, 两/二 and spacing rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ari_apps.bot.spoken import (
    en_number,
    en_ordinal,
    ko_native_number,
    spoken_amount,
    spoken_count,
    spoken_date,
    zh_number,
)

AMOUNTS = [
    ("1234.50", "CNY", "zh", "一千二百三十四元五角"),
    ("1005", "CNY", "zh", "一千零五元"),
    ("10000", "CNY", "zh", "一万元"),
    ("120000", "CNY", "zh", "十二万元"),
    ("2", "CNY", "zh", "两元"),
    ("12", "CNY", "zh", "十二元"),
    ("22", "CNY", "zh", "二十二元"),
    ("200", "CNY", "zh", "两百元"),
    ("2200", "CNY", "zh", "两千二百元"),
    ("20002", "CNY", "zh", "两万零二元"),
    ("10", "CNY", "zh", "十元"),
    ("15", "CNY", "zh", "十五元"),
    ("110", "CNY", "zh", "一百一十元"),
    ("1050", "CNY", "zh", "一千零五十元"),
    ("100500", "CNY", "zh", "十万零五百元"),
    ("1001000", "CNY", "zh", "一百万一千元"),
    ("10010000", "CNY", "zh", "一千零一万元"),
    ("100010000", "CNY", "zh", "一亿零一万元"),
    ("200000000", "CNY", "zh", "两亿元"),
    ("150000000", "CNY", "zh", "一亿五千万元"),
    ("0", "CNY", "zh", "零元"),
    ("0.50", "CNY", "zh", "五角"),
    ("0.05", "CNY", "zh", "五分"),
    ("1.05", "CNY", "zh", "一元零五分"),
    ("2.22", "CNY", "zh", "两元两角两分"),
    ("12.34", "USD", "zh", "十二美元三十四美分"),
    ("3", "GBP", "zh", "三英镑"),
    ("1234.50", "CNY", "en", "one thousand two hundred thirty-four yuan and fifty fen"),
    ("1", "USD", "en", "one dollar"),
    ("0.01", "USD", "en", "one cent"),
    ("19.99", "USD", "en", "nineteen dollars and ninety-nine cents"),
    ("2.50", "GBP", "en", "two pounds and fifty pence"),
    ("0.01", "GBP", "en", "one penny"),
    ("15000", "KRW", "en", "fifteen thousand won"),
    ("0", "USD", "en", "zero dollars"),
    ("1000000", "EUR", "en", "one million euros"),
    ("1234", "KRW", "ko", "천이백삼십사 원"),
    ("15000", "KRW", "ko", "만 오천 원"),
    ("10000", "KRW", "ko", "만 원"),
    ("11", "KRW", "ko", "십일 원"),
    ("120000", "KRW", "ko", "십이만 원"),
    ("100010000", "KRW", "ko", "일억 일만 원"),
    ("123456789", "KRW", "ko", "일억 이천삼백사십오만 육천칠백팔십구 원"),
    ("0", "KRW", "ko", "영 원"),
    ("1234.50", "CNY", "ko", "천이백삼십사 점 오 위안"),
    ("12.34", "USD", "ko", "십이 점 삼사 달러"),
    ("500", "CNY", "ko", "오백 위안"),
]


@pytest.mark.parametrize(("amount", "currency", "language", "expected"), AMOUNTS)
def test_spoken_amount(amount: str, currency: str, language: str, expected: str) -> None:
    """Steps: say an amount.  Expected: the words a native speaker says."""
    assert spoken_amount(Decimal(amount), currency, language) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "language", "message"),
    [
        ("-1", "CNY", "zh", "cannot say"),
        ("NaN", "CNY", "en", "cannot say"),
        ("1.234", "CNY", "zh", "more decimals"),
        ("1.5", "KRW", "ko", "more decimals"),
        ("1000000000000", "CNY", "zh", "outside"),
        ("1", "XYZ", "en", "unsupported currency"),
        ("1", "CNY", "fr", "unsupported language"),
    ],
)
def test_spoken_amount_refuses(amount: str, currency: str, language: str, message: str) -> None:
    """Steps: say a negative, over-precise, too large amount, or in an unknown
    currency or language.  Expected: ValueError."""
    with pytest.raises(ValueError, match=message):
        spoken_amount(Decimal(amount), currency, language)


def test_whole_amount_with_trailing_zero_decimals_is_accepted() -> None:
    """Steps: say 1500.00 KRW.  Expected: the same as 1500 won."""
    assert spoken_amount(Decimal("1500.00"), "KRW", "ko") == "천오백 원"


DATES = [
    (date(2026, 11, 27), "zh", "十一月二十七日星期五"),
    (date(2026, 2, 2), "zh", "二月二日星期一"),
    (date(2026, 10, 10), "zh", "十月十日星期六"),
    (date(2026, 11, 29), "zh", "十一月二十九日星期日"),
    (date(2026, 11, 27), "en", "Friday, November twenty-seventh"),
    (date(2026, 10, 1), "en", "Thursday, October first"),
    (date(2026, 3, 22), "en", "Sunday, March twenty-second"),
    (date(2026, 12, 30), "en", "Wednesday, December thirtieth"),
    (date(2026, 11, 27), "ko", "십일월 이십칠일 금요일"),
    (date(2026, 6, 10), "ko", "유월 십일 수요일"),
    (date(2026, 10, 21), "ko", "시월 이십일일 수요일"),
    (date(2027, 1, 1), "ko", "일월 일일 금요일"),
]


@pytest.mark.parametrize(("day", "language", "expected"), DATES)
def test_spoken_date(day: date, language: str, expected: str) -> None:
    """Steps: say a date.  Expected: month, day and weekday in words, no year."""
    assert spoken_date(day, language) == expected


COUNTS = [
    (30, "day", "zh", "三十天"),
    (2, "day", "zh", "两天"),
    (22, "day", "zh", "二十二天"),
    (2, "month", "zh", "两个月"),
    (3, "time", "zh", "三次"),
    (30, "day", "en", "thirty days"),
    (1, "day", "en", "one day"),
    (0, "day", "en", "zero days"),
    (2, "week", "en", "two weeks"),
    (30, "day", "ko", "삼십 일"),
    (3, "month", "ko", "삼 개월"),
    (3, "hour", "ko", "세 시간"),
    (20, "hour", "ko", "스무 시간"),
    (21, "time", "ko", "스물한 번"),
    (100, "time", "ko", "백 번"),
]


@pytest.mark.parametrize(("n", "unit", "language", "expected"), COUNTS)
def test_spoken_count(n: int, unit: str, language: str, expected: str) -> None:
    """Steps: say a count of days, months, hours or times.
    Expected: zh 两 for a bare 2; ko Sino-Korean for days and months, native for
    hours and times."""
    assert spoken_count(n, unit, language) == expected


@pytest.mark.parametrize(
    ("n", "unit", "language"), [(-1, "day", "zh"), (1, "fortnight", "en"), (1, "day", "fr")]
)
def test_spoken_count_refuses(n: int, unit: str, language: str) -> None:
    """Steps: count a negative number, an unknown unit, in an unknown language.
    Expected: ValueError."""
    with pytest.raises(ValueError):
        spoken_count(n, unit, language)


@given(n=st.integers(0, 10**12 - 1))
def test_zh_number_uses_only_numeral_characters_and_single_zeros(n: int) -> None:
    """Steps: write any number up to 10^12 in Mandarin.
    Expected: numeral characters only, never two 零 in a row, never a trailing 零
    (except for zero itself), and no 一十 at the start."""
    words = zh_number(n)
    assert set(words) <= set("零一二两三四五六七八九十百千万亿")
    assert "零零" not in words
    assert n == 0 or not words.endswith("零")
    assert not words.startswith("一十")


def test_number_helpers() -> None:
    """Steps: spell a few numbers and ordinals.
    Expected: the forms the prompts rely on."""
    assert en_number(999_999_999_999).startswith("nine hundred ninety-nine billion")
    assert en_ordinal(12) == "twelfth" and en_ordinal(20) == "twentieth"
    assert en_ordinal(100) == "one hundredth"
    assert ko_native_number(99) == "아흔아홉"
    assert zh_number(2, counting=False) == "二"
