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
Amounts: Chinese and Sino-Korean numerals (十百千, 万亿 / 십백천, 만억, mixed with
digits: "5万", "1.5万"); the colloquial zh tail "两千五" = 2500, "一万二" = 12000 (a
lone digit after a unit of 百 or more is one order lower unless 零 precedes it);
zh 元/块 + 角/毛 + 分 ("五块五" = 5.5); en number words or digits ("1,200",
"twelve hundred") with "and fifty cents"; Korean whole amounts. With several
numbers, the one followed by a currency word wins, else the first that is not a
date, time or count ("下周一还五百" → 500).
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from ari_apps.bot.intents import normalise
from ari_apps.bot.spoken import EN_MONTHS, EN_WEEKDAYS, en_number, en_ordinal

# --- numerals --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Numerals:
    """A CJK numeral system: digits, units below 10^4, group units; whether a lone
    tail digit is one order below the last unit (zh "两千五" = 2500) and whether a
    run of bare digits reads digit by digit (zh "一二零零" = 1200)."""

    digits: Mapping[str, int]
    small: Mapping[str, int]
    big: Mapping[str, int]
    colloquial: bool
    digit_strings: bool


ZH = Numerals(
    dict(zip("零〇一二两三四五六七八九", (0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True)),
    {"十": 10, "百": 100, "千": 1000},
    {"万": 10**4, "亿": 10**8},
    colloquial=True,
    digit_strings=True,
)
KO = Numerals(
    dict(zip("영공일이삼사오육칠팔구", (0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9), strict=True)),
    {"십": 10, "백": 100, "천": 1000},
    {"만": 10**4, "억": 10**8},
    colloquial=False,
    digit_strings=False,
)
_ARABIC = re.compile(r"\d+(?:\.\d+)?")
_NO_UNIT = 10**13


def cjk_number(run: str, system: Numerals) -> Decimal | None:
    """The value of a numeral run ("一千二百", "两千五", "5万", "천이백"), or None when it
    is not a well-formed number."""
    if not run:
        return None
    if system.digit_strings and len(run) > 1 and all(char in system.digits for char in run):
        return Decimal("".join(str(system.digits[char]) for char in run))
    total, section, pending = Decimal(0), Decimal(0), None
    last_small, last_big, last_unit, after_zero = _NO_UNIT, _NO_UNIT, 1, False
    index = 0
    while index < len(run):
        arabic = _ARABIC.match(run, index)
        char = run[index]
        index = arabic.end() if arabic else index + 1
        if arabic or system.digits.get(char, 0):
            if pending is not None:
                return None
            pending = Decimal(arabic.group()) if arabic else Decimal(system.digits[char])
        elif char in system.digits:  # a zero
            if pending is not None:
                return None
            after_zero = True
        elif char in system.small:
            unit = system.small[char]
            if unit >= last_small:
                return None
            section += (Decimal(1) if pending is None else pending) * unit
            pending, last_small, last_unit, after_zero = None, unit, unit, False
        elif char in system.big:
            unit = system.big[char]
            if unit >= last_big:
                return None
            total += (section + (pending or 0) or 1) * unit
            section, pending, after_zero = Decimal(0), None, False
            last_small, last_big, last_unit = _NO_UNIT, unit, unit
        else:
            return None
    if pending is not None:
        lone_digit = pending == pending.to_integral_value() and 1 <= pending <= 9
        if system.colloquial and lone_digit and not after_zero and last_unit >= 100:
            pending *= last_unit // 10
        section += pending
    return total + section


def _int(value: Decimal | None) -> int | None:
    return int(value) if value is not None and value == value.to_integral_value() else None


def _alternatives(words: Mapping[str, int] | list[str]) -> str:
    return "|".join(sorted((re.escape(word) for word in words), key=len, reverse=True))


EN_CARDINALS = {en_number(n).replace("-", " "): n for n in range(100)}
EN_ORDINALS = {en_ordinal(n).replace("-", " "): n for n in range(1, 32)}
EN_MONTH_NUMBERS = {name.lower(): index + 1 for index, name in enumerate(EN_MONTHS)}
EN_WEEKDAY_NUMBERS = {name.lower(): index for index, name in enumerate(EN_WEEKDAYS)}
KO_NATIVE = {
    "한": 1, "두": 2, "세": 3, "네": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9,
    "열": 10, "열한": 11, "열두": 12,
}  # fmt: skip
KO_NATIVE_DAYS = {
    "하루": 1, "이틀": 2, "사흘": 3, "나흘": 4, "닷새": 5, "엿새": 6, "이레": 7, "여드레": 8,
    "아흐레": 9, "열흘": 10,
}  # fmt: skip


def _en_int(words: str) -> int | None:
    if words.isdigit():
        return int(words)
    if words in ("a", "an", "a couple of"):
        return 2 if "couple" in words else 1
    return EN_CARDINALS.get(words)


def _en_day(words: str) -> int | None:
    digits = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?", words)
    return int(digits[1]) if digits else EN_ORDINALS.get(words, EN_CARDINALS.get(words))


def _number(words: str, language: str) -> int | None:
    if language == "zh":
        return _int(cjk_number(words, ZH))
    if language == "ko":
        return KO_NATIVE.get(words) or _int(cjk_number(words, KO))
    return _en_int(words)


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
    count = KO_NATIVE_DAYS.get(groups.get("w") or "") or _number(groups.get("n") or "", language)
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
    day = _en_day(match["d"]) if language == "en" else _number(match["d"], language)
    if day is None:
        return None
    prefix = match.groupdict().get("p")
    if prefix is None and day < today.day:
        prefix = "next"
    return _on(*_add_months(today, _month_offset(prefix)), day)


def _month_day(match: re.Match[str], today: date, language: str) -> date | None:
    if language == "en":
        month, day = EN_MONTH_NUMBERS.get(match["m"]), _en_day(match["d"])
    else:
        month = {"유": 6, "시": 10}.get(match["m"]) or _number(match["m"], language)
        day = _number(match["d"], language)
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
_EN_N = rf"\d+|a couple of|an|a|{_alternatives(EN_CARDINALS)}"
_EN_DAY = rf"\d{{1,2}}(?:st|nd|rd|th)?|{_alternatives(EN_ORDINALS)}"
_EN_MONTH = _alternatives(EN_MONTH_NUMBERS)
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
            (rf"\b(?:(?P<p>this|next|last|coming) )?(?P<d>{_alternatives(EN_WEEKDAY_NUMBERS)})\b",
             _weekday),
            (rf"\b(?P<m>{_EN_MONTH}) (?:the )?(?P<d>{_EN_DAY}|{_alternatives(EN_CARDINALS)})\b",
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
            (rf"(?P<w>{_alternatives(KO_NATIVE_DAYS)}){_KO_AFTER}", _relative),
        ),
    }.items()
}  # fmt: skip


# --- amounts ---------------------------------------------------------------------

_ZH_DIGIT = "零〇一二两三四五六七八九"
# never leading with 百/千/万/亿: "千万" (by all means) and "万一" (just in case) are words
_ZH_AMOUNT_N = rf"(?:\d+(?:\.\d+)?|[{_ZH_DIGIT}十])(?:\d+(?:\.\d+)?|[{_ZH_DIGIT}十百千万亿])*"
_ZH_NUMBER = re.compile(_ZH_AMOUNT_N)
_ZH_CENTS = r"(?:美分|欧分|便士|分)(?!钟)"
_ZH_MONEY = re.compile(
    rf"(?P<major>{_ZH_AMOUNT_N})(?:块钱|块|元钱|元|圆|美元|美金|英镑|欧元|韩元|日元)"
    rf"(?:(?P<jiao>{_ZH_AMOUNT_N})(?:毛钱|毛|角))?(?:(?P<fen>{_ZH_AMOUNT_N}){_ZH_CENTS})?"
    rf"(?:(?P<tail>[一二两三四五六七八九])(?![{_ZH_DIGIT}十百千万亿\d毛角分]))?"
    rf"|(?P<jiao_only>{_ZH_AMOUNT_N})(?:毛钱|毛|角)(?:(?P<fen_after>{_ZH_AMOUNT_N}){_ZH_CENTS})?"
    rf"|(?P<fen_only>{_ZH_AMOUNT_N}){_ZH_CENTS}"
)
_ZH_NOT_AMOUNT_BEFORE = ("周", "星期", "礼拜", "第")
_ZH_NOT_AMOUNT_AFTER = (
    "号", "日", "月", "天", "周", "星期", "礼拜", "点", "时", "分", "个", "年", "岁", "次",
    "小时", "半", "些", "下", "楼", "层", "倍", "折",
)  # fmt: skip
_MONEY_PARTS = (("major", 1), ("jiao", 10), ("fen", 100), ("tail", 10), ("jiao_only", 10),
                ("fen_after", 100), ("fen_only", 100))  # fmt: skip

_KO_CURRENCY = ("원", "위안", "달러", "불", "파운드", "유로", "엔")
_KO_FOLLOWERS = (*_KO_CURRENCY, "정도", "쯤", "씩", "까지", "만큼", "이요", "이에요", "입니다",
                 "요", "은", "는", "을", "를", "가", "도", "밖에", "에")  # fmt: skip
_KO_NUMBER = re.compile(
    rf"(?<![가-힣\d])(?:\d+(?:\.\d+)?|[영일이삼사오육칠팔구십백천만억])+?"
    rf"(?=\s|$|{_alternatives(list(_KO_FOLLOWERS))})"
)
_KO_NOT_AMOUNT_AFTER = ("일", "월", "시", "분", "주", "년", "번", "개월", "시간", "살", "층",
                        "호", "명", "개", "달", "퍼센트")  # fmt: skip

_EN_WORD_VALUES = {word: value for word, value in EN_CARDINALS.items() if " " not in word}
_EN_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
_EN_MAJOR = {"dollar", "dollars", "buck", "bucks", "pound", "pounds", "quid", "yuan", "rmb",
             "won", "euro", "euros", "yen", "usd"}  # fmt: skip
_EN_MINOR = {"cent", "cents", "penny", "pence", "fen"}
_EN_NOT_AMOUNT_BEFORE = {"at", "the", "on", *EN_MONTH_NUMBERS}
_EN_NOT_AMOUNT_AFTER = {"day", "days", "week", "weeks", "month", "months", "year", "years",
                        "am", "pm", "o'clock", "oclock", "hour", "hours", "minute", "minutes",
                        "percent", "times", "of", *EN_MONTH_NUMBERS}  # fmt: skip


def parse_amount(text: str, language: str) -> Decimal | None:
    """The amount the debtor promises, or None when the text names none."""
    said = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", normalise(text, language))
    readers = {"zh": _zh_amount, "ko": _ko_amount, "en": _en_amount}
    amount = readers[language](said)
    if amount is None or amount == amount.to_integral_value():
        return None if amount is None else Decimal(int(amount))
    return amount.normalize()


def _zh_amount(said: str) -> Decimal | None:
    for match in _ZH_MONEY.finditer(said):
        amount = Decimal(0)
        for name, divisor in _MONEY_PARTS:
            if match[name] is not None:
                value = cjk_number(match[name], ZH)
                if value is None:
                    break
                amount += value / divisor
        else:
            return amount
    for match in _ZH_NUMBER.finditer(said):
        run, before, after = match.group(), said[: match.start()], said[match.end() :]
        if run == "一" or before.endswith(_ZH_NOT_AMOUNT_BEFORE):
            continue  # 一 alone is "a"/"one" in words: 一下, 一共, 一起
        if not after.startswith(_ZH_NOT_AMOUNT_AFTER) and (value := cjk_number(run, ZH)):
            return value
    return None


def _ko_amount(said: str) -> Decimal | None:
    runs: list[tuple[int, int]] = []
    for match in _KO_NUMBER.finditer(said):
        gap = said[runs[-1][1] : match.start()] if runs else ""
        if runs and said[runs[-1][1] - 1] in "십백천만억" and not gap.strip():
            runs[-1] = (runs[-1][0], match.end())  # 만 오천, 일억 이천만
        else:
            runs.append((match.start(), match.end()))
    plain: Decimal | None = None
    for start, end in runs:
        run, after = said[start:end].replace(" ", ""), said[end:].lstrip()
        value = cjk_number(run, KO)
        if value is None:
            continue
        if after.startswith(_KO_CURRENCY):
            return value
        if plain is None and len(run) > 1 and not after.startswith(_KO_NOT_AMOUNT_AFTER):
            plain = value  # one syllable alone is a word more often than a number: 이, 오
    return plain


def _en_amount(said: str) -> Decimal | None:
    tokens = said.split()
    runs: list[tuple[int, int, Decimal]] = []
    index = 0
    while index < len(tokens):
        found = _en_number_at(tokens, index)
        if found is None:
            index += 1
            continue
        runs.append((index, found[1], found[0]))
        index = found[1]

    def word(index: int) -> str:
        return tokens[index] if 0 <= index < len(tokens) else ""

    for position, (_, end, value) in enumerate(runs):
        if word(end) in _EN_MINOR:
            return value / 100
        if word(end) in _EN_MAJOR:
            if position + 1 < len(runs):
                minor_start, minor_end, minor = runs[position + 1]
                if tokens[end + 1 : minor_start] in ([], ["and"]) and word(minor_end) in _EN_MINOR:
                    return value + minor / 100
            return value
    for start, end, value in runs:
        time_of_day = word(end) == "a" and word(end + 1) == "m"  # "3 a m"
        before, after = word(start - 1), word(end)
        if (
            not time_of_day
            and before not in _EN_NOT_AMOUNT_BEFORE
            and after not in _EN_NOT_AMOUNT_AFTER
        ):
            return value
    return None


def _en_number_at(tokens: list[str], start: int) -> tuple[Decimal, int] | None:
    """The number spelt from tokens[start] on, and the index after it."""
    if _ARABIC.fullmatch(tokens[start]):
        digits, end = Decimal(tokens[start]), start + 1
        if end < len(tokens) and tokens[end] in _EN_SCALES:
            digits, end = digits * _EN_SCALES[tokens[end]], end + 1
        return digits, end
    total = current = 0
    last_scale, end = _NO_UNIT, start
    for index in range(start, len(tokens)):
        word, following = tokens[index], tokens[index + 1] if index + 1 < len(tokens) else ""
        if word in _EN_WORD_VALUES:
            value = _EN_WORD_VALUES[word]
            if current % 100 and not (value < 10 and current % 10 == 0 and current % 100 >= 20):
                break  # "five twenty" is two numbers
            current += value
        elif word in ("a", "an") and index == start and following in _EN_SCALES:
            current = 1
        elif word == "hundred" and 0 < current < 100:
            current *= 100
        elif word in _EN_SCALES and current and _EN_SCALES[word] < last_scale:
            total, current, last_scale = total + current * _EN_SCALES[word], 0, _EN_SCALES[word]
        elif word == "and" and tokens[index - 1] in _EN_SCALES and following in _EN_WORD_VALUES:
            continue
        else:
            break
        end = index + 1
    return (Decimal(total + current), end) if end > start else None


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
        rf"\b(?P<at>at |around |by )?(?P<h>\d{{1,2}}|{_alternatives(_EN_HOURS)})"
        rf"(?::(?P<m>\d{{2}})| (?P<mw>{_alternatives(_EN_MINUTES)}))?"
        r"(?: ?(?P<p>a ?m|p ?m|o'?clock|in the morning|in the afternoon|in the evening"
        r"|at night|tonight))?\b"
    ),
    "ko": re.compile(
        r"(?:(?P<p>오전|오후|아침|낮|저녁|밤|새벽)\s?|(?<![가-힣]))"
        rf"(?P<h>{_alternatives(KO_NATIVE)}|\d{{1,2}})\s?시(?!간)"
        rf"(?:\s?(?P<half>반)|\s?(?P<m>\d{{1,2}}|{_KO_N})\s?분)?"
    ),
}
_DELAYS = {
    "zh": re.compile(rf"(?P<n>{_ZH_N}|半)个?(?P<half>半)?(?P<u>小时|钟头|分钟)(?:以后|之后|后)"),
    "en": re.compile(rf"\bin (?:(?P<half>half an)|(?P<n>{_EN_N})) (?P<u>hours?|minutes?|mins?)\b"),
    "ko": re.compile(
        rf"(?<![가-힣])(?P<n>{_alternatives(KO_NATIVE)}|{_KO_N})\s?(?P<u>시간|분)"
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
    count = 0 if match["n"] in (None, "半") else _number(match["n"], language)
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
        hour, minute = _hour24(_number(groups["h"], language), period), _minute(groups, language)
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
    return _number(words, language) if words else 0


def _hour24(hour: int | None, period: str) -> int | None:
    """24-hour clock from an hour and a period ("am", "pm", "noon" or none)."""
    if hour is None or hour > 23 or (period == "am" and hour > 12):
        return None
    if period == "am":
        return 0 if hour == 12 else hour
    if period == "pm" or (period == "noon" and hour <= 5) or (not period and 1 <= hour <= 7):
        return hour + 12 if hour < 12 else hour
    return hour
