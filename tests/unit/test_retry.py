"""Retry rules (pure): outcome classes, delays, maxima, time-of-day slots in the debtor's
zone, the next number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.retry import (
    STANDARD_RULES,
    Done,
    FinishedAttempt,
    RetryOutcome,
    RetryRules,
    RetryRulesError,
    TryAgain,
    classify,
    next_step,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
PHONES = [11, 12, 13]


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI)


def attempt(at: datetime, disposition: str, **flags: object) -> FinishedAttempt:
    return FinishedAttempt(at, disposition, **flags)  # type: ignore[arg-type]


def step(rules: dict[str, object], last: FinishedAttempt, *earlier: FinishedAttempt,
         phone_id: int = 11, zone: str = "Asia/Shanghai") -> Done | TryAgain:
    return next_step(RetryRules.parse(rules), last, list(earlier), phone_id=phone_id,
                     phones=PHONES, zone=zone)


@pytest.mark.parametrize(("disposition", "flags", "expected"), [
    ("busy", {}, RetryOutcome.BUSY),
    ("no_answer", {}, RetryOutcome.NO_ANSWER),
    ("congestion", {}, RetryOutcome.NETWORK),
    ("failed", {}, RetryOutcome.NETWORK),
    ("invalid_number", {}, RetryOutcome.INVALID_NUMBER),
    ("answered", {"machine": True}, RetryOutcome.MACHINE),
    ("answered", {"abandoned": True}, RetryOutcome.ABANDONED),
    ("answered", {"right_party": False}, RetryOutcome.WRONG_PARTY),
    ("answered", {"right_party": True}, None),
    ("answered", {}, None),
    ("something_new", {}, RetryOutcome.NETWORK),
])
def test_outcome_classes(disposition: str, flags: dict[str, bool],
                         expected: RetryOutcome | None) -> None:
    assert classify(disposition, machine=flags.get("machine", False),
                    abandoned=flags.get("abandoned", False),
                    right_party=flags.get("right_party")) == expected


def test_no_rules_means_one_attempt() -> None:
    assert step({}, attempt(local(1, 10), "busy")) == Done("no rule for busy")


def test_a_contact_is_never_retried() -> None:
    assert step(STANDARD_RULES, attempt(local(1, 10), "answered")) == Done("contact")


def test_delay_and_maximum_count_the_same_outcome_only() -> None:
    rules = {"busy": {"delay_min": 10, "max": 2}, "no_answer": {"delay_min": 60, "max": 1}}
    first = attempt(local(1, 10), "busy")
    assert step(rules, first) == TryAgain(local(1, 10, 10).astimezone(UTC), 11,
                                          RetryOutcome.BUSY)
    second = attempt(local(1, 10, 10), "busy")
    assert isinstance(step(rules, second, first), TryAgain)
    third = attempt(local(1, 10, 20), "busy")
    assert step(rules, third, second, first) == Done("busy 3 times (max 2)")
    # A no-answer after two busy signals still has its own budget.
    quiet = attempt(local(1, 10, 30), "no_answer")
    assert step(rules, quiet, second, first) == TryAgain(
        local(1, 11, 30).astimezone(UTC), 11, RetryOutcome.NO_ANSWER)


def test_max_tries_caps_every_outcome() -> None:
    rules = {"busy": {"delay_min": 1, "max": 10}, "max_tries": 3}
    earlier = [attempt(local(1, 10, i), "busy") for i in range(2)]
    assert step(rules, attempt(local(1, 10, 5), "busy"), *earlier) == Done(
        "3 tries (max_tries)")


def test_wrong_party_and_invalid_number_move_to_the_next_number_at_once() -> None:
    wrong = attempt(local(1, 10), "answered", right_party=False)
    assert step(STANDARD_RULES, wrong) == TryAgain(local(1, 10).astimezone(UTC), 12,
                                                   RetryOutcome.WRONG_PARTY)
    dead = attempt(local(1, 10), "invalid_number")
    assert step(STANDARD_RULES, dead, phone_id=12) == TryAgain(
        local(1, 10).astimezone(UTC), 13, RetryOutcome.INVALID_NUMBER)
    assert step(STANDARD_RULES, dead, phone_id=13) == Done("invalid_number: no next number")


def test_slots_spread_retries_over_the_day_in_the_debtors_zone() -> None:
    """No answer at 10:00 (morning slot) → the afternoon slot, at the delay; after a
    morning and an afternoon no-answer, the evening slot opens at 17:00 local."""
    rules = {"no_answer": {"delay_min": 30, "max": 5},
             "slots": ["09:00-12:00", "12:00-17:00", "17:00-21:00"]}
    morning = attempt(local(1, 10), "no_answer")
    assert step(rules, morning) == TryAgain(local(1, 12).astimezone(UTC), 11,
                                            RetryOutcome.NO_ANSWER)
    afternoon = attempt(local(1, 12), "no_answer")
    assert step(rules, afternoon, morning) == TryAgain(
        local(1, 17).astimezone(UTC), 11, RetryOutcome.NO_ANSWER)
    # Every slot used once: the earliest opening, tomorrow morning if the evening is over.
    evening = attempt(local(1, 20, 45), "no_answer")
    assert step(rules, evening, afternoon, morning) == TryAgain(
        local(2, 9).astimezone(UTC), 11, RetryOutcome.NO_ANSWER)


def test_slots_are_local_to_each_debtor() -> None:
    """The same UTC instant is morning in Shanghai and evening in New York."""
    rules = {"busy": {"delay_min": 0, "max": 3}, "slots": ["09:00-12:00", "17:00-21:00"]}
    at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 Shanghai, 21:00 NY (Nov 30)
    in_shanghai = step(rules, attempt(at, "busy"))
    in_new_york = step(rules, attempt(at, "busy"), zone="America/New_York")
    assert isinstance(in_shanghai, TryAgain) and isinstance(in_new_york, TryAgain)
    assert in_shanghai.at.astimezone(SHANGHAI) == local(1, 17)
    assert in_new_york.at.astimezone(ZoneInfo("America/New_York")) == datetime(
        2026, 12, 1, 9, 0, tzinfo=ZoneInfo("America/New_York"))
    assert in_new_york.at - in_shanghai.at == timedelta(hours=5)


@pytest.mark.parametrize(("rules", "message"), [
    ({"bussy": {"max": 1}}, "retry.bussy: not an outcome"),
    ({"busy": {"max": -1}}, "retry.busy.max: a whole number from 0 to 20"),
    ({"busy": {"delay_min": "soon"}}, "retry.busy.delay_min: minutes"),
    ({"busy": {"wait": 3}}, "retry.busy.wait: unknown"),
    ({"busy": 3}, "retry.busy: a table"),
    ({"slots": ["9-12"]}, "retry.slots[0]: HH:MM-HH:MM"),
    ({"slots": ["12:00-09:00"]}, "retry.slots[0]: the start must come before the end"),
    ({"max_tries": 0}, "retry.max_tries"),
])
def test_bad_rules_name_the_field(rules: dict[str, object], message: str) -> None:
    with pytest.raises(RetryRulesError, match=message.replace("[", r"\[").replace("]", r"\]")):
        RetryRules.parse(rules)


def test_the_standard_rules_parse() -> None:
    parsed = RetryRules.parse(STANDARD_RULES)
    assert parsed.max_tries == 8 and len(parsed.slots) == 3
    assert set(parsed.outcomes) == set(RetryOutcome)
