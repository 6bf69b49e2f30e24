"""CN pack: quiet hours, per-number unanswered cap, per-debtor conversation cap,
third-party contacts."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.compliance import (
    CampaignPolicy,
    ContactAttempt,
    DebtorFacts,
    NumberFacts,
    Packs,
    Reason,
    decide,
)
from engine.compliance.packs import CnPack

NO_HOLIDAYS = Packs(cn=CnPack(avoid_holidays=False))
CN = CampaignPolicy(campaign_id=1, packs=("CN",))
ZONES = ["Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe",
         "America/Santiago", "Asia/Kolkata"]
NOWS = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2026, 12, 31),
                    timezones=st.just(UTC))
OWN = NumberFacts("own-1")
OTHER = NumberFacts("third-1", third_party=True)


def debtor(zone: str = "Asia/Shanghai") -> DebtorFacts:
    return DebtorFacts(1, (zone,), "CN", own_number_keys=frozenset({"own-1", "own-2"}))


def attempt(at: datetime, key: str = "own-1", **outcome: object) -> ContactAttempt:
    return ContactAttempt(at=at, number_key=key, **outcome)  # type: ignore[arg-type]


def at_local(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone)).astimezone(UTC)  # type: ignore[misc]


def reasons(d: DebtorFacts, n: NumberFacts, history: list[ContactAttempt],
            now: datetime) -> set[str]:
    decision = decide(d, n, CN, history, now, NO_HOLIDAYS)
    return {line.split(":")[0] for line in decision.details}


@settings(max_examples=200, deadline=None)
@given(now=NOWS, zone=st.sampled_from(ZONES))
def test_quiet_hours_deny_until_next_0800(now: datetime, zone: str) -> None:
    """Steps: decide at any instant, for a debtor in any zone, no history.
    Expected: allowed iff 08:00 <= local time < 22:00; when denied, reason
    cn.quiet_hours and `until` is the next 08:00 local (wall time 08:00, or the first
    instant after it in a DST gap); deciding at `until` is allowed, 1 µs before not."""
    d = debtor(zone)
    decision = decide(d, OWN, CN, [], now, NO_HOLIDAYS)
    local = now.astimezone(ZoneInfo(zone))
    assert decision.allowed == (time(8) <= local.time() < time(22))
    if decision.allowed:
        return
    assert decision.reason is Reason.CN_QUIET_HOURS
    assert decision.until is not None and now < decision.until <= now + timedelta(hours=11)
    assert decision.until.astimezone(ZoneInfo(zone)).time() >= time(8)
    assert decide(d, OWN, CN, [], decision.until, NO_HOLIDAYS).allowed
    assert not decide(d, OWN, CN, [], decision.until - timedelta(microseconds=1),
                      NO_HOLIDAYS).allowed


def test_quiet_hours_across_dst_and_month_end() -> None:
    """Steps: New York debtor, 01:30 EST on 2024-03-10 (spring forward) and 23:00 EDT
    on 2024-11-02 (fall back that night); Shanghai debtor at 22:00 on 2024-02-29.
    Expected: until 08:00 EDT = 12:00 UTC; 08:00 EST = 13:00 UTC next day;
    08:00 CST on 2024-03-01 = 00:00 UTC."""
    ny = debtor("America/New_York")
    d1 = decide(ny, OWN, CN, [], at_local("America/New_York", 2024, 3, 10, 1, 30), NO_HOLIDAYS)
    assert d1.until == datetime(2024, 3, 10, 12, tzinfo=UTC)
    d2 = decide(ny, OWN, CN, [], at_local("America/New_York", 2024, 11, 2, 23), NO_HOLIDAYS)
    assert d2.until == datetime(2024, 11, 3, 13, tzinfo=UTC)
    d3 = decide(debtor(), OWN, CN, [], at_local("Asia/Shanghai", 2024, 2, 29, 22), NO_HOLIDAYS)
    assert d3.until == datetime(2024, 3, 1, 0, tzinfo=UTC)


@settings(max_examples=100, deadline=None)
@given(start_minute=st.integers(8 * 60, 12 * 60), gaps=st.lists(st.integers(1, 40),
       min_size=8, max_size=8), answered=st.lists(st.booleans(), min_size=8, max_size=8))
def test_number_cap_counts_only_unanswered(start_minute: int, gaps: list[int],
                                           answered: list[bool]) -> None:
    """Steps: place attempts on one number through a local day, each answered or not
    at random, asking the gate before each.
    Expected: an attempt is allowed iff fewer than 6 unanswered attempts were placed
    on that number that local day; a denial is cn.number_daily_cap, allowed again at
    the next local midnight — settled past the quiet hours to 08:00."""
    zone = "Asia/Shanghai"
    t = at_local(zone, 2024, 5, 8) + timedelta(minutes=start_minute)
    history: list[ContactAttempt] = []
    for gap, was_answered in zip(gaps, answered, strict=True):
        t += timedelta(minutes=gap)
        decision = decide(debtor(), OWN, CN, history, t, NO_HOLIDAYS)
        unanswered = sum(1 for a in history if not a.answered)
        assert decision.allowed == (unanswered < 6)
        if not decision.allowed:
            assert decision.reason is Reason.CN_NUMBER_DAILY_CAP
            assert decision.until == at_local(zone, 2024, 5, 9, 8)
            return
        history.append(attempt(t, answered=was_answered))


def test_number_cap_sixth_allowed_seventh_denied_next_day_allowed() -> None:
    """Steps: 6 unanswered attempts on own-1 on 2024-05-08 (Shanghai), then ask at
    20:00 for own-1 and own-2, and at 08:00 next day for own-1.
    Expected: own-1 denied (cn.number_daily_cap) until local midnight → the fixpoint
    moves `until` past the quiet hours to 08:00 next day; own-2 allowed; next day
    allowed."""
    zone = "Asia/Shanghai"
    history = [attempt(at_local(zone, 2024, 5, 8, 9 + i)) for i in range(6)]
    late = at_local(zone, 2024, 5, 8, 20)
    denied = decide(debtor(), OWN, CN, history, late, NO_HOLIDAYS)
    assert denied.reason is Reason.CN_NUMBER_DAILY_CAP
    assert denied.until == at_local(zone, 2024, 5, 9, 8)
    assert decide(debtor(), NumberFacts("own-2"), CN, history, late, NO_HOLIDAYS).allowed
    assert decide(debtor(), OWN, CN, history, at_local(zone, 2024, 5, 9, 8), NO_HOLIDAYS).allowed


@settings(max_examples=100, deadline=None)
@given(lengths=st.lists(st.integers(0, 120), min_size=6, max_size=6),
       right_party=st.lists(st.booleans(), min_size=6, max_size=6))
def test_conversation_cap_counts_effective_conversations(lengths: list[int],
                                                         right_party: list[bool]) -> None:
    """Steps: answered calls across both own numbers (robot calls), each with a random
    length and right-party flag, asking before each.
    Expected: allowed iff fewer than 3 effective (right party, >= 30 s) conversations
    that local day; a denial is cn.debtor_conversation_cap."""
    zone = "America/New_York"
    t = at_local(zone, 2024, 3, 10, 9)  # the spring-forward day: a 23-hour day
    history: list[ContactAttempt] = []
    for i, (length, rp) in enumerate(zip(lengths, right_party, strict=True)):
        t += timedelta(minutes=30)
        number = OWN if i % 2 else NumberFacts("own-2")
        decision = decide(debtor(zone), number, CN, history, t, NO_HOLIDAYS)
        effective = sum(1 for a in history if a.right_party and a.conversation_s >= 30)
        assert decision.allowed == (effective < 3)
        if not decision.allowed:
            assert decision.reason is Reason.CN_DEBTOR_CONVERSATION_CAP
            assert decision.until == at_local(zone, 2024, 3, 11, 8)
            return
        history.append(attempt(t, number.number_key, answered=True, right_party=rp,
                               conversation_s=float(length), automated=True))


@settings(max_examples=100, deadline=None)
@given(outcomes=st.lists(st.sampled_from(["fail", "contact"]), min_size=0, max_size=10))
def test_third_party_only_after_six_consecutive_failures(outcomes: list[str]) -> None:
    """Steps: own-number attempts one hour apart with random outcomes (all within 3
    days; contacts too short to count toward the conversation cap), then ask for a
    third-party number.
    Expected: allowed iff the last 6 own attempts all failed; else
    cn.third_party_not_yet."""
    t = at_local("Asia/Shanghai", 2024, 5, 8, 8)
    history = [attempt(t + timedelta(minutes=20 * i), answered=o == "contact",
                       right_party=o == "contact", conversation_s=10.0)
               for i, o in enumerate(outcomes)]
    now = t + timedelta(hours=5)
    decision = decide(debtor(), OTHER, CN, history, now, NO_HOLIDAYS)
    expected = len(outcomes) >= 6 and "contact" not in outcomes[-6:]
    assert decision.allowed == expected
    if not expected:
        assert decision.reason is Reason.CN_THIRD_PARTY_NOT_YET


def test_third_party_after_days_without_contact_and_never_after_refusal() -> None:
    """Steps: one failed own attempt at 09:00 day 1; ask for the third party at day 3
    10:00, then day 4 09:00; then record a refusal on that number and ask day 5.
    Expected: denied cn.third_party_not_yet until day 4 09:00 (3 days after the first
    attempt); allowed at day 4 09:00; after refusal cn.third_party_refused, never."""
    zone = "Asia/Shanghai"
    history = [attempt(at_local(zone, 2024, 5, 8, 9))]
    early = decide(debtor(), OTHER, CN, history, at_local(zone, 2024, 5, 10, 10), NO_HOLIDAYS)
    assert early.reason is Reason.CN_THIRD_PARTY_NOT_YET
    assert early.until == at_local(zone, 2024, 5, 11, 9)
    assert decide(debtor(), OTHER, CN, history, early.until, NO_HOLIDAYS).allowed
    history.append(attempt(early.until, "third-1", answered=True, third_party_refused=True))
    refused = decide(debtor(), OTHER, CN, history, at_local(zone, 2024, 5, 12, 10), NO_HOLIDAYS)
    assert refused.reason is Reason.CN_THIRD_PARTY_REFUSED and refused.until is None


def test_right_party_contact_restarts_the_days_count() -> None:
    """Steps: failed attempt day 1, right-party contact day 3 12:00; ask for the third
    party day 5 12:00.
    Expected: denied until day 6 12:00 (3 days after the contact)."""
    zone = "Asia/Shanghai"
    history = [attempt(at_local(zone, 2024, 5, 8, 9)),
               attempt(at_local(zone, 2024, 5, 10, 12), answered=True, right_party=True,
                       conversation_s=40.0)]
    decision = decide(debtor(), OTHER, CN, history, at_local(zone, 2024, 5, 12, 12), NO_HOLIDAYS)
    assert decision.reason is Reason.CN_THIRD_PARTY_NOT_YET
    assert decision.until == at_local(zone, 2024, 5, 13, 12)
