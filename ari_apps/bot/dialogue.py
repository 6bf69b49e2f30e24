"""The dialogue engine: a script walked for one call, pure and deterministic.

The I/O shell feeds what happened (`start`, `heard`, `no_input`, `caller_hung_up`) and
carries out the commands it gets back, in order: `Say` a prompt, `Listen` for an answer
with a grammar, `HangUp` or `HandOff` to an agent. Time comes in with the `CallFacts`.

    start ─▶ Say, Listen ─heard(text)─▶ intent? ─▶ its next node: Say, (Listen | end)
                 │  ▲                   FAQ?    ─▶ Say answer, Listen again (2 per call)
                 │  └── reprompt ◀── no match / no input, `retries` times, then `then`
                 └── max_turns listens ─▶ on_max_turns: Say, HangUp

A `Turn` is one listen: the node, what was said since the previous listen, what was
heard (None: silence) and the intent it matched (`faq.<name>` for a question, None for
no match). The outcome is readable at any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from ari_apps.bot import intents, slots, spoken
from ari_apps.bot.script import (
    SUBSTANTIVE,
    FallbackKind,
    IdentityResult,
    Intent,
    Node,
    OutcomeKind,
    Script,
    placeholders,
)

FAQ_ANSWERS_PER_CALL = 2

Kind = OutcomeKind | Literal["incomplete"]  # incomplete: no outcome (yet)
_Value = date | datetime | Decimal | None  # a slot's value


class DialogueError(Exception):
    """The dialogue cannot go on as asked (facts missing for the script, out-of-order
    calls); the message says what."""


@dataclass(frozen=True, slots=True)
class CallFacts:
    name: str
    amount_due: Decimal
    currency: str
    due_date: date | None
    days_overdue: int
    payment_channels: str
    today: date  # in the debtor's zone
    now: datetime  # tz-aware, the debtor's zone


@dataclass(frozen=True, slots=True)
class Say:
    node: str
    text: str
    barge_in: bool  # the caller may interrupt it


@dataclass(frozen=True, slots=True)
class Listen:
    node: str
    grammar: list[str]
    no_input_s: float


@dataclass(frozen=True, slots=True)
class HangUp:
    reason: str  # the outcome kind, or "max_turns"


@dataclass(frozen=True, slots=True)
class HandOff:
    reason: str  # the outcome kind, or "max_turns"


Command = Say | Listen | HangUp | HandOff


@dataclass(frozen=True, slots=True)
class Turn:
    node: str
    prompt: str
    heard: str | None
    intent: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: Kind
    identity: IdentityResult | None
    promise_amount: Decimal | None  # a promise without an amount: the full amount due
    promise_date: date | None
    callback_at: datetime | None
    turns: tuple[Turn, ...]


class Dialogue:
    def __init__(self, script: Script, facts: CallFacts) -> None:
        if facts.now.utcoffset() is None:
            raise DialogueError("facts.now must be timezone-aware (the debtor's zone)")
        used = frozenset().union(*(placeholders(text) for _, text in script.prompts()))
        if facts.due_date is None and "due_date" in used:
            raise DialogueError("the script says {due_date} but the facts have no due date")
        self._script = script
        self._facts = facts
        self._language = script.language
        self._grammars: dict[str, list[str]] = {}
        self._started = False
        self._finished = False
        self._node: str | None = None  # the node listening now
        self._misses: dict[FallbackKind, int] = {"no_input": 0, "no_match": 0}
        self._listens = 0
        self._faq_answers = 0
        self._said: list[str] = []  # since the last listen
        self._prompt = ""  # said before the current listen
        self._turns: list[Turn] = []
        self._kind: OutcomeKind | None = None
        self._identity: IdentityResult | None = None
        self._promise_amount: Decimal | None = None
        self._promise_date: date | None = None
        self._callback_at: datetime | None = None
        self._capped = False

    # -- what happened ----------------------------------------------------------------

    def start(self) -> list[Command]:
        if self._started:
            raise DialogueError("the dialogue has already started")
        self._started = True
        return self._enter(self._script.start)

    def heard(self, text: str) -> list[Command]:
        """A final recognition result for the current Listen."""
        node = self._listening()
        if node is None:
            return []  # a late result after the end: nothing to do
        found = self._match(node, text)
        if found is not None:
            name, intent, value = found
            self._close(text, name)
            return self._take(intent, value)
        faq = self._match_faq(text)
        if faq is not None and self._faq_answers < FAQ_ANSWERS_PER_CALL:
            self._faq_answers += 1
            self._close(text, f"faq.{faq}")
            answer = self._say(node, self._script.faq[faq].answer, barge_in=True)
            return [answer, *self._listen(node)]
        self._close(text, None)
        return self._miss(node, "no_match")

    def no_input(self) -> list[Command]:
        """Endpointing said nobody spoke."""
        node = self._listening()
        if node is None:
            return []
        self._close(None, None)
        return self._miss(node, "no_input")

    def caller_hung_up(self) -> None:
        if self._finished:
            return
        if self._node is not None:
            self._close(None, None)
        self._finished = True
        self._node = None

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def outcome(self) -> Outcome:
        kind = self._kind or "incomplete"
        amount = self._promise_amount
        if kind == "promise" and amount is None:
            amount = self._facts.amount_due
        return Outcome(
            kind=kind,
            identity=self._identity,
            promise_amount=amount,
            promise_date=self._promise_date,
            callback_at=self._callback_at,
            turns=tuple(self._turns),
        )

    # -- walking the script -----------------------------------------------------------

    def _listening(self) -> str | None:
        if not self._started:
            raise DialogueError("the dialogue has not started")
        return self._node

    def _enter(self, name: str) -> list[Command]:
        """Say the node (and pass-through successors) until a node listens or ends."""
        commands: list[Command] = []
        while True:
            node = self._script.nodes[name]
            self._misses = {"no_input": 0, "no_match": 0}
            if node.outcome is not None and self._kind is None:
                self._kind = node.outcome
            commands.append(self._say(name, node.say, _barge_in(node)))
            if node.next is not None:
                name = node.next
                continue
            if node.end is None:
                return commands + self._listen(name)
            self._finished = True
            self._node = None
            reason = "max_turns" if self._capped else self.outcome.kind
            return [*commands, HandOff(reason) if node.end == "handoff" else HangUp(reason)]

    def _listen(self, name: str) -> list[Command]:
        if self._capped:
            raise DialogueError("on_max_turns must be an end node (lint the script)")
        if self._listens >= self._script.max_turns:
            self._capped = True
            self._node = None
            return self._enter(self._script.on_max_turns)
        self._listens += 1
        self._node = name
        self._prompt = " ".join(self._said)
        self._said = []
        node = self._script.nodes[name]
        timeout = node.no_input_s if node.no_input_s is not None else self._script.no_input_s
        return [Listen(name, self._grammar(name), timeout)]

    def _close(self, heard: str | None, intent: str | None) -> None:
        assert self._node is not None
        self._turns.append(Turn(self._node, self._prompt, heard, intent))
        self._node = None

    def _take(self, intent: Intent, value: _Value) -> list[Command]:
        if intent.identity is not None:
            self._identity = intent.identity
        if intent.kind is not None:
            self._kind = intent.kind
        if isinstance(value, datetime):
            self._callback_at = value
        elif isinstance(value, date):
            self._promise_date = value
        elif isinstance(value, Decimal):
            self._promise_amount = value
        return self._enter(intent.next)

    def _miss(self, name: str, kind: FallbackKind) -> list[Command]:
        """No input or no match: re-prompt while retries last, then the fallback."""
        found = self._script.fallback(name, kind)
        if found is None:
            raise DialogueError(f"node {name!r} has no {kind} handling (lint the script)")
        fallback = found[1]
        if self._misses[kind] < fallback.retries:
            self._misses[kind] += 1
            node = self._script.nodes[name]
            if fallback.reprompt is None:
                again = self._say(name, node.say, _barge_in(node))
            else:
                again = self._say(name, fallback.reprompt, not _substantive(fallback.reprompt))
            return [again, *self._listen(name)]
        if kind == "no_input" and self._kind is None:
            self._kind = "no_response"
        return self._enter(fallback.then)

    # -- understanding ----------------------------------------------------------------

    def _match(self, name: str, text: str) -> tuple[str, Intent, _Value] | None:
        """The node's intent for the answer: by phrase (a slot intent only with its
        value), else the first slot intent whose parser finds a value."""
        if not intents.normalise(text, self._language):
            return None
        listen = self._script.nodes[name].listen or {}
        candidates = {key: intent.phrases for key, intent in listen.items()}
        while candidates:
            found = intents.match_intent(text, candidates, self._language)
            if found is None:
                break
            intent = listen[found.intent]
            value = self._slot(intent, text)
            if intent.slot is None or value is not None:
                return found.intent, intent, value
            del candidates[found.intent]
        for key, intent in listen.items():
            if intent.slot is not None and (value := self._slot(intent, text)) is not None:
                return key, intent, value
        return None

    def _match_faq(self, text: str) -> str | None:
        if not self._script.faq or not intents.normalise(text, self._language):
            return None
        questions = {name: faq.phrases for name, faq in self._script.faq.items()}
        found = intents.match_intent(text, questions, self._language)
        return None if found is None else found.intent

    def _slot(self, intent: Intent, text: str) -> _Value:
        """The slot's value in the answer; a date or time in the past, or an amount that
        is not positive, is no value."""
        facts, language = self._facts, self._language
        if intent.slot == "promise_date":
            day = slots.parse_promise_date(text, language, facts.today)
            return day if day is not None and day >= facts.today else None
        if intent.slot == "promise_amount":
            amount = slots.parse_amount(text, language)
            return amount if amount is not None and amount > 0 else None
        if intent.slot == "callback_time":
            at = slots.parse_callback_time(text, language, facts.now)
            return at if at is not None and at > facts.now else None
        return None

    def _grammar(self, name: str) -> list[str]:
        if name not in self._grammars:
            self._grammars[name] = intents.grammar(self._script.phrases(name), self._language)
        return list(self._grammars[name])

    # -- speaking ---------------------------------------------------------------------

    def _say(self, node: str, template: str, barge_in: bool) -> Say:
        text = template.format_map({name: self._value(name) for name in placeholders(template)})
        self._said.append(text)
        return Say(node, text, barge_in)

    def _value(self, name: str) -> str:
        facts, script, language = self._facts, self._script, self._language
        match name:
            case "institution" | "on_behalf_of" | "callback_number":
                value: str = getattr(script, name)
                return value
            case "name" | "payment_channels":
                value = getattr(facts, name)
                return value
            case "amount":
                return spoken.spoken_amount(facts.amount_due, facts.currency, language)
            case "due_date" if facts.due_date is not None:
                return spoken.spoken_date(facts.due_date, language)
            case "days_overdue":
                return spoken.spoken_count(facts.days_overdue, "day", language)
            case "promise_date" if self._promise_date is not None:
                return spoken.spoken_date(self._promise_date, language)
            case "promise_amount":
                amount = self._promise_amount or facts.amount_due
                return spoken.spoken_amount(amount, facts.currency, language)
        raise DialogueError(f"no value for {{{name}}} at this point of the call")


def _barge_in(node: Node) -> bool:
    """May the caller interrupt the node's prompt: as the script says, else only a
    question that is neither the recording notice nor about the debt."""
    if node.barge_in is not None:
        return node.barge_in
    return node.listen is not None and not node.recording_notice and not _substantive(node.say)


def _substantive(template: str) -> bool:
    return bool(placeholders(template) & SUBSTANTIVE)
