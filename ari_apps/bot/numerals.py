"""Numbers in what a debtor says, in Mandarin ("zh"), English ("en") and Korean ("ko"):
the numerals and number words the parsers in `slots` read, and the promised amount
(`parse_amount`, re-exported by `slots` beside the date and callback-time parsers). Pure.

Numerals: Chinese and Sino-Korean runs (`cjk_number`), English number words ("twenty
one", "twelve hundred") and Korean native numbers ("세", "열두"; days: "사흘").

Amounts: Chinese and Sino-Korean numerals (十百千, 万亿 / 십백천, 만억, mixed with
digits: "5万", "1.5万"); the colloquial zh tail "两千五" = 2500, "一万二" = 12000 (a
lone digit after a unit of 百 or more is one order lower unless 零 precedes it);
zh 元/块 + 角/毛 + 分 ("五块五" = 5.5); en number words or digits ("1,200",
"twelve hundred") with "and fifty cents"; Korean whole amounts. With several
numbers, the one followed by a currency word wins, else the first that is not a
date, time or count ("下周一还五百" → 500).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
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


def alternatives(words: Mapping[str, int] | list[str]) -> str:
    """A regex alternation of the words, longest first ("열두" before "열")."""
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


def en_day(words: str) -> int | None:
    """A day of the month in English: "15", "15th", "fifteenth" or "fifteen"."""
    digits = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?", words)
    return int(digits[1]) if digits else EN_ORDINALS.get(words, EN_CARDINALS.get(words))


def to_int(words: str, language: str) -> int | None:
    """The whole number a numeral run or number word names ("十五", "열두", "twenty one")."""
    if language == "zh":
        return _int(cjk_number(words, ZH))
    if language == "ko":
        return KO_NATIVE.get(words) or _int(cjk_number(words, KO))
    return _en_int(words)


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
    rf"(?=\s|$|{alternatives(list(_KO_FOLLOWERS))})"
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
