"""The dialogue engine walked through each pack: push answers in, assert the commands."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ari_apps.bot.dialogue import (
    CallFacts,
    Command,
    Dialogue,
    DialogueError,
    HandOff,
    HangUp,
    Listen,
    Say,
)
from ari_apps.bot.script import Script, load_script
from ari_apps.bot.spoken import spoken_amount, spoken_date

PACKS = Path(__file__).parents[2] / "ari_apps" / "bot" / "scripts"
TODAY = date(2024, 11, 27)  # a Wednesday
FRIDAY = date(2024, 11, 29)
DUE = date(2024, 11, 1)
ZONES = {"zh": "Asia/Shanghai", "en": "America/New_York", "ko": "Asia/Seoul"}
CURRENCIES = {"zh": "CNY", "en": "USD", "ko": "KRW"}
AMOUNTS = {"zh": Decimal("3500.50"), "en": Decimal("1234.56"), "ko": Decimal("150000")}
NAMES = {"zh": "张伟", "en": "Alex Smith", "ko": "김민수"}

# What a debtor says, per language.
SAYS = {
    "zh": {"yes": "是的", "no": "不是", "friday": "周五", "hardship": "没钱",
           "faq": "怎么还款", "faq_name": "how_to_pay", "agent": "转人工"},
    "en": {"yes": "yes", "no": "wrong number", "friday": "friday", "hardship": "i lost my job",
           "faq": "how do i pay", "faq_name": "how_to_pay", "agent": "speak to a person"},
    "ko": {"yes": "네", "no": "아니요", "friday": "금요일", "hardship": "없어요",
           "faq": "어떻게", "faq_name": "how_to_pay", "agent": "상담원"},
}  # fmt: skip
LANGUAGES = list(SAYS)


def script(language: str) -> Script:
    return load_script(PACKS / f"{language}.yaml")


def facts(language: str, due_date: date | None = DUE) -> CallFacts:
    return CallFacts(
        name=NAMES[language],
        amount_due=AMOUNTS[language],
        currency=CURRENCIES[language],
        due_date=due_date,
        days_overdue=26,
        payment_channels="APP-PAY",
        today=TODAY,
        now=datetime(2024, 11, 27, 10, 0, tzinfo=ZoneInfo(ZONES[language])),
    )


def dialogue(language: str, **changes: object) -> Dialogue:
    base = script(language)
    return Dialogue(base.model_copy(update=changes) if changes else base, facts(language))


def said(commands: list[Command]) -> list[str]:
    return [command.text for command in commands if isinstance(command, Say)]


def nodes(commands: list[Command]) -> list[tuple[str, str]]:
    """(command, node or reason) — the shape of a step."""
    shape = []
    for command in commands:
        match command:
            case Say(node=node) | Listen(node=node):
                shape.append((type(command).__name__, node))
            case HangUp(reason=reason) | HandOff(reason=reason):
                shape.append((type(command).__name__, reason))
    return shape


def debt_words(language: str) -> list[str]:
    return [
        spoken_amount(AMOUNTS[language], CURRENCIES[language], language),
        spoken_date(DUE, language),
    ]


# -- the main paths, every pack -----------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_promise_path(language: str) -> None:
    """Greeting → "yes" → disclosure (amount, due date, creditor) → "Friday" → thanks,
    hang up. Outcome: promise of the full amount on the coming Friday."""
    talk = dialogue(language)
    start = talk.start()
    assert nodes(start) == [("Say", "greeting"), ("Listen", "greeting")]
    greeting, listen = start
    assert isinstance(greeting, Say) and isinstance(listen, Listen)
    assert NAMES[language] in greeting.text
    assert greeting.barge_in == (language == "ko")  # ko: `barge_in: true` in the pack
    assert listen.grammar[-1] == "[unk]" and SAYS[language]["faq"] in listen.grammar
    disclosure = talk.heard(SAYS[language]["yes"])
    assert nodes(disclosure) == [("Say", "disclosure"), ("Listen", "disclosure")]
    text = said(disclosure)[0]
    assert all(word in text for word in debt_words(language))
    assert script(language).on_behalf_of in text
    end = talk.heard(SAYS[language]["friday"])
    assert nodes(end) == [("Say", "confirm_promise"), ("HangUp", "promise")]
    assert spoken_date(FRIDAY, language) in said(end)[0]
    outcome = talk.outcome
    assert talk.finished
    assert (outcome.kind, outcome.identity) == ("promise", "confirmed")
    assert (outcome.promise_date, outcome.promise_amount) == (FRIDAY, AMOUNTS[language])
    assert [(t.node, t.intent) for t in outcome.turns] == [
        ("greeting", "yes"),
        ("disclosure", "promise"),
    ]
    assert outcome.turns[0].prompt == greeting.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_hardship_hands_off(language: str) -> None:
    """At the question "when can you pay", a hardship answer → hand off to an agent."""
    talk = dialogue(language)
    talk.start()
    talk.heard(SAYS[language]["yes"])
    end = talk.heard(SAYS[language]["hardship"])
    assert nodes(end) == [("Say", "to_agent"), ("HandOff", "hardship")]
    assert talk.outcome.kind == "hardship" and talk.finished


@pytest.mark.parametrize("language", LANGUAGES)
def test_request_for_a_person_hands_off(language: str) -> None:
    talk = dialogue(language)
    talk.start()
    talk.heard(SAYS[language]["yes"])
    assert nodes(talk.heard(SAYS[language]["agent"]))[-1] == ("HandOff", "handoff_request")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("confirmed", [False, True])
def test_no_input_twice_is_no_response(language: str, confirmed: bool) -> None:
    """Silence → one reprompt and a new listen; silence again → a polite end, outcome
    no_response (at the greeting and at the disclosure)."""
    talk = dialogue(language)
    talk.start()
    node = "greeting"
    if confirmed:
        talk.heard(SAYS[language]["yes"])
        node = "disclosure"
    again = talk.no_input()
    assert nodes(again) == [("Say", node), ("Listen", node)]
    end = talk.no_input()
    assert nodes(end) == [("Say", "end_silent"), ("HangUp", "no_response")]
    assert talk.outcome.kind == "no_response"
    assert [(t.node, t.heard) for t in talk.outcome.turns][-2:] == [(node, None), (node, None)]
    assert talk.no_input() == [] and talk.heard("anything") == []  # late events: nothing


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_match_reprompts_then_ends(language: str) -> None:
    """An answer the node does not know → its reprompt, then the no_match end."""
    talk = dialogue(language)
    talk.start()
    again = talk.heard("[unk]")
    assert nodes(again) == [("Say", "greeting"), ("Listen", "greeting")]
    assert talk.outcome.turns[-1].intent is None
    end = talk.heard("[unk]")
    assert nodes(end) == [("Say", "end_unclear"), ("HangUp", "incomplete")]
    assert talk.outcome.kind == "incomplete"


@pytest.mark.parametrize("language", LANGUAGES)
def test_faq_is_answered_then_the_node_listens_again(language: str) -> None:
    """A question in the disclosure node → the answer (with the payment channels), the
    same node listens again; the promise still works after it."""
    talk = dialogue(language)
    talk.start()
    talk.heard(SAYS[language]["yes"])
    answer = talk.heard(SAYS[language]["faq"])
    assert nodes(answer) == [("Say", "disclosure"), ("Listen", "disclosure")]
    first = answer[0]
    assert isinstance(first, Say) and "APP-PAY" in first.text and first.barge_in
    assert talk.outcome.turns[-1].intent == f"faq.{SAYS[language]['faq_name']}"
    assert nodes(talk.heard(SAYS[language]["friday"]))[-1] == ("HangUp", "promise")


def test_faq_is_answered_twice_per_call_then_is_no_match() -> None:
    talk = dialogue("ko")
    talk.start()
    first = talk.heard("어떻게")
    second = talk.heard("계좌")
    assert said(first) == ["납부 방법은 APP-PAY입니다."]
    assert said(second) == ["납부처는 APP-PAY입니다."]
    third = talk.heard("어떻게")
    assert said(third) == ["본인이시면 네, 아니면 아니요라고 말씀해 주세요."]  # the reprompt
    assert talk.outcome.turns[-1].intent is None


@pytest.mark.parametrize("language", LANGUAGES)
def test_wrong_party_never_hears_the_debt(language: str) -> None:
    """ "Not me" at the greeting → apology and hang-up; nothing said mentions the amount or
    the due date; outcome wrong_party."""
    talk = dialogue(language)
    texts = said(talk.start())
    end = talk.heard(SAYS[language]["no"])
    texts += said(end)
    assert nodes(end) == [("Say", "wrong_party"), ("HangUp", "wrong_party")]
    for word in debt_words(language):
        assert all(word not in text for text in texts)
    assert (talk.outcome.kind, talk.outcome.identity) == ("wrong_party", "wrong_party")


@pytest.mark.parametrize("language", LANGUAGES)
def test_max_turns_ends_politely(language: str) -> None:
    """max_turns 3: greeting, disclosure, one FAQ re-listen; the next listen would be the
    fourth → the on_max_turns prompt and a hang-up."""
    talk = dialogue(language, max_turns=3)
    talk.start()
    talk.heard(SAYS[language]["yes"])
    talk.heard(SAYS[language]["faq"])
    end = talk.heard(SAYS[language]["faq"])
    assert nodes(end) == [("Say", "disclosure"), ("Say", "end_unclear"), ("HangUp", "max_turns")]
    assert talk.finished and len(talk.outcome.turns) == 3


# -- slots ---------------------------------------------------------------------------


def test_partial_promise_with_an_amount() -> None:
    """zh: only part → how much → "一千" → which day (says the amount) → "周五"."""
    talk = dialogue("zh")
    talk.start()
    talk.heard("是的")
    assert nodes(talk.heard("我只能还一部分")) == [("Say", "ask_amount"), ("Listen", "ask_amount")]
    ask = talk.heard("一千")
    assert spoken_amount(Decimal(1000), "CNY", "zh") in said(ask)[0]
    talk.heard("周五")
    outcome = talk.outcome
    assert (outcome.kind, outcome.promise_amount, outcome.promise_date) == (
        "promise",
        Decimal(1000),
        FRIDAY,
    )


def test_callback_time() -> None:
    """en: call me later → when → "tomorrow at ten am" → callback at 10:00 tomorrow."""
    talk = dialogue("en")
    talk.start()
    talk.heard("yes")
    talk.heard("call me later")
    end = talk.heard("tomorrow at ten am")
    assert nodes(end) == [("Say", "confirm_callback"), ("HangUp", "callback")]
    zone = ZoneInfo("America/New_York")
    assert talk.outcome.callback_at == datetime(2024, 11, 28, 10, 0, tzinfo=zone)


def test_slot_intent_needs_its_value() -> None:
    """A phrase of the promise intent that names no date is no match; a date said in
    words that are no phrase still is a promise."""
    talk = dialogue("en")
    talk.start()
    talk.heard("yes")
    assert nodes(talk.heard("maybe"))[0] == ("Say", "disclosure")
    end = talk.heard("I will pay on the 15th")
    assert nodes(end)[-1] == ("HangUp", "promise")
    assert talk.outcome.promise_date == date(2024, 12, 15)


# -- the shell's contract ----------------------------------------------------------------


def test_caller_hang_up_keeps_what_was_agreed() -> None:
    talk = dialogue("ko")
    talk.start()
    talk.caller_hung_up()
    assert talk.finished and talk.outcome.kind == "incomplete"
    assert talk.outcome.turns[0].heard is None
    assert talk.heard("네") == []
    talk.caller_hung_up()  # twice is harmless


def test_order_and_facts_are_checked() -> None:
    talk = dialogue("ko")
    with pytest.raises(DialogueError, match="not started"):
        talk.heard("네")
    talk.start()
    with pytest.raises(DialogueError, match="already started"):
        talk.start()
    naive = replace(facts("ko"), now=datetime(2024, 11, 27, 10, 0))
    with pytest.raises(DialogueError, match="timezone-aware"):
        Dialogue(script("ko"), naive)
    with pytest.raises(DialogueError, match="no due date"):
        Dialogue(script("ko"), facts("ko", due_date=None))


def test_barge_in_only_on_plain_questions() -> None:
    """The notice, the disclosure and goodbyes play in full; a plain question and an FAQ
    answer may be interrupted."""
    talk = dialogue("zh")
    greeting = talk.start()[0]
    disclosure = talk.heard("是")[0]
    question = talk.heard("只能还一部分")[0]
    assert isinstance(greeting, Say) and not greeting.barge_in
    assert isinstance(disclosure, Say) and not disclosure.barge_in
    assert isinstance(question, Say) and question.barge_in
    goodbye = talk.heard("转人工")[0]
    assert isinstance(goodbye, Say) and not goodbye.barge_in
