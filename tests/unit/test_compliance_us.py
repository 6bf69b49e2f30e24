"""US pack (Regulation F): window in every plausible zone, 7-in-7, after a
conversation, opt-out / cease / attorney."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.compliance import (
    CampaignPolicy,
    ContactAttempt,
    DebtorFacts,
    NumberFacts,
    Reason,
    decide,
)

US = CampaignPolicy(campaign_id=2, packs=("US",), debt_ref="D-1")
US_ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
            "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu"]
NOWS = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2026, 12, 31),
                    timezones=st.just(UTC))
NUMBER = NumberFacts("n-1")


def debtor(*zones: str, **flags: bool) -> DebtorFacts:
    return DebtorFacts(7, zones or ("America/New_York",), "US",
                       own_number_keys=frozenset({"n-1"}), **flags)


def inside(now: datetime, zone: str) -> bool:
    return time(8) <= now.astimezone(ZoneInfo(zone)).time() < time(21)


@settings(max_examples=200, deadline=None)
@given(now=NOWS, zones=st.lists(st.sampled_from(US_ZONES), min_size=1, max_size=3,
                                unique=True))
def test_window_is_the_intersection_of_every_zone(now: datetime, zones: list[str]) -> None:
    """Steps: a debtor with 1–3 plausible zones (area code and address disagree);
    decide at any instant.
    Expected: allowed iff 08:00–21:00 local in every zone; when denied,
    us.calling_window until an instant inside every zone, 1 µs before which some zone
    is still outside."""
    d = debtor(*zones)
    decision = decide(d, NUMBER, US, [], now)
    assert decision.allowed == all(inside(now, z) for z in zones)
    if decision.allowed:
        return
    assert decision.reason is Reason.US_CALLING_WINDOW
    assert decision.until is not None and now < decision.until <= now + timedelta(days=1)
    assert all(inside(decision.until, z) for z in zones)
    before = decision.until - timedelta(microseconds=1)
    assert not all(inside(before, z) for z in zones)


def test_disagreeing_zones_across_dst_change() -> None:
    """Steps: debtor in New York and Los Angeles, 06:00 UTC on 2024-03-10 (DST starts
    in both that night).
    Expected: denied until 08:00 PDT in Los Angeles = 15:00 UTC (11:00 EDT in NY)."""
    d = debtor("America/New_York", "America/Los_Angeles")
    decision = decide(d, NUMBER, US, [], datetime(2024, 3, 10, 6, tzinfo=UTC))
    assert decision.until == datetime(2024, 3, 10, 15, tzinfo=UTC)


def test_zones_that_never_overlap_deny_forever() -> None:
    """Steps: a debtor whose plausible zones are UTC, UTC+8 and UTC-8 (any two 13 h
    windows overlap, these three never do).
    Expected: us.calling_window with until None (the windows never intersect)."""
    d = debtor("Etc/UTC", "Etc/GMT-8", "Etc/GMT+8")
    decision = decide(d, NUMBER, US, [], datetime(2024, 3, 10, 20, tzinfo=UTC))
    assert decision.reason is Reason.US_CALLING_WINDOW and decision.until is None


@settings(max_examples=100, deadline=None)
@given(gaps_h=st.lists(st.integers(1, 30), min_size=8, max_size=14))
def test_seven_in_seven_rolling(gaps_h: list[int]) -> None:
    """Steps: calls about one debt spaced by random hours, asking before each (window
    checks left out by asking only at noon New York time or skipping).
    Expected: a call is allowed iff fewer than 7 calls about the debt were placed in
    the 7 days before it; a denial is us.seven_in_seven until the oldest counted call
    that must roll off + 7 days, at which the rule no longer denies."""
    t = datetime(2024, 10, 1, 16, tzinfo=UTC)
    history: list[ContactAttempt] = []
    d = debtor()
    for gap in gaps_h:
        t += timedelta(hours=gap)
        decision = decide(d, NUMBER, US, history, t)
        recent = sorted(a.at for a in history if a.at > t - timedelta(days=7))
        if not inside(t, "America/New_York"):
            continue
        assert decision.allowed == (len(recent) < 7)
        if decision.allowed:
            history.append(ContactAttempt(t, "n-1", "D-1"))
            continue
        assert decision.reason is Reason.US_SEVEN_IN_SEVEN
        rolled = recent[len(recent) - 7] + timedelta(days=7)
        assert decision.until is not None and decision.until >= rolled
        assert "us.seven_in_seven" not in "".join(decide(d, NUMBER, US, history,
                                                         rolled).details)


def test_seven_calls_about_another_debt_do_not_count() -> None:
    """Steps: 7 calls on day 1 about debt D-2, then ask about D-1 on day 2.
    Expected: allowed (the cap is per debt)."""
    day1 = datetime(2024, 10, 1, 14, tzinfo=UTC)
    history = [ContactAttempt(day1 + timedelta(minutes=i), "n-1", "D-2") for i in range(7)]
    assert decide(debtor(), NUMBER, US, history, day1 + timedelta(days=1)).allowed


def test_no_call_for_seven_days_after_a_conversation_end() -> None:
    """Steps: a right-party conversation about D-1 at 14:00 UTC lasting 600 s; ask 6
    days later and at exactly end + 7 days.
    Expected: us.after_conversation until 14:10 UTC + 7 days; allowed then."""
    at = datetime(2024, 10, 1, 14, tzinfo=UTC)
    history = [ContactAttempt(at, "n-1", "D-1", answered=True, right_party=True,
                              conversation_s=600.0)]
    denied = decide(debtor(), NUMBER, US, history, at + timedelta(days=6))
    assert denied.reason is Reason.US_AFTER_CONVERSATION
    assert denied.until == at + timedelta(days=7, minutes=10)
    assert decide(debtor(), NUMBER, US, history, denied.until).allowed


@pytest.mark.parametrize(("flag", "reason"), [("opted_out", Reason.US_OPT_OUT),
                                              ("cease", Reason.US_CEASE),
                                              ("attorney", Reason.US_ATTORNEY)])
def test_blocks_are_permanent(flag: str, reason: Reason) -> None:
    """Steps: a debtor flagged opted-out / cease / attorney; decide inside the window.
    Expected: denied with the flag's reason and until None (never)."""
    decision = decide(debtor(**{flag: True}), NUMBER, US, [],
                      datetime(2024, 10, 1, 16, tzinfo=UTC))
    assert decision.reason is reason and decision.until is None
