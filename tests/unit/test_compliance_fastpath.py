"""The gate's fast path (engine/compliance/fastpath.py) against the reference evaluation:
identical Decisions — verdict, reason, until, next_allowed_at and every detail line."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.compliance.fastpath import fast_local_instant, fast_window_until
from engine.compliance.gate import decide, reference_decide
from engine.compliance.model import (
    CampaignPolicy,
    ContactAttempt,
    DebtorFacts,
    Decision,
    InconvenientWindow,
    NumberFacts,
)
from engine.compliance.replay import ReplayConfig, run_replay
from engine.compliance.rules_common import local_instant, window_until

ZONES = ["America/New_York", "America/Los_Angeles", "America/Phoenix", "Pacific/Honolulu",
         "Europe/London", "Asia/Shanghai", "Asia/Urumqi", "Australia/Lord_Howe",
         "America/Santiago", "Pacific/Chatham", "Asia/Kolkata"]
# DST changes (US, UK, Lord Howe, Santiago, Chatham), local midnights at month ends,
# Feb 29, CN National Day: `now` is drawn close to these.
EDGES = [datetime(2024, 3, 10, 7, tzinfo=UTC), datetime(2024, 11, 3, 6, tzinfo=UTC),
         datetime(2024, 3, 31, 1, tzinfo=UTC), datetime(2024, 10, 27, 1, tzinfo=UTC),
         datetime(2024, 4, 6, 15, tzinfo=UTC), datetime(2024, 9, 7, 4, tzinfo=UTC),
         datetime(2024, 4, 6, 14, tzinfo=UTC), datetime(2024, 1, 31, 16, tzinfo=UTC),
         datetime(2024, 2, 29, 5, tzinfo=UTC), datetime(2024, 12, 31, 23, tzinfo=UTC),
         datetime(2024, 9, 30, 16, tzinfo=UTC), datetime(2024, 10, 5, 0, tzinfo=UTC),
         datetime(2024, 5, 8, 2, tzinfo=UTC)]
KEYS = ["a", "b", "c", "x"]
FIXED = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5)),
         timezone(timedelta(hours=5, minutes=30))]
# Not fixed offsets: attempts in them make the fast path defer to the reference.
ZONED = [ZoneInfo("America/New_York"), ZoneInfo("Europe/London")]


def rare(one_in: int) -> st.SearchStrategy[bool]:
    return st.integers(0, one_in - 1).map(lambda n: n == 0)


def offsets_s(days: float) -> st.SearchStrategy[int]:
    """Seconds: mostly round (shared instants, exact boundaries), sometimes anything."""
    bound = int(days * 86400)
    return st.one_of(st.integers(-bound // 30, bound // 30).map(lambda n: n * 30),
                     st.sampled_from([0, 1, -1, 1800, 3600, 72 * 3600,
                                      *(d * 86400 for d in range(1, 8))]),
                     st.integers(-bound, bound))


@st.composite
def windows(draw: st.DrawFn) -> tuple[InconvenientWindow, ...]:
    found = []
    for _ in range(draw(st.integers(0, 2))):
        start = draw(st.integers(0, 22))
        found.append(InconvenientWindow(draw(st.integers(0, 6)), time(start),
                                        time(draw(st.integers(start + 1, 23)))))
    return tuple(found)


@st.composite
def cases(draw: st.DrawFn) -> tuple[DebtorFacts, NumberFacts, CampaignPolicy,
                                    list[ContactAttempt], datetime]:
    now = draw(st.sampled_from(EDGES)) + timedelta(seconds=draw(offsets_s(2)))
    now = now.astimezone(draw(st.sampled_from([UTC, *FIXED[1:], *ZONED])))
    zones = tuple(draw(st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True)))
    lists = st.frozensets(st.sampled_from(["global", "campaign:1", "campaign:2"]), max_size=2)
    expiry = st.dictionaries(st.sampled_from(["global", "campaign:1"]),
                             st.builds(lambda s: now + timedelta(seconds=s), offsets_s(3)),
                             max_size=1)
    own = frozenset(draw(st.lists(st.sampled_from(KEYS), max_size=3)))
    debtor = DebtorFacts(
        debtor_id=1, timezones=zones, region=draw(st.sampled_from(["CN", "US", "GB", "XX"])),
        opted_out=draw(rare(12)), cease=draw(rare(12)), attorney=draw(rare(12)),
        consent_until=draw(st.one_of(st.none(), st.builds(
            lambda s: now + timedelta(seconds=s), offsets_s(4)))),
        inconvenient=draw(windows()), own_number_keys=own,
        on_lists=draw(lists) if draw(rare(4)) else frozenset(),
        list_expiry=draw(expiry))
    number_key = draw(st.sampled_from(KEYS))
    number = NumberFacts(number_key, third_party=number_key not in own or draw(rare(6)),
                         on_lists=draw(lists) if draw(rare(4)) else frozenset(),
                         list_expiry=draw(expiry))
    overrides: dict[str, dict[str, object]] = {}
    if draw(st.booleans()):  # small caps and windows: the caps are hit and settle walks
        overrides = {"CN": {"max_unanswered_per_number_per_day": draw(st.integers(1, 3)),
                            "max_effective_conversations_per_day": draw(st.integers(1, 2)),
                            "third_party_after_failed_attempts": draw(st.integers(1, 3)),
                            "third_party_after_days": draw(st.integers(1, 3))},
                     "US": {"max_calls_per_debt": draw(st.integers(1, 3)),
                            "rolling_window_days": draw(st.integers(1, 7)),
                            "avoid_holidays": draw(st.booleans())},
                     "UK": {"abandon_quiet_hours": draw(st.sampled_from([1.0, 72.0, 0.5])),
                            "machine_same_day": draw(st.booleans())}}
    policy = CampaignPolicy(
        campaign_id=1,
        packs=tuple(draw(st.lists(st.sampled_from(["CN", "US", "UK"]), min_size=1, max_size=3,
                                  unique=True))),
        dnc_lists=frozenset({"campaign:1"}), requires_consent=draw(rare(3)),
        automated=not draw(rare(5)), debt_ref=draw(st.sampled_from([None, "D1"])),
        overrides=overrides)
    zoned = draw(rare(10))
    history = []
    for _ in range(draw(st.integers(0, 25))):
        at = now - timedelta(seconds=draw(offsets_s(9)))
        answered = draw(st.booleans())
        tz = draw(st.sampled_from(FIXED + ZONED if zoned else FIXED))
        history.append(ContactAttempt(
            at=at.astimezone(tz), number_key=draw(st.sampled_from(KEYS)),
            debt_ref=draw(st.sampled_from([None, "D1", "D2"])), placed=not draw(rare(8)),
            answered=answered, right_party=answered and draw(st.booleans()),
            conversation_s=draw(st.sampled_from([0.0, 29.0, 30.0, 31.0, 45.5, 600.0,
                                                 9 * 86400.0])),
            abandoned=draw(rare(4)), machine=draw(rare(4)), automated=draw(st.booleans()),
            third_party_refused=draw(rare(6))))
    return debtor, number, policy, history, now


def outcome(fn: object, *args: object) -> Decision | tuple[str, str]:
    try:
        return fn(*args)  # type: ignore[operator,no-any-return]
    except Exception as error:  # the same failure is the same answer
        return type(error).__name__, str(error)


@settings(max_examples=300, deadline=None)
@given(case=cases())
@example(case=(  # two attempts at one instant, given in different offsets
    DebtorFacts(1, ("America/New_York",), "US"), NumberFacts("a"),
    CampaignPolicy(packs=("US", "UK"), debt_ref="D1"),
    [ContactAttempt(datetime(2024, 11, 3, 5, tzinfo=UTC), "a", "D1", answered=True,
                    right_party=True, abandoned=True),
     ContactAttempt(datetime(2024, 11, 3, 13, tzinfo=timezone(timedelta(hours=8))), "a", "D1",
                    answered=True, right_party=True, abandoned=True)],
    datetime(2024, 11, 3, 14, tzinfo=UTC)))
def test_fast_path_decides_exactly_as_the_reference(
        case: tuple[DebtorFacts, NumberFacts, CampaignPolicy, list[ContactAttempt], datetime],
) -> None:
    """Steps: random debtors (1–3 zones: DST, half-hour and 45-minute offsets, zones
    that disagree), numbers (own, third party, listed with or without expiry), campaigns
    (any packs, consent, automated or not, small overridden caps), histories (up to 25
    attempts on several numbers and debts, before and after `now`, some at one instant
    in different offsets, unplaced ones, long conversations) and `now` near DST
    changes, local midnights, month ends and holidays; decide with both paths.
    Expected: identical Decisions (or the same exception)."""
    debtor, number, policy, history, now = case
    assert outcome(decide, debtor, number, policy, history, now) == outcome(
        reference_decide, debtor, number, policy, history, now)


def test_fast_path_matches_the_reference_on_the_replay_workload() -> None:
    """Steps: replay 150 debtors (the integration test's generator) and decide every
    call the campaign makes with both paths, on the history as it was then.
    Expected: identical Decisions for every one of the few thousand calls."""
    import engine.compliance.replay as replay

    calls = 0

    def both(*args: object) -> Decision:
        nonlocal calls
        calls += 1
        fast = decide(*args)  # type: ignore[arg-type]
        assert fast == reference_decide(*args)  # type: ignore[arg-type]
        return fast

    original = replay.decide
    replay.decide = both  # type: ignore[assignment]
    try:
        run_replay(ReplayConfig(debtors=150))
    finally:
        replay.decide = original
    assert calls > 5_000


@settings(max_examples=300, deadline=None)
@given(now=st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2026, 12, 31),
                        timezones=st.just(UTC)),
       zone_name=st.sampled_from(ZONES), start_h=st.integers(0, 22), length_h=st.integers(1, 12),
       day_shift=st.integers(-1, 1))
def test_memoised_local_time_maths_matches(now: datetime, zone_name: str, start_h: int,
                                           length_h: int, day_shift: int) -> None:
    """Steps: any instant, zone and window; the memoised helpers and the originals.
    Expected: the same window opening, and the same instant for a wall time on the
    local day (± 1) with and without `after` (folds and gaps included)."""
    tz = ZoneInfo(zone_name)
    start, end = time(start_h), time(min(start_h + length_h, 23), 59)
    assert fast_window_until(now, tz, start, end) == window_until(now, tz, start, end)
    day: date = now.astimezone(tz).date() + timedelta(days=day_shift)
    for wall in (start, time(1, 30), time(2, 30), time(0, 0)):
        for after in (None, now):
            assert fast_local_instant(tz, day, wall, after) == local_instant(tz, day, wall,
                                                                            after=after)

