"""Slots read from what a debtor says — promise dates, amounts, callback times — in
zh, en and ko, against fixed local dates: nothing reads the clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ari_apps.bot.slots import parse_amount, parse_callback_time, parse_promise_date
from ari_apps.bot.spoken import spoken_amount, spoken_date

WED = date(2026, 11, 25)  # a Wednesday
FRI = date(2026, 11, 27)  # a Friday
MONTH_END = date(2026, 1, 31)  # a Saturday, last day of January, February has 28 days
YEAR_END = date(2026, 12, 30)  # a Wednesday, two days before the new year
LEAP = date(2028, 2, 27)  # a Sunday in a 29-day February


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


DATES_ZH = [
    ("今天", WED, WED),
    ("明天", WED, d(11, 26)),
    ("后天", WED, d(11, 27)),
    ("大后天", WED, d(11, 28)),
    ("周五", WED, d(11, 27)),
    ("星期五", WED, d(11, 27)),
    ("礼拜五", WED, d(11, 27)),
    ("周 三", WED, d(12, 2)),  # a bare weekday is strictly after today
    ("周日", WED, d(11, 29)),
    ("星期天", WED, d(11, 29)),
    ("下周五", WED, d(12, 4)),
    ("下 星期五", WED, d(12, 4)),
    ("下个礼拜一", WED, d(11, 30)),
    ("下下周一", WED, d(12, 7)),
    ("这周五", WED, d(11, 27)),
    ("这周三", WED, WED),
    ("本周一", WED, None),  # already gone this week
    ("上周五", WED, None),
    ("15号", WED, d(12, 15)),
    ("二十五号", WED, WED),
    ("二十四号", WED, d(12, 24)),
    ("二十一日", WED, d(12, 21)),
    ("三十一号", WED, None),  # November has 30 days
    ("3月15号", WED, d(3, 15, 2027)),
    ("三月十五号", WED, d(3, 15, 2027)),
    ("十二月一号", WED, d(12, 1)),
    ("十一月二十五日", WED, WED),
    ("下个月十五号", WED, d(12, 15)),
    ("这个月二十号", WED, None),
    ("月底", WED, d(11, 30)),
    ("下个月底", WED, d(12, 31)),
    ("三天后", WED, d(11, 28)),
    ("3天后", WED, d(11, 28)),
    ("十天以后", WED, d(12, 5)),
    ("两周后", WED, d(12, 9)),
    ("过两天", WED, d(11, 27)),
    ("不是明天，是后天", WED, d(11, 27)),
    ("十一月二十七日星期五", WED, d(11, 27)),
    ("我没钱", WED, None),
    ("", WED, None),
    ("周五", FRI, d(12, 4)),
    ("这周五", FRI, FRI),
    ("下周五", FRI, d(12, 4)),
    ("星期六", FRI, d(11, 28)),
    ("这周四", FRI, None),
    ("明天", MONTH_END, d(2, 1)),
    ("月底", MONTH_END, MONTH_END),
    ("下个月底", MONTH_END, d(2, 28)),
    ("15号", MONTH_END, d(2, 15)),
    ("三十号", MONTH_END, None),  # February 2026 has no 30th
    ("三十一号", MONTH_END, MONTH_END),
    ("3天后", MONTH_END, d(2, 3)),
    ("2月29号", MONTH_END, None),
    ("周一", MONTH_END, d(2, 2)),
    ("后天", YEAR_END, d(1, 1, 2027)),
    ("周五", YEAR_END, d(1, 1, 2027)),
    ("下周五", YEAR_END, d(1, 8, 2027)),
    ("5号", YEAR_END, d(1, 5, 2027)),
    ("1月15号", YEAR_END, d(1, 15, 2027)),
    ("12月31号", YEAR_END, d(12, 31)),
    ("12月25号", YEAR_END, d(12, 25, 2027)),
    ("下个月底", YEAR_END, d(1, 31, 2027)),
    ("2月29号", LEAP, d(2, 29, 2028)),
    ("二十九号", LEAP, d(2, 29, 2028)),
    ("三十号", LEAP, None),
    ("月底", LEAP, d(2, 29, 2028)),
    ("3天后", LEAP, d(3, 1, 2028)),
    ("3月1号", LEAP, d(3, 1, 2028)),
    ("2月29号", date(2027, 3, 1), d(2, 29, 2028)),
    ("2月29号", date(2026, 3, 1), None),
]

DATES_EN = [
    ("today", WED, WED),
    ("Tomorrow.", WED, d(11, 26)),
    ("day after tomorrow", WED, d(11, 27)),
    ("the day after tomorrow", WED, d(11, 27)),
    ("friday", WED, d(11, 27)),
    ("on friday", WED, d(11, 27)),
    ("this friday", WED, d(11, 27)),
    ("this wednesday", WED, WED),
    ("this monday", WED, None),
    ("next friday", WED, d(12, 4)),
    ("last friday", WED, None),
    ("on the 15th", WED, d(12, 15)),
    ("15th", WED, d(12, 15)),
    ("the fifteenth", WED, d(12, 15)),
    ("the twenty-first", WED, d(12, 21)),
    ("march 15", WED, d(3, 15, 2027)),
    ("15 march", WED, d(3, 15, 2027)),
    ("March 15th", WED, d(3, 15, 2027)),
    ("the 15th of march", WED, d(3, 15, 2027)),
    ("march fifteenth", WED, d(3, 15, 2027)),
    ("december first", WED, d(12, 1)),
    ("end of the month", WED, d(11, 30)),
    ("end of next month", WED, d(12, 31)),
    ("in 3 days", WED, d(11, 28)),
    ("in three days", WED, d(11, 28)),
    ("in a week", WED, d(12, 2)),
    ("in two weeks", WED, d(12, 9)),
    ("tomorrow no friday", WED, d(11, 27)),
    ("i don't know", WED, None),
    ("friday", FRI, d(12, 4)),
    ("this friday", FRI, FRI),
    ("next friday", FRI, d(12, 4)),
    ("end of the month", MONTH_END, MONTH_END),
    ("on the 30th", MONTH_END, None),
    ("the 31st", MONTH_END, MONTH_END),
    ("january 15th", YEAR_END, d(1, 15, 2027)),
    ("the 5th", YEAR_END, d(1, 5, 2027)),
    ("in three days", YEAR_END, d(1, 2, 2027)),
    ("next friday", YEAR_END, d(1, 8, 2027)),
    ("february 29th", LEAP, d(2, 29, 2028)),
    ("end of the month", LEAP, d(2, 29, 2028)),
    ("the 1st", LEAP, d(3, 1, 2028)),
]

DATES_KO = [
    ("오늘", WED, WED),
    ("내일", WED, d(11, 26)),
    ("모레", WED, d(11, 27)),
    ("내일모레", WED, d(11, 27)),
    ("금요일", WED, d(11, 27)),
    ("이번 주 금요일", WED, d(11, 27)),
    ("다음 주 금요일", WED, d(12, 4)),
    ("다음주 금요일", WED, d(12, 4)),
    ("지난주 금요일", WED, None),
    ("이번 주 월요일", WED, None),
    ("15일", WED, d(12, 15)),
    ("십오일", WED, d(12, 15)),
    ("십오 일", WED, d(12, 15)),
    ("3월 15일", WED, d(3, 15, 2027)),
    ("삼월 십오일", WED, d(3, 15, 2027)),
    ("유월 일일", WED, d(6, 1, 2027)),
    ("시월 삼일", WED, d(10, 3, 2027)),
    ("다음 달 십일", WED, d(12, 10)),
    ("월말", WED, d(11, 30)),
    ("다음 달 말", WED, d(12, 31)),
    ("사흘 뒤", WED, d(11, 28)),
    ("3일 후", WED, d(11, 28)),
    ("삼 일 후", WED, d(11, 28)),
    ("일주일 후", WED, d(12, 2)),
    ("이 주 후", WED, d(12, 9)),
    ("십일월 이십칠일 금요일", WED, d(11, 27)),
    ("네", WED, None),
    ("돈이 없어요", WED, None),
    ("금요일", FRI, d(12, 4)),
    ("이번 주 금요일", FRI, FRI),
    ("다음 주 금요일", FRI, d(12, 4)),
    ("월말", MONTH_END, MONTH_END),
    ("다음 달 말", MONTH_END, d(2, 28)),
    ("삼십 일", MONTH_END, None),
    ("1월 15일", YEAR_END, d(1, 15, 2027)),
    ("다음 주 금요일", YEAR_END, d(1, 8, 2027)),
    ("사흘 뒤", YEAR_END, d(1, 2, 2027)),
    ("5일", YEAR_END, d(1, 5, 2027)),
    ("2월 29일", LEAP, d(2, 29, 2028)),
    ("이월 이십구일", LEAP, d(2, 29, 2028)),
    ("월말", LEAP, d(2, 29, 2028)),
    ("다음 주 월요일", LEAP, d(2, 28, 2028)),
    ("이번 주 일요일", LEAP, LEAP),
    ("이번 주 토요일", LEAP, None),
]


@pytest.mark.parametrize(
    ("language", "text", "today", "expected"),
    [("zh", *row) for row in DATES_ZH]
    + [("en", *row) for row in DATES_EN]
    + [("ko", *row) for row in DATES_KO],
)
def test_promise_date(language: str, text: str, today: date, expected: date | None) -> None:
    """Steps: parse a promised date said on a fixed local date (a Wednesday, a Friday,
    a month end, a year end, a leap February).
    Expected: the date of the documented rule, or None for no date or a past one."""
    assert parse_promise_date(text, language, today) == expected


@settings(max_examples=300, deadline=None)
@given(
    today=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    ahead=st.integers(0, 360),
    language=st.sampled_from(["zh", "en", "ko"]),
)
def test_spoken_date_is_read_back(today: date, ahead: int, language: str) -> None:
    """Steps: say a date up to 360 days ahead as the prompt does, then parse it back.
    Expected: the same date — the weekday after it only qualifies it."""
    day = today + timedelta(days=ahead)
    assert parse_promise_date(spoken_date(day, language), language, today) == day


AMOUNTS = [
    ("zh", "五百", "500"),
    ("zh", "五百块", "500"),
    ("zh", "五 百 块 钱", "500"),
    ("zh", "一千二百元", "1200"),
    ("zh", "1200元", "1200"),
    ("zh", "1,200元", "1200"),
    ("zh", "两千五", "2500"),
    ("zh", "一万二", "12000"),
    ("zh", "三百五", "350"),
    ("zh", "一千零五", "1005"),
    ("zh", "一万", "10000"),
    ("zh", "十二万", "120000"),
    ("zh", "1.5万", "15000"),
    ("zh", "一二零零", "1200"),
    ("zh", "一千二百三十四元五角", "1234.5"),
    ("zh", "五块五", "5.5"),
    ("zh", "三元零五分", "3.05"),
    ("zh", "五毛", "0.5"),
    ("zh", "下周一还五百", "500"),
    ("zh", "三天后还两千", "2000"),
    ("zh", "我一共能还八百", "800"),
    ("zh", "千万别打了", None),
    ("zh", "等一下", None),
    ("zh", "我没钱", None),
    ("en", "five hundred", "500"),
    ("en", "500 dollars", "500"),
    ("en", "1,200", "1200"),
    ("en", "two thousand five hundred", "2500"),
    ("en", "twelve hundred", "1200"),
    ("en", "a hundred bucks", "100"),
    ("en", "one hundred and five", "105"),
    ("en", "$1,200.50", "1200.5"),
    ("en", "fifty cents", "0.5"),
    ("en", "two hundred dollars and fifty cents", "200.5"),
    ("en", "in three days i can pay two hundred", "200"),
    ("en", "at 3 pm", None),
    ("en", "i have no money", None),
    ("ko", "오백", "500"),
    ("ko", "천이백 원", "1200"),
    ("ko", "만 원", "10000"),
    ("ko", "5만원", "50000"),
    ("ko", "만 오천 원", "15000"),
    ("ko", "십만 원", "100000"),
    ("ko", "50000원", "50000"),
    ("ko", "오백이요", "500"),
    ("ko", "내일 오백 원", "500"),
    ("ko", "삼 일 후에 만 원", "10000"),
    ("ko", "이 돈", None),
    ("ko", "오늘", None),
    ("ko", "돈이 없어요", None),
]


@pytest.mark.parametrize(("language", "text", "expected"), AMOUNTS)
def test_amount(language: str, text: str, expected: str | None) -> None:
    """Steps: parse a promised amount.
    Expected: the amount as a Decimal (never a float), or None when none is named."""
    amount = parse_amount(text, language)
    if expected is None:
        assert amount is None
    else:
        assert isinstance(amount, Decimal)
        assert amount == Decimal(expected)


@settings(max_examples=400, deadline=None)
@given(n=st.integers(1, 10**8 - 1))
def test_spoken_zh_amount_is_read_back(n: int) -> None:
    """Steps: say n yuan in Mandarin as the prompt does, parse it back.
    Expected: n."""
    assert parse_amount(spoken_amount(Decimal(n), "CNY", "zh"), "zh") == n


@settings(max_examples=300, deadline=None)
@given(
    cents=st.integers(1, 10**8 - 1),
    case=st.sampled_from(
        [("zh", "CNY"), ("zh", "USD"), ("en", "CNY"), ("en", "USD"), ("en", "GBP")]
    ),
)
def test_spoken_amount_with_cents_is_read_back(cents: int, case: tuple[str, str]) -> None:
    """Steps: say an amount with minor units (元角分, dollars and cents ...), parse it.
    Expected: the same amount."""
    language, currency = case
    amount = Decimal(cents) / 100
    assert parse_amount(spoken_amount(amount, currency, language), language) == amount


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 10**10 - 1), language=st.sampled_from(["en", "ko"]))
def test_spoken_whole_amount_is_read_back(n: int, language: str) -> None:
    """Steps: say n won in English or Korean (만 groups spaced), parse it back.
    Expected: n."""
    assert parse_amount(spoken_amount(Decimal(n), "KRW", language), language) == n


SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 11, 30, tzinfo=SHANGHAI)  # a Wednesday


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


CALLBACKS = [
    ("zh", "明天上午十点", at(26, 10)),
    ("zh", "下午三点", at(25, 15)),
    ("zh", "晚上八点", at(25, 20)),
    ("zh", "明天 下午 三点 半", at(26, 15, 30)),
    ("zh", "今晚八点", at(25, 20)),
    ("zh", "中午一点", at(25, 13)),
    ("zh", "三点", at(25, 15)),  # no period: 1–7 is the afternoon
    ("zh", "十点", None),  # 10:00 today is gone
    ("zh", "周五下午两点十五分", at(27, 14, 15)),
    ("zh", "下午三点一刻", at(25, 15, 15)),
    ("zh", "两个小时后", at(25, 13, 30)),
    ("zh", "半小时后", at(25, 12)),
    ("zh", "一个半小时后", at(25, 13)),
    ("zh", "晚一点", None),
    ("zh", "明天", None),
    ("en", "tomorrow at 3 pm", at(26, 15)),
    ("en", "at 10 am", None),
    ("en", "tomorrow at 10:30 a.m.", at(26, 10, 30)),
    ("en", "3pm", at(25, 15)),
    ("en", "at three thirty p m", at(25, 15, 30)),
    ("en", "tomorrow at noon", at(26, 12)),
    ("en", "at 8 tonight", at(25, 20)),
    ("en", "friday at 9", at(27, 9)),
    ("en", "tomorrow at 9 in the morning", at(26, 9)),
    ("en", "in 2 hours", at(25, 13, 30)),
    ("en", "in half an hour", at(25, 12)),
    ("en", "i will pay five hundred", None),
    ("ko", "내일 오후 세 시", at(26, 15)),
    ("ko", "오후 3시", at(25, 15)),
    ("ko", "오후 세 시 반", at(25, 15, 30)),
    ("ko", "내일 오전 열 시", at(26, 10)),
    ("ko", "저녁 여덟 시", at(25, 20)),
    ("ko", "금요일 오후 두 시 삼십 분", at(27, 14, 30)),
    ("ko", "내일 열두 시", at(26, 12)),
    ("ko", "열한 시", None),
    ("ko", "내일 일곱 시", at(26, 19)),
    ("zh", "二十四点", None),
    ("en", "in 1000 hours", None),
    ("ko", "두 시간 뒤", at(25, 13, 30)),
    ("ko", "삼십 분 후", at(25, 12)),
    ("ko", "한 시간 반 후", at(25, 13)),
    ("ko", "네", None),
]


@pytest.mark.parametrize(("language", "text", "expected"), CALLBACKS)
def test_callback_time(language: str, text: str, expected: datetime | None) -> None:
    """Steps: parse a callback time said at 11:30 on Wednesday 2026-11-25, Shanghai.
    Expected: the instant in the same zone, or None for no time or one already past."""
    result = parse_callback_time(text, language, NOW)
    assert result == expected
    if result is not None:
        assert result.tzinfo is SHANGHAI


EN_WORDS = (
    "0 12 31 999999999999 a the of in at next this friday may day days weeks hours half "
    "hundred thousand and twenty first 15th am p m dollars cents tonight noon :"
)
WORDS = {
    "zh": list("零一两三五十百千万亿0123456789号日月天周星期下这上后今明过点分半个小时元块毛钱晚,"),
    "en": EN_WORDS.split(" "),
    "ko": [*"영일이삼오십백천만억0123456789월금요주다음이번달말후시분간반오전원한두세열 ", "사흘"],
}


@settings(max_examples=300, deadline=None)
@given(data=st.data(), language=st.sampled_from(["zh", "en", "ko"]))
def test_parsers_take_any_mix_of_their_words(data: st.DataObject, language: str) -> None:
    """Steps: parse random sequences of the words the parsers look for (huge
    numbers, half expressions, clashing units) as an amount, a date and a time.
    Expected: a value of the right type or None, never an exception."""
    words = data.draw(st.lists(st.sampled_from(WORDS[language]), min_size=1, max_size=8))
    text = (" " if language == "en" else "").join(words)
    amount = parse_amount(text, language)
    assert amount is None or isinstance(amount, Decimal)
    day = parse_promise_date(text, language, WED)
    assert day is None or day >= WED
    callback = parse_callback_time(text, language, NOW)
    assert callback is None or callback > NOW


def test_callback_time_in_a_dst_gap_is_a_real_instant() -> None:
    """Steps: in New York at 20:00 on 2026-03-07, ask for "tomorrow at 2:30 am" — the
    clocks jump from 02:00 to 03:00 that night.
    Expected: 03:30 EDT, the instant 02:30 EST would have been."""
    new_york = ZoneInfo("America/New_York")
    now = datetime(2026, 3, 7, 20, tzinfo=new_york)
    result = parse_callback_time("tomorrow at 2:30 am", "en", now)
    assert result == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert result is not None and result.utcoffset() == timedelta(hours=-4)


def test_callback_time_keeps_a_fixed_offset_zone() -> None:
    """Steps: parse "in 2 hours" with `now` in a fixed +09:00 zone.
    Expected: two hours later in that same zone."""
    seoul = timezone(timedelta(hours=9))
    now = datetime(2026, 11, 25, 9, tzinfo=seoul)
    result = parse_callback_time("두 시간 후", "ko", now)
    assert result == now + timedelta(hours=2)
    assert result is not None and result.tzinfo is seoul


def test_callback_time_needs_an_aware_now() -> None:
    """Steps: parse with a naive `now`.  Expected: ValueError."""
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_callback_time("明天上午十点", "zh", datetime(2026, 11, 25, 11, 30))


def test_unknown_language_is_refused() -> None:
    """Steps: parse an amount, a date and a callback time in French.
    Expected: ValueError each time."""
    with pytest.raises(ValueError, match="unsupported language"):
        parse_amount("500", "fr")
    with pytest.raises(ValueError, match="unsupported language"):
        parse_promise_date("demain", "fr", WED)
    with pytest.raises(ValueError, match="unsupported language"):
        parse_callback_time("demain à 15 h", "fr", NOW)
