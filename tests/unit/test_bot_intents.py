"""Matching recognised speech to a node's intents: normalisation, exact then
longest-phrase matching, ambiguity and negation, and the Vosk grammar."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ari_apps.bot.intents import IntentMatch, grammar, match_intent, normalise

ZH = {"yes": ["是", "是的", "对"], "no": ["不是", "不对"], "busy": ["没空", "不方便"]}
EN = {"yes": ["yes", "yeah", "that's right"], "no": ["no", "not me"], "pay": ["i can pay"]}
KO = {"yes": ["네", "예", "맞아요"], "no": ["아니요", "아닙니다"], "pay": ["낼 수 있어요"]}


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("下 周五", "zh", "下周五"),
        (" 我 不是 他本人。", "zh", "我不是他本人"),
        ("[unk] 是 [unk]", "zh", "是"),
        ("１５号", "zh", "15号"),
        ("  Yes,   PLEASE! ", "en", "yes please"),
        ("I don’t know", "en", "i don't know"),
        ("$1,200.50 at 3:30 p.m.", "en", "1,200.50 at 3:30 p m"),
        ("[UNK]", "en", ""),
        ("다음 주  금요일", "ko", "다음 주 금요일"),
        ("네, 맞아요.", "ko", "네 맞아요"),
    ],
)
def test_normalise(text: str, language: str, expected: str) -> None:
    """Steps: normalise recognised or typed text.
    Expected: lowercase, punctuation and [unk] gone, whitespace collapsed, Chinese
    without spaces; digit groups, times and apostrophes kept."""
    assert normalise(text, language) == expected


def test_normalise_refuses_an_unknown_language() -> None:
    """Steps: normalise French.  Expected: ValueError."""
    with pytest.raises(ValueError, match="unsupported language"):
        normalise("oui", "fr")


MATCHES = [
    ("是", "zh", ZH, ("yes", "是")),
    ("是 的", "zh", ZH, ("yes", "是的")),
    ("不是", "zh", ZH, ("no", "不是")),
    ("我 不 是 他", "zh", ZH, ("no", "不是")),
    ("对对对", "zh", ZH, ("yes", "对")),
    ("不对", "zh", ZH, ("no", "不对")),
    ("我现在没空", "zh", ZH, ("busy", "没空")),
    ("嗯", "zh", ZH, None),
    ("[unk]", "zh", ZH, None),
    ("", "zh", ZH, None),
    ("我不是", "zh", {"yes": ["是"]}, None),  # negated, and no negative phrase listed
    ("不太方便", "zh", {"ok": ["方便"]}, None),
    ("是不是", "zh", {"yes": ["是"]}, ("yes", "是")),  # one occurrence is not negated
    ("好", "zh", {"a": ["好"], "b": ["好"]}, None),  # the same phrase in two intents
    ("可以以后", "zh", {"pay": ["可以"], "later": ["以后"]}, None),  # a tie
    ("Yes.", "en", EN, ("yes", "yes")),
    ("yeah that's right", "en", EN, ("yes", "that's right")),
    ("no", "en", EN, ("no", "no")),
    ("yes i can pay", "en", EN, ("pay", "i can pay")),  # the longest phrase wins
    ("i can't pay", "en", {"pay": ["pay"]}, None),
    ("i will not pay", "en", {"pay": ["pay"]}, None),
    ("i know", "en", EN, None),  # whole words only: "no" is not in "know"
    ("yes [unk]", "en", EN, ("yes", "yes")),
    ("네", "ko", KO, ("yes", "네")),
    ("네 맞아요", "ko", KO, ("yes", "맞아요")),
    ("아니요", "ko", KO, ("no", "아니요")),
    ("안 맞아요", "ko", KO, None),
    ("본인 아니에요", "ko", {"yes": ["본인"]}, None),  # Korean negates after the word
    ("본인 맞아요", "ko", {"yes": ["본인"]}, ("yes", "본인")),
    ("돈을 낼 수 있어요", "ko", KO, ("pay", "낼 수 있어요")),
    ("네네", "ko", KO, None),
]


@pytest.mark.parametrize(("text", "language", "intents", "expected"), MATCHES)
def test_match_intent(
    text: str, language: str, intents: dict[str, list[str]], expected: tuple[str, str] | None
) -> None:
    """Steps: match recognised text against a node's intents.
    Expected: the exact phrase first, else the longest contained phrase; ties
    across intents, negated phrases and [unk] match nothing."""
    match = match_intent(text, intents, language)
    if expected is None:
        assert match is None
    else:
        assert match == IntentMatch(expected[0], expected[1], normalise(text, language))


def test_intent_match_is_frozen() -> None:
    """Steps: try to change a match.  Expected: FrozenInstanceError."""
    match = match_intent("是", ZH, "zh")
    assert match is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        match.intent = "no"  # type: ignore[misc]


PHRASES = st.lists(st.text(alphabet="是否好的不对可以没空", min_size=1, max_size=4), max_size=8)


@given(yes=PHRASES, no=PHRASES)
def test_every_listed_phrase_matches_its_own_intent(yes: list[str], no: list[str]) -> None:
    """Steps: build two intents from random phrases and say each phrase exactly.
    Expected: its own intent, unless the other intent lists the same phrase too."""
    intents = {"yes": yes, "no": no}
    for name, phrases in intents.items():
        other = no if name == "yes" else yes
        for phrase in phrases:
            match = match_intent(phrase, intents, "zh")
            if phrase in other:
                assert match is None
            else:
                assert match is not None and match.intent == name


@given(text=st.text(max_size=40), language=st.sampled_from(["zh", "en", "ko"]))
def test_match_intent_takes_any_text(text: str, language: str) -> None:
    """Steps: match arbitrary text.  Expected: a match or None, never an error."""
    result = match_intent(text, {"yes": ["是", "yes", "네"], "no": ["不是", "no"]}, language)
    assert result is None or result.intent in {"yes", "no"}


@pytest.mark.parametrize(
    ("phrases", "language", "expected"),
    [
        (["是", "是的", " 是 ", "不 是", "好的。"], "zh", ["是", "是的", "不 是", "好的", "[unk]"]),
        (["Yes", "yes", "Not me!", "[unk]"], "en", ["yes", "not me", "[unk]"]),
        (["네", "다음 주  금요일", ""], "ko", ["네", "다음 주 금요일", "[unk]"]),
        ([], "zh", ["[unk]"]),
    ],
)
def test_grammar(phrases: list[str], language: str, expected: list[str]) -> None:
    """Steps: build a node's Vosk grammar.
    Expected: cleaned phrases (Chinese keep their spacing), duplicates dropped in
    order, "[unk]" once and last."""
    assert grammar(phrases, language) == expected


def test_grammar_takes_any_iterable() -> None:
    """Steps: build a grammar from a generator.  Expected: the same as from a list."""
    assert grammar((phrase for phrase in ["yes", "no"]), "en") == ["yes", "no", "[unk]"]
