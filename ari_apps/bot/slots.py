"""Slot values in what a debtor says: a promised payment date, a promised amount
and a callback time, in Mandarin ("zh"), English ("en") and Korean ("ko").

Pure: the caller passes the debtor's local `today` / `now`; nothing here reads the
clock. Text is normalised with `intents.normalise` first (Chinese loses its spaces).

Dates — the documented choices:
- a bare weekday ("周五", "friday", "금요일") is its next occurrence strictly after
  today: said on a Friday, "Friday" is a week later;
- "this" + weekday ("这周五", "本周五", "this friday", "이번 주 금요일") is that day of the
  current Monday-based week, today included; a day already gone → None;
- "next" + weekday ("下周五", "next friday", "다음 주 금요일") is that day of the next
  Monday-based week, "下下周五"/"다다음 주" the week after; "上周五", "last friday",
  "지난주 금요일" are recognised (so never read as a bare weekday) and give None;
- a day of the month ("15号", "the 15th", "15일") is in the current month when it is
  today or later, else in the next month; a day that month lacks (31号 in a
  30-day month) → None: the bot asks again rather than invent a date.
  "下个月15号" / "다음 달 15일" name the month;
- month and day ("3月15号", "march 15", "3월 15일") is this year when today or later,
  else next year; a day that year lacks (2月29号 outside a leap year) → None;
- "月底", "end of the month", "월말": the last day of this month ("下个月底",
  "end of next month", "다음 달 말": of the next);
- relative: "三天后", "in 3 days", "사흘 뒤", "3일 후", and weeks ("两周后", "일주일 후");
- with several date expressions the last one wins ("不是明天，是后天" → 后天), except
  that a bare weekday right after a date only qualifies it ("十一月二十七日星期五");
  the result in the past → None.
Amounts (`parse_amount`): read in `numerals`, with the numbers; see there.
Callback times: "明天上午十点", "下午三点半", "tomorrow at 3 pm", "at 10:30 am",
"내일 오후 세 시", "오후 3시 반"; the day by the date rules above (none → today, a
time alone is needed: "明天" alone → None); without 上午/am/오전..., hours 1–7 are
afternoon (13–19) and 8–12 as said; 12 am/凌晨十二点 is midnight. Relative:
"两个小时后", "半小时后", "in 2 hours", "in 30 minutes", "두 시간 후", "30분 후". The
result is in `now`'s zone; not after `now` → None.
Relative dates beyond 10 years and callback delays beyond 14 days are no answer → None.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from ari_apps.bot.intents import normalise
from ari_apps.bot.numerals import (
    EN_CARDINALS,
    EN_MONTH_NUMBERS,
    EN_ORDINALS,
    EN_WEEKDAY_NUMBERS,
    KO,
    KO_NATIVE,
    KO_NATIVE_DAYS,
    ZH,
    Numerals,
    alternatives,
    cjk_number,
    en_day,
    parse_amount,
    to_int,
)
from ari_apps.bot.spoken import en_number

__all__ = [  # the numerals and parse_amount live in `numerals` and are still exported here
    "EN_CARDINALS",
    "EN_MONTH_NUMBERS",
    "EN_ORDINALS",
    "EN_WEEKDAY_NUMBERS",
    "KO",
    "KO_NATIVE",
    "KO_NATIVE_DAYS",
    "MAX_AHEAD",
    "MAX_DELAY",
    "ZH",
    "Numerals",
    "Resolve",
    "cjk_number",
    "parse_amount",
    "parse_callback_time",
    "parse_promise_date",
]


# --- dates -----------------------------------------------------------------------

Resolve = Callable[[re.Match[str], date, str], date | None]
MAX_AHEAD = timedelta(days=3660)  # "in 999999 days" is no date
MAX_DELAY = timedelta(days=14)  # nor is "in 1000 hours" a callback


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    day: date | None
    weekday_only: bool  # a bare weekday, which right after a date only qualifies it


def parse_promise_date(text: str, language: str, today: date) -> date | None:
    """The date the debtor promises to pay, or None (no date, or a past one)."""
    found = _find_date(normalise(text, language), language, today)
    if found is None or found.day is None or found.day < today:
        return None
    return found.day


def _find_date(said: str, language: str, today: date) -> _Found | None:
    found = [
        _Found(
            match.start(),
            match.end(),
            resolve(match, today, language),
            weekday_only=resolve is _weekday and not match["p"],
        )
        for pattern, resolve in _DATE_RULES[language]
        for match in pattern.finditer(said)
    ]
    kept: list[_Found] = []  # leftmost-longest, without overlaps
    for candidate in sorted(found, key=lambda f: (f.start, f.start - f.end)):
        if not kept or candidate.start >= kept[-1].end:
            kept.append(candidate)
    if not kept:
        return None
    if len(kept) > 1 and _qualifies(kept[-1], kept[-2]):
        return kept[-2]  # "十一月二十七日星期五", "11월 27일 금요일"
    return kept[-1]


def _qualifies(weekday: _Found, previous: _Found) -> bool:
    """Whether a weekday right after a date is only that date's weekday."""
    return weekday.weekday_only and not previous.weekday_only and weekday.start - previous.end <= 1


def _add_months(day: date, months: int) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 + months
    return index // 12, index % 12 + 1


def _on(year: int, month: int, day: int) -> date | None:
    if 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]:
        return date(year, month, day)
    return None


def _offset(days: int) -> Resolve:
    return lambda match, today, language: today + timedelta(days=days)


def _relative(match: re.Match[str], today: date, language: str) -> date | None:
    groups = match.groupdict()
    count = KO_NATIVE_DAYS.get(groups.get("w") or "") or to_int(groups.get("n") or "", language)
    if count is None:
        return None
    unit = groups.get("u") or ""
    weeks = any(word in unit for word in ("周", "星期", "礼拜", "week", "주"))
    days = count * (7 if weeks else 1)
    return today + timedelta(days=days) if days <= MAX_AHEAD.days else None


_WEEKDAYS = {
    **{char: index for index, char in enumerate("一二三四五六")},
    **{char: index for index, char in enumerate("1234567")},
    **{char: index for index, char in enumerate("월화수목금토")},
    "日": 6, "天": 6, "일": 6, **EN_WEEKDAY_NUMBERS,
}  # fmt: skip
_WEEK_OFFSETS = {
    "这": 0, "这个": 0, "本": 0, "下": 1, "下个": 1, "下下": 2, "下下个": 2, "上": -1, "上个": -1,
    "this": 0, "next": 1, "last": -1, "이번주": 0, "다음주": 1, "담주": 1, "다다음주": 2,
    "지난주": -1, "저번주": -1,
}  # fmt: skip


def _weekday(match: re.Match[str], today: date, language: str) -> date | None:
    weekday = _WEEKDAYS[match["d"]]
    prefix = (match["p"] or "").replace(" ", "")
    if prefix not in _WEEK_OFFSETS:  # bare, "on", "coming": strictly after today
        return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(days=7 * _WEEK_OFFSETS[prefix] + weekday)


def _month_offset(prefix: str | None) -> int:
    return 1 if prefix and ("下" in prefix or "다음" in prefix or "next" in prefix) else 0


def _day(match: re.Match[str], today: date, language: str) -> date | None:
    day = en_day(match["d"]) if language == "en" else to_int(match["d"], language)
    if day is None:
        return None
    prefix = match.groupdict().get("p")
    if prefix is None and day < today.day:
        prefix = "next"
    return _on(*_add_months(today, _month_offset(prefix)), day)


def _month_day(match: re.Match[str], today: date, language: str) -> date | None:
    if language == "en":
        month, day = EN_MONTH_NUMBERS.get(match["m"]), en_day(match["d"])
    else:
        month = {"유": 6, "시": 10}.get(match["m"]) or to_int(match["m"], language)
        day = to_int(match["d"], language)
    if month is None or day is None:
        return None
    year = today.year if (month, day) >= (today.month, today.day) else today.year + 1
    return _on(year, month, day)


def _month_end(match: re.Match[str], today: date, language: str) -> date | None:
    year, month = _add_months(today, _month_offset(match["p"]))
    return date(year, month, calendar.monthrange(year, month)[1])


_ZH_N = r"(?:\d+|[零〇一二两三四五六七八九十])(?:\d+|[零〇一二两三四五六七八九十百])*"
# a well-formed Sino-Korean number below 100, so "이월 이일 일요일" is not read as 이일
_KO_N = r"(?:\d+|[이삼사오육칠팔구]?십[일이삼사오육칠팔구]?|[일이삼사오육칠팔구])"
_EN_N = rf"\d+|a couple of|an|a|{alternatives(EN_CARDINALS)}"
_EN_DAY = rf"\d{{1,2}}(?:st|nd|rd|th)?|{alternatives(EN_ORDINALS)}"
_EN_MONTH = alternatives(EN_MONTH_NUMBERS)
_KO_AFTER = r"\s?(?:후|뒤|있다가|지나서)"

_DATE_RULES: dict[str, tuple[tuple[re.Pattern[str], Resolve], ...]] = {
    language: tuple((re.compile(pattern), resolve) for pattern, resolve in rules)
    for language, rules in {
        "zh": (
            ("今天|今日|今晚", _offset(0)),
            ("明天|明日|明晚", _offset(1)),
            ("后天", _offset(2)),
            ("大后天", _offset(3)),
            (r"(?P<p>下下个?|下个?|这个?|本|上个?)?(?:周|星期|礼拜)"
             r"(?P<d>[一二三四五六日天1-7])", _weekday),
            (rf"(?P<m>{_ZH_N})月(?P<d>{_ZH_N})(?:号|日)?", _month_day),
            (rf"(?P<p>下个?|这个?|本)月(?P<d>{_ZH_N})(?:号|日)?", _day),
            (rf"(?P<d>{_ZH_N})(?:号|日)", _day),
            ("(?P<p>下个?|这个?|本)?月(?:底|末)", _month_end),
            (rf"(?P<n>{_ZH_N})(?P<u>天|日|个?星期|个?礼拜|周)(?:以后|之后|后)", _relative),
            (rf"过(?P<n>{_ZH_N})(?P<u>天|个?星期|个?礼拜|周)", _relative),
        ),
        "en": (
            (r"\b(?:today|tonight|this (?:morning|afternoon|evening))\b", _offset(0)),
            (r"\btomorrow\b", _offset(1)),
            (r"\b(?:the )?day after tomorrow\b", _offset(2)),
            (rf"\bin (?P<n>{_EN_N}) (?P<u>days?|weeks?)\b", _relative),
            (rf"\b(?P<n>{_EN_N}) (?P<u>days?|weeks?) from (?:now|today)\b", _relative),
            (rf"\b(?:(?P<p>this|next|last|coming) )?(?P<d>{alternatives(EN_WEEKDAY_NUMBERS)})\b",
             _weekday),
            (rf"\b(?P<m>{_EN_MONTH}) (?:the )?(?P<d>{_EN_DAY}|{alternatives(EN_CARDINALS)})\b",
             _month_day),
            (rf"\b(?:the )?(?P<d>{_EN_DAY}) (?:of )?(?P<m>{_EN_MONTH})\b", _month_day),
            (r"\b(?P<d>\d{1,2}(?:st|nd|rd|th))\b", _day),
            (rf"\bthe (?P<d>{_EN_DAY})\b", _day),
            (r"\bend of (?:the |this )?(?:(?P<p>next) )?month\b", _month_end),
        ),
        "ko": (
            ("오늘", _offset(0)),
            ("내일", _offset(1)),
            ("모레", _offset(2)),
            ("글피", _offset(3)),
            (r"(?:(?P<p>다다음\s?주|다음\s?주|담주|이번\s?주|지난\s?주|저번\s?주)\s?)?"
             r"(?P<d>[월화수목금토일])요일", _weekday),
            (rf"(?<![가-힣])(?P<m>{_KO_N}|유|시)\s?월\s?(?P<d>{_KO_N})\s?일(?!요)", _month_day),
            (rf"(?P<p>이번\s?달|다음\s?달)\s?(?P<d>{_KO_N})\s?일(?!요)", _day),
            (rf"(?<![가-힣])(?P<d>{_KO_N})\s?일(?!요)", _day),
            (r"(?P<p>이번\s?달|다음\s?달)\s?(?:월말|말일|말)|월말|말일", _month_end),
            (rf"(?<![가-힣])(?P<n>{_KO_N})\s?(?P<u>일|주일?){_KO_AFTER}", _relative),
            (rf"(?P<w>{alternatives(KO_NATIVE_DAYS)}){_KO_AFTER}", _relative),
        ),
    }.items()
}  # fmt: skip


# --- callback times --------------------------------------------------------------

_PERIODS = {
    "早上": "am", "早晨": "am", "上午": "am", "凌晨": "am", "中午": "noon", "下午": "pm",
    "傍晚": "pm", "晚上": "pm", "夜里": "pm", "晚": "pm",
    "am": "am", "a m": "am", "pm": "pm", "p m": "pm", "in the morning": "am",
    "in the afternoon": "pm", "in the evening": "pm", "at night": "pm", "tonight": "pm",
    "오전": "am", "아침": "am", "새벽": "am", "낮": "noon", "오후": "pm", "저녁": "pm", "밤": "pm",
}  # fmt: skip
_EN_PERIOD_WORDS = {"tonight": "pm", "evening": "pm", "afternoon": "pm", "night": "pm",
                    "morning": "am"}  # fmt: skip
_EN_HOURS = [en_number(n) for n in range(1, 13)]
_EN_MINUTES = [en_number(n).replace("-", " ") for n in range(1, 60)]
_CLOCKS = {
    "zh": re.compile(
        r"(?:(?P<p>早上|早晨|上午|凌晨|中午|下午|傍晚|晚上|夜里|晚(?=[二两三四五六七八九十\d]))"
        rf"|(?<![早晚快慢多少好大小高低差]))(?P<h>{_ZH_N})(?:点钟|点|时)"
        rf"(?:(?P<half>半)|(?P<q>一刻|三刻)|(?P<m>{_ZH_N})分?)?"
    ),
    "en": re.compile(
        rf"\b(?P<at>at |around |by )?(?P<h>\d{{1,2}}|{alternatives(_EN_HOURS)})"
        rf"(?::(?P<m>\d{{2}})| (?P<mw>{alternatives(_EN_MINUTES)}))?"
        r"(?: ?(?P<p>a ?m|p ?m|o'?clock|in the morning|in the afternoon|in the evening"
        r"|at night|tonight))?\b"
    ),
    "ko": re.compile(
        r"(?:(?P<p>오전|오후|아침|낮|저녁|밤|새벽)\s?|(?<![가-힣]))"
        rf"(?P<h>{alternatives(KO_NATIVE)}|\d{{1,2}})\s?시(?!간)"
        rf"(?:\s?(?P<half>반)|\s?(?P<m>\d{{1,2}}|{_KO_N})\s?분)?"
    ),
}
_DELAYS = {
    "zh": re.compile(rf"(?P<n>{_ZH_N}|半)个?(?P<half>半)?(?P<u>小时|钟头|分钟)(?:以后|之后|后)"),
    "en": re.compile(rf"\bin (?:(?P<half>half an)|(?P<n>{_EN_N})) (?P<u>hours?|minutes?|mins?)\b"),
    "ko": re.compile(
        rf"(?<![가-힣])(?P<n>{alternatives(KO_NATIVE)}|{_KO_N})\s?(?P<u>시간|분)"
        rf"(?P<half>\s?반)?{_KO_AFTER}"
    ),
}


def parse_callback_time(text: str, language: str, now: datetime) -> datetime | None:
    """When the debtor asks to be called back, in `now`'s zone; None when the text
    names no time, or one not after `now`. `now` must be timezone-aware."""
    zone = now.tzinfo
    if zone is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    said = normalise(text, language)
    delay = _delay(said, language)
    if delay is not None:
        return (now.astimezone(UTC) + delay).astimezone(zone) if delay else None
    clock = _clock(said, language)
    if clock is None:
        return None
    found = _find_date(said, language, now.date())
    day = now.date() if found is None else found.day
    if day is None:
        return None
    instant = datetime.combine(day, clock, tzinfo=zone).astimezone(UTC).astimezone(zone)
    return instant if instant > now else None


def _delay(said: str, language: str) -> timedelta | None:
    match = _DELAYS[language].search(said)
    if match is None:
        return None
    half = bool(match["half"]) or match["n"] == "半"
    count = 0 if match["n"] in (None, "半") else to_int(match["n"], language)
    if count is None:
        return None
    hourly = match["u"] in ("小时", "钟头", "시간") or match["u"].startswith("hour")
    minutes = count * 60 + 30 * half if hourly else count
    return timedelta(minutes=minutes) if minutes <= MAX_DELAY / timedelta(minutes=1) else None


def _clock(said: str, language: str) -> time | None:
    if language == "en" and re.search(r"\b(?:noon|midday)\b", said):
        return time(12)
    for match in _CLOCKS[language].finditer(said):
        groups = match.groupdict()
        if language == "en" and not (groups["at"] or groups["p"]):
            continue  # a bare number is not a time
        period = _PERIODS.get(groups["p"] or "", "")
        if language == "en" and not groups["p"]:
            periods = (p for word, p in _EN_PERIOD_WORDS.items() if re.search(rf"\b{word}\b", said))
            period = next(periods, "")  # "at 8 tonight", "tomorrow morning at 9"
        hour, minute = _hour24(to_int(groups["h"], language), period), _minute(groups, language)
        if hour is None or minute is None or not 0 <= minute < 60:
            return None
        return time(hour, minute)
    return None


def _minute(groups: dict[str, str | None], language: str) -> int | None:
    if groups.get("half"):
        return 30
    if groups.get("q"):
        return 15 if groups["q"] == "一刻" else 45
    words = groups.get("m") or groups.get("mw")
    return to_int(words, language) if words else 0


def _hour24(hour: int | None, period: str) -> int | None:
    """24-hour clock from an hour and a period ("am", "pm", "noon" or none)."""
    if hour is None or hour > 23 or (period == "am" and hour > 12):
        return None
    if period == "am":
        return 0 if hour == 12 else hour
    if period == "pm" or (period == "noon" and hour <= 5) or (not period and 1 <= hour <= 7):
        return hour + 12 if hour < 12 else hour
    return hour
