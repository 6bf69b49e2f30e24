"""Retry rules: after a finished attempt, whether the campaign tries the debtor again,
when, and on which number. Pure: the database shell (db/targets.py) gathers the inputs.

A campaign's rules live in its settings under `retry` (`campaign create --retry`):

    {"busy": {"delay_min": 10, "max": 3},
     "no_answer": {"delay_min": 120, "max": 4},
     "wrong_party": {"next_phone": true},
     "slots": ["09:00-12:00", "12:00-17:00", "17:00-21:00"],
     "max_tries": 8}

- Each outcome class has its own delay and maximum: `max` counts this campaign's
  attempts of the debtor that ended the same way (so three busy signals and then a
  no-answer still leave the no-answer its own budget); `max_tries` caps all of them.
- `next_phone`: the next try goes to the debtor's next number (own numbers first, in
  their rank; contact persons' after), at once; without a next number the target is done.
- `slots`: local times of day in the debtor's zone. A retry goes to the slot this debtor
  was tried in least (ties: the earliest), at or after the delay, so a person who never
  answers mornings is tried in the afternoon and evening too.

The next try is only a wish: it is dialled through the lease and the compliance gate like
any call, which may defer it further (calling hours, caps, lists).

Without `retry` a campaign dials each debtor once (the behaviour before retries).
`--retry standard` stores STANDARD_RULES below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo


class RetryOutcome(StrEnum):
    """What the rules distinguish of a finished attempt."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    UNREACHABLE = "unreachable"    # phone off, subscriber absent
    NETWORK = "network"            # congestion, rejected, failed, lost: not the debtor's doing
    INVALID_NUMBER = "invalid_number"
    MACHINE = "machine"
    ABANDONED = "abandoned"        # a live answer nobody served
    WRONG_PARTY = "wrong_party"
    CANCELLED = "cancelled"        # we hung up before answer (shutdown, drain)


STANDARD_RULES: dict[str, Any] = {
    "busy": {"delay_min": 10, "max": 3},
    "no_answer": {"delay_min": 120, "max": 4},
    "unreachable": {"delay_min": 180, "max": 3},
    "network": {"delay_min": 15, "max": 2},
    "invalid_number": {"next_phone": True},
    "machine": {"delay_min": 240, "max": 3},
    "abandoned": {"delay_min": 60, "max": 2},
    "wrong_party": {"next_phone": True},
    "cancelled": {"delay_min": 5, "max": 2},
    "slots": ["09:00-12:00", "12:00-17:00", "17:00-21:00"],
    "max_tries": 8,
}

_DISPOSITIONS = {
    "busy": RetryOutcome.BUSY, "no_answer": RetryOutcome.NO_ANSWER,
    "unreachable": RetryOutcome.UNREACHABLE, "congestion": RetryOutcome.NETWORK,
    "rejected": RetryOutcome.NETWORK, "failed": RetryOutcome.NETWORK,
    "lost": RetryOutcome.NETWORK, "invalid_number": RetryOutcome.INVALID_NUMBER,
    "cancelled": RetryOutcome.CANCELLED,
}


class RetryRulesError(ValueError):
    """Rules that cannot be applied; the message names the field."""


@dataclass(frozen=True, slots=True)
class FinishedAttempt:
    """One attempt of the target's debtor in this campaign, as the rules see it."""

    at: datetime  # when it was placed (aware)
    disposition: str
    machine: bool = False
    abandoned: bool = False
    right_party: bool | None = None

    @property
    def outcome(self) -> RetryOutcome | None:
        return classify(self.disposition, machine=self.machine, abandoned=self.abandoned,
                        right_party=self.right_party)


def classify(disposition: str, *, machine: bool, abandoned: bool,
             right_party: bool | None) -> RetryOutcome | None:
    """The outcome class of a finished attempt; None for a contact (no retry)."""
    if machine:
        return RetryOutcome.MACHINE
    if abandoned:
        return RetryOutcome.ABANDONED
    if disposition == "answered":
        # A conversation happened: no retry unless it was with the wrong person.
        return RetryOutcome.WRONG_PARTY if right_party is False else None
    return _DISPOSITIONS.get(disposition, RetryOutcome.NETWORK)


@dataclass(frozen=True, slots=True)
class OutcomeRule:
    delay: timedelta = timedelta(0)
    max: int = 0
    next_phone: bool = False


@dataclass(frozen=True, slots=True)
class Slot:
    start: time
    end: time

    def contains(self, moment: time) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True, slots=True)
class RetryRules:
    outcomes: Mapping[RetryOutcome, OutcomeRule]
    slots: tuple[Slot, ...] = ()
    max_tries: int | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> RetryRules:
        """From campaign settings; RetryRulesError names the bad field."""
        if not raw:
            return NO_RETRIES
        outcomes: dict[RetryOutcome, OutcomeRule] = {}
        for key, value in raw.items():
            if key in ("slots", "max_tries"):
                continue
            try:
                outcome = RetryOutcome(key)
            except ValueError:
                known = ", ".join(o.value for o in RetryOutcome)
                raise RetryRulesError(f"retry.{key}: not an outcome ({known})") from None
            outcomes[outcome] = _outcome_rule(f"retry.{key}", value)
        slots = tuple(_slot(f"retry.slots[{i}]", s) for i, s in enumerate(raw.get("slots", ())))
        max_tries = raw.get("max_tries")
        if max_tries is not None and (not isinstance(max_tries, int) or max_tries < 1):
            raise RetryRulesError("retry.max_tries: a whole number of at least 1")
        return cls(outcomes, slots, max_tries)


NO_RETRIES = RetryRules({})


def _outcome_rule(where: str, value: Any) -> OutcomeRule:
    if not isinstance(value, Mapping):
        raise RetryRulesError(f"{where}: a table of delay_min, max, next_phone")
    unknown = set(value) - {"delay_min", "max", "next_phone"}
    if unknown:
        raise RetryRulesError(f"{where}.{sorted(unknown)[0]}: unknown (delay_min, max, next_phone)")
    delay, most = value.get("delay_min", 0), value.get("max", 0)
    if not isinstance(delay, int | float) or isinstance(delay, bool) or delay < 0:
        raise RetryRulesError(f"{where}.delay_min: minutes, 0 or more")
    if not isinstance(most, int) or isinstance(most, bool) or not 0 <= most <= 20:
        raise RetryRulesError(f"{where}.max: a whole number from 0 to 20")
    return OutcomeRule(timedelta(minutes=delay), most, bool(value.get("next_phone", False)))


def _slot(where: str, value: Any) -> Slot:
    try:
        start, end = (time.fromisoformat(part.strip()) for part in str(value).split("-"))
    except ValueError:
        raise RetryRulesError(f"{where}: HH:MM-HH:MM, got {value!r}") from None
    if not start < end:
        raise RetryRulesError(f"{where}: the start must come before the end")
    return Slot(start, end)


@dataclass(frozen=True, slots=True)
class Done:
    reason: str


@dataclass(frozen=True, slots=True)
class TryAgain:
    at: datetime  # aware, UTC
    phone_id: int
    outcome: RetryOutcome


def next_step(rules: RetryRules, last: FinishedAttempt, earlier: Sequence[FinishedAttempt],
              *, phone_id: int, phones: Sequence[int], zone: str) -> Done | TryAgain:
    """After `last` (placed to `phone_id`), with the campaign's `earlier` attempts of the
    same debtor and the debtor's numbers in calling order: done, or when and where next."""
    outcome = last.outcome
    if outcome is None:
        return Done("contact")
    rule = rules.outcomes.get(outcome)
    if rule is None:
        return Done(f"no rule for {outcome}")
    tries = len(earlier) + 1
    if rules.max_tries is not None and tries >= rules.max_tries:
        return Done(f"{tries} tries (max_tries)")
    if rule.next_phone:
        later = list(phones[phones.index(phone_id) + 1:]) if phone_id in phones else []
        if not later:
            return Done(f"{outcome}: no next number")
        return TryAgain(last.at.astimezone(UTC), later[0], outcome)
    same = 1 + sum(1 for a in earlier if a.outcome == outcome)
    if same > rule.max:
        return Done(f"{outcome} {same} times (max {rule.max})")
    earliest = last.at + rule.delay
    return TryAgain(_into_slot(rules.slots, earliest, [last, *earlier], ZoneInfo(zone)),
                    phone_id, outcome)


def _into_slot(slots: Sequence[Slot], earliest: datetime, tried: Sequence[FinishedAttempt],
               zone: ZoneInfo) -> datetime:
    """The first moment at or after `earliest` in the slot tried least (ties: the one
    that comes first), in the debtor's local time."""
    if not slots:
        return earliest.astimezone(UTC)
    used = [sum(1 for a in tried if s.contains(a.at.astimezone(zone).time())) for s in slots]
    fewest = min(used)
    candidates = [_next_opening(slot, earliest, zone)
                  for slot, n in zip(slots, used, strict=True) if n == fewest]
    return min(candidates).astimezone(UTC)


def _next_opening(slot: Slot, earliest: datetime, zone: ZoneInfo) -> datetime:
    local = earliest.astimezone(zone)
    if slot.contains(local.time()):
        return local
    day = local.date()
    for offset in range(2):
        start = datetime.combine(day + timedelta(days=offset), slot.start, zone)
        if start >= local:
            return start
    raise AssertionError("unreachable: a slot opens within a day")
