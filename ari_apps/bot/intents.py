"""Matching recognised speech to the intents a dialogue node expects.

Languages: "zh" (Mandarin), "en", "ko" (Korean). The recognised text (Vosk, or typed
in tests) and the script's example phrases are normalised alike: NFKC, lowercase,
"[unk]" tokens dropped, punctuation and symbols turned into spaces (except "," "."
":" between two digits and "'" inside a word), whitespace collapsed; for Chinese
every space is then removed, because Vosk Chinese models put spaces between
characters or words inconsistently ("下 周五" and "下周五" are the same answer).

Matching, first rule that applies:
1. the normalised text equals a normalised phrase;
2. phrases occurring in the text — as a substring in Chinese, as whole words in
   English and Korean — and the longest one wins.
When the winning phrase belongs to more than one intent, nothing matches: an
ambiguous answer is asked again, never guessed.

Negation: in rule 2 an occurrence right after a negator (zh 不 没 别 不太 ...,
en not don't can't ..., ko 안 못) or, in Korean, right before a word starting
with 아니/아닌/아냐/않 ("본인 아니에요") does not count, so "我不是" does not match the
phrase "是" and "i can't pay" does not match "pay". That only stops a false
match; it never produces the negative intent, so scripts must list negative
answers ("不是", "不方便", "no", "아니요") as phrases of their own intent.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

LANGUAGES = frozenset({"zh", "en", "ko"})
UNK = "[unk]"

ZH_NEGATORS = ("不", "没", "别", "没有", "不太", "不大", "不怎么", "不是很")
EN_NEGATORS = frozenset(
    {
        "not", "no", "never", "don't", "dont", "can't", "cant", "cannot", "won't", "wont",
        "didn't", "doesn't", "isn't", "wasn't", "aren't", "ain't", "couldn't", "wouldn't",
    }
)  # fmt: skip
KO_NEGATORS = frozenset({"안", "못"})
KO_AFTER_NEGATORS = ("아니", "아닌", "아냐", "않")

_UNK_RE = re.compile(re.escape(UNK), re.IGNORECASE)
_KEPT_BETWEEN_DIGITS = ",.:"


@dataclass(frozen=True, slots=True)
class IntentMatch:
    """The intent matched, the script phrase (as written) that matched, and the
    normalised recognised text."""

    intent: str
    phrase: str
    text: str


def require_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; expected one of {sorted(LANGUAGES)}")
    return language


@lru_cache(maxsize=4096)
def normalise(text: str, language: str) -> str:
    """The comparable form of a phrase or of recognised text (see module docstring)."""
    cleaned = _clean(text, require_language(language))
    return cleaned.replace(" ", "") if language == "zh" else cleaned


def match_intent(
    text: str, intents: Mapping[str, Sequence[str]], language: str
) -> IntentMatch | None:
    """The intent whose example phrase the text says, or None when no phrase
    matches or the best match is shared by several intents."""
    said = normalise(text, language)
    if not said:
        return None
    exact = [
        (name, phrase)
        for name, phrases in intents.items()
        for phrase in phrases
        if normalise(phrase, language) == said
    ]
    if exact:
        return _unique(exact, said)
    best: list[tuple[str, str]] = []
    best_length = 0
    for name, phrases in intents.items():
        for phrase in phrases:
            wanted = normalise(phrase, language)
            if not wanted or len(wanted) < best_length or not _said_in(wanted, said, language):
                continue
            if len(wanted) > best_length:
                best, best_length = [], len(wanted)
            best.append((name, phrase))
    return _unique(best, said) if best else None


def grammar(phrases: Iterable[str], language: str) -> list[str]:
    """The Vosk grammar of a node: each phrase with punctuation dropped and
    whitespace collapsed (Chinese phrases keep their word spacing), duplicates
    removed in order, and "[unk]" last so out-of-grammar speech is recognised as
    "[unk]" — which `match_intent` reads as nothing — rather than forced onto a phrase."""
    require_language(language)
    kept: dict[str, None] = {}
    for phrase in phrases:
        cleaned = _clean(phrase, language)
        if cleaned:
            kept.setdefault(cleaned, None)
    return [*kept, UNK]


def _clean(text: str, language: str) -> str:
    text = _UNK_RE.sub(" ", unicodedata.normalize("NFKC", text).replace("’", "'").lower())
    out: list[str] = []
    for index, char in enumerate(text):
        if unicodedata.category(char)[0] not in "PS":
            out.append(char)
            continue
        before = text[index - 1] if index > 0 else ""
        after = text[index + 1] if index + 1 < len(text) else ""
        number_mark = char in _KEPT_BETWEEN_DIGITS and before.isdigit() and after.isdigit()
        apostrophe = char == "'" and before.isalpha() and after.isalpha()
        out.append(char if number_mark or apostrophe else " ")
    return " ".join("".join(out).split())


def _said_in(phrase: str, said: str, language: str) -> bool:
    """Whether the phrase occurs in the text at least once not right after a negator."""
    if language == "zh":
        start = said.find(phrase)
        while start >= 0:
            if not said[:start].endswith(ZH_NEGATORS):
                return True
            start = said.find(phrase, start + 1)
        return False
    negators = EN_NEGATORS if language == "en" else KO_NEGATORS
    after_negators = KO_AFTER_NEGATORS if language == "ko" else ()
    tokens, wanted = said.split(), phrase.split()
    size = len(wanted)
    for start in range(len(tokens) - size + 1):
        if tokens[start : start + size] != wanted:
            continue
        before = tokens[start - 1] if start > 0 else ""
        after = tokens[start + size] if start + size < len(tokens) else ""
        if before not in negators and not (after_negators and after.startswith(after_negators)):
            return True
    return False


def _unique(candidates: list[tuple[str, str]], said: str) -> IntentMatch | None:
    names = {name for name, _ in candidates}
    if len(names) != 1:
        return None
    name, phrase = candidates[0]
    return IntentMatch(intent=name, phrase=phrase, text=said)
