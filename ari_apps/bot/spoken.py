"""How a prompt says money, dates and counts, as the words a native speaker uses:
the text goes to TTS, so nothing is left as digits.

Mandarin ("zh"):
- 两 for a 2 that leads the number before 百, 千, 万 or 亿 and for a bare 2 of a unit
  (两百, 两千二百, 两万, 两元, 两角, 两天); 二 everywhere else — in the tens place, inside
  the number and in dates (二十二, 一千二百三十四, 十二万, 一千零二元, 二月);
- 十 rather than 一十 when it leads the number (十五, 十二万), 一十 inside (一百一十);
- one 零 for each run of zeros followed by more digits (一千零五, 十万零五百,
  一亿零一万), none at the end (一万元);
- CNY as 元, 角, 分 (一千二百三十四元五角, 三元零五分); other currencies as the
  major and the minor unit (十二美元三十四美分).
English ("en"): American style without "and" inside a number (one thousand two
hundred thirty-four), hyphens for 21–99, "and" before the minor unit; CNY is
yuan and fen (fen = 1/100 yuan; jiao is not used), USD dollars and cents, GBP
pounds and pence, EUR euros and cents, KRW won, JPY yen; singular for one.
Korean ("ko"): Sino-Korean numerals with no 일 before 십, 백, 천 or a leading 만
(천이백, 만 원) but with it before 억 and an inner 만 (일억 일만); a space after each
만/억 group, as Korean spelling writes it (만 오천 원, 일억 이천만 원); 영 for zero;
KRW 원, JPY 엔, CNY 위안, USD 달러, GBP 파운드, EUR 유로 — currencies with minor units
are read with a decimal point and the digits after it one by one (천이백삼십사 점 오
위안), as Korean says foreign money. Counts: Sino-Korean for days, weeks, months,
years and minutes (삼십 일, 삼 개월), native below 100 for hours and times (세 시간, 두 번).
Amounts are below 10^12 (up to 9999亿); a negative amount, one with more decimals than
its currency has, an unknown currency, unit or language → ValueError.
Dates are in words and leave the year out: 十一月二十七日星期五, "Friday, November
twenty-seventh" (words, not "27", so no TTS engine reads "twenty-seven"),
십일월 이십칠일 금요일 (유월 and 시월 for June and October).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

LIMIT = 10**12

EN_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
EN_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))
EN_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_ORDINALS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip

ZH_DIGITS = "零一二三四五六七八九"
ZH_WEEKDAYS = "一二三四五六日"
_ZH_GROUPS = ("", "万", "亿")
_ZH_PLACES = ("千", "百", "十", "")

KO_DIGITS = "영일이삼사오육칠팔구"
KO_WEEKDAYS = "월화수목금토일"
KO_NATIVE_ONES = ("", "한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉")
KO_NATIVE_TENS = ("", "열", "스물", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔")
_KO_GROUPS = ("", "만", "억")
_KO_PLACES = ("천", "백", "십", "")
_KO_MONTHS = {6: "유월", 10: "시월"}


@dataclass(frozen=True, slots=True)
class Currency:
    """A currency's minor-unit digits and its names: zh (major, minor), en
    (major singular, plural, minor singular, plural), ko."""

    exponent: int
    zh: tuple[str, str]
    en: tuple[str, str, str, str]
    ko: str


CURRENCIES = {
    "CNY": Currency(2, ("元", "分"), ("yuan", "yuan", "fen", "fen"), "위안"),
    "USD": Currency(2, ("美元", "美分"), ("dollar", "dollars", "cent", "cents"), "달러"),
    "GBP": Currency(2, ("英镑", "便士"), ("pound", "pounds", "penny", "pence"), "파운드"),
    "EUR": Currency(2, ("欧元", "欧分"), ("euro", "euros", "cent", "cents"), "유로"),
    "KRW": Currency(0, ("韩元", ""), ("won", "won", "", ""), "원"),
    "JPY": Currency(0, ("日元", ""), ("yen", "yen", "", ""), "엔"),
}

# unit → zh word, en (singular, plural), ko word and whether ko counts it natively
COUNT_UNITS: dict[str, tuple[str, tuple[str, str], str, bool]] = {
    "day": ("天", ("day", "days"), "일", False),
    "week": ("周", ("week", "weeks"), "주", False),
    "month": ("个月", ("month", "months"), "개월", False),
    "year": ("年", ("year", "years"), "년", False),
    "hour": ("个小时", ("hour", "hours"), "시간", True),
    "minute": ("分钟", ("minute", "minutes"), "분", False),
    "time": ("次", ("time", "times"), "번", True),
}


def spoken_amount(amount: Decimal, currency: str, language: str) -> str:
    """The amount as said in the language, e.g. 1234.50 CNY in zh → 一千二百三十四元五角."""
    if currency not in CURRENCIES:
        raise ValueError(f"unsupported currency {currency!r}")
    spec = CURRENCIES[currency]
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"cannot say the amount {amount}")
    scaled = amount.scaleb(spec.exponent)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more decimals than {currency} has")
    major, minor = divmod(int(scaled), 10**spec.exponent)
    if language == "zh":
        return _zh_money(major, minor, spec, jiao=currency == "CNY")
    if language == "en":
        return _en_money(major, minor, spec)
    if language == "ko":
        return _ko_money(major, minor, spec)
    raise ValueError(f"unsupported language {language!r}")


def spoken_date(d: date, language: str) -> str:
    """The date with its weekday and without the year."""
    weekday = d.weekday()
    if language == "zh":
        month, day = zh_number(d.month, counting=False), zh_number(d.day, counting=False)
        return f"{month}月{day}日星期{ZH_WEEKDAYS[weekday]}"
    if language == "en":
        return f"{EN_WEEKDAYS[weekday]}, {EN_MONTHS[d.month - 1]} {en_ordinal(d.day)}"
    if language == "ko":
        month = _KO_MONTHS.get(d.month, f"{ko_number(d.month)}월")
        return f"{month} {ko_number(d.day)}일 {KO_WEEKDAYS[weekday]}요일"
    raise ValueError(f"unsupported language {language!r}")


def spoken_count(n: int, unit: str, language: str) -> str:
    """A count of a unit ("day", "week", "month", "year", "hour", "minute", "time"):
    zh 三十天 两个月, en thirty days / one day, ko 삼십 일 / 세 시간."""
    if unit not in COUNT_UNITS:
        raise ValueError(f"unsupported unit {unit!r}; expected one of {sorted(COUNT_UNITS)}")
    if n < 0:
        raise ValueError(f"cannot count {n}")
    zh_unit, en_units, ko_unit, ko_native = COUNT_UNITS[unit]
    if language == "zh":
        return zh_number(n) + zh_unit
    if language == "en":
        return f"{en_number(n)} {en_units[0] if n == 1 else en_units[1]}"
    if language == "ko":
        return f"{ko_native_number(n) if ko_native else ko_number(n)} {ko_unit}"
    raise ValueError(f"unsupported language {language!r}")


def zh_number(n: int, *, counting: bool = True) -> str:
    """Mandarin numeral; `counting` uses 两 for a leading 2 as counts and amounts
    do (两百, 两万, a bare 两), otherwise 二 everywhere (dates: 二月二日)."""
    _check_range(n)
    if n == 0:
        return ZH_DIGITS[0]
    groups = _groups(n)
    words: list[str] = []
    gap = False
    for index in reversed(range(len(groups))):
        group = groups[index]
        if group == 0:
            gap = gap or bool(words)
            continue
        if words and (gap or group < 1000):
            words.append(ZH_DIGITS[0])
        words.append(_zh_group(group, leading=not words, counting=counting) + _ZH_GROUPS[index])
        gap = False
    return "".join(words)


def en_number(n: int) -> str:
    """English cardinal, American style: one thousand two hundred thirty-four."""
    _check_range(n)
    if n < 20:
        return EN_ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return EN_TENS[tens] + (f"-{EN_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{EN_ONES[hundreds]} hundred" + (f" {en_number(rest)}" if rest else "")
    for scale, word in EN_SCALES:
        if n >= scale:
            high, rest = divmod(n, scale)
            return f"{en_number(high)} {word}" + (f" {en_number(rest)}" if rest else "")
    raise AssertionError("unreachable")  # pragma: no cover


def en_ordinal(n: int) -> str:
    """English ordinal in words: first, twelfth, twenty-seventh, thirtieth."""
    words = en_number(n)
    head, sep, last = words.rpartition("-") if "-" in words else words.rpartition(" ")
    if last in _EN_ORDINALS:
        last = _EN_ORDINALS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def ko_number(n: int) -> str:
    """Sino-Korean numeral, spaced by 만/억 groups: 만 오천, 일억 이천만."""
    _check_range(n)
    if n == 0:
        return KO_DIGITS[0]
    groups = _groups(n)
    parts: list[str] = []
    for index in reversed(range(len(groups))):
        group = groups[index]
        if group == 0:
            continue
        word = "" if group == 1 and index == 1 and not parts else _ko_group(group)
        parts.append(word + _KO_GROUPS[index])
    return " ".join(parts)


def ko_native_number(n: int) -> str:
    """Native Korean counting form below 100 (한, 두, 스무, 스물한, 서른); Sino-Korean
    from 100 on, as Korean switches there."""
    if n == 0 or n >= 100:
        return ko_number(n)
    tens, ones = divmod(n, 10)
    if n == 20:
        return "스무"
    return KO_NATIVE_TENS[tens] + KO_NATIVE_ONES[ones]


def _check_range(n: int) -> None:
    if not 0 <= n < LIMIT:
        raise ValueError(f"{n} is outside 0..{LIMIT - 1}")


def _groups(n: int) -> list[int]:
    """The 4-digit groups of n, lowest first (units, 万, 亿)."""
    groups: list[int] = []
    while n:
        n, group = divmod(n, 10000)
        groups.append(group)
    return groups


def _zh_group(group: int, *, leading: bool, counting: bool) -> str:
    digits = (group // 1000, group // 100 % 10, group // 10 % 10, group % 10)
    out: list[str] = []
    zero = False
    for digit, unit in zip(digits, _ZH_PLACES, strict=True):
        if digit == 0:
            zero = zero or bool(out)
            continue
        if zero:
            out.append(ZH_DIGITS[0])
            zero = False
        if unit == "十" and digit == 1 and leading and not out:
            out.append(unit)
            continue
        two = counting and digit == 2 and leading and not out and unit != "十"
        out.append(("两" if two else ZH_DIGITS[digit]) + unit)
    return "".join(out)


def _ko_group(group: int) -> str:
    digits = (group // 1000, group // 100 % 10, group // 10 % 10, group % 10)
    out: list[str] = []
    for digit, unit in zip(digits, _KO_PLACES, strict=True):
        if digit:
            out.append(("" if digit == 1 and unit else KO_DIGITS[digit]) + unit)
    return "".join(out)


def _zh_money(major: int, minor: int, spec: Currency, *, jiao: bool) -> str:
    major_unit, minor_unit = spec.zh
    parts: list[str] = []
    if major or not minor:
        parts.append(zh_number(major) + major_unit)
    if jiao:
        tenths, hundredths = divmod(minor, 10)
        if tenths:
            parts.append(zh_number(tenths) + "角")
        if hundredths:
            parts.append(("零" if major and not tenths else "") + zh_number(hundredths) + "分")
    elif minor:
        parts.append(zh_number(minor) + minor_unit)
    return "".join(parts)


def _en_money(major: int, minor: int, spec: Currency) -> str:
    one, many, minor_one, minor_many = spec.en
    parts: list[str] = []
    if major or not minor:
        parts.append(f"{en_number(major)} {one if major == 1 else many}")
    if minor:
        parts.append(f"{en_number(minor)} {minor_one if minor == 1 else minor_many}")
    return " and ".join(parts)


def _ko_money(major: int, minor: int, spec: Currency) -> str:
    if not minor:
        return f"{ko_number(major)} {spec.ko}"
    fraction = str(minor).rjust(spec.exponent, "0").rstrip("0")
    digits = "".join(KO_DIGITS[int(digit)] for digit in fraction)
    return f"{ko_number(major)} 점 {digits} {spec.ko}"
