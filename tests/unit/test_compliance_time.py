"""Local-time maths of the compliance gate: DST gaps and folds, windows, day bounds."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.compliance.rules_common import local_day_bounds, local_instant, window_until

ZONES = ["America/New_York", "America/Los_Angeles", "Europe/London", "Asia/Shanghai",
         "Australia/Lord_Howe", "America/Santiago", "Pacific/Chatham", "Asia/Kolkata",
         "America/St_Johns", "Pacific/Kiritimati"]
NOWS = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2026, 12, 31),
                    timezones=st.just(UTC))
NY = ZoneInfo("America/New_York")


def test_local_instant_in_dst_gap_is_the_transition() -> None:
    """Steps: ask for 02:30 on 2024-03-10 in New York (clocks jump 02:00 → 03:00).
    Expected: 07:00 UTC, i.e. 03:00 EDT, the first valid instant after the gap."""
    assert local_instant(NY, date(2024, 3, 10), time(2, 30)) == datetime(2024, 3, 10, 7,
                                                                         tzinfo=UTC)


def test_local_instant_ambiguous_takes_earliest_unless_after() -> None:
    """Steps: ask for 01:30 on 2024-11-03 in New York (01:00–02:00 happens twice),
    then again with `after` the first occurrence.
    Expected: 05:30 UTC (EDT) first; 06:30 UTC (EST) when it must be after 05:30."""
    day = date(2024, 11, 3)
    first = local_instant(NY, day, time(1, 30))
    assert first == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)
    assert local_instant(NY, day, time(1, 30), after=first) == first + timedelta(hours=1)


@settings(max_examples=200, deadline=None)
@given(now=NOWS, zone_name=st.sampled_from(ZONES),
       start_h=st.integers(0, 11), length_h=st.integers(1, 12))
def test_window_until_is_the_next_opening(now: datetime, zone_name: str, start_h: int,
                                          length_h: int) -> None:
    """Steps: for any instant, zone and window [start, end), compute window_until.
    Expected: None exactly when the local wall time is inside; otherwise a later
    instant that is inside, 1 µs before which is still outside, within 25 hours."""
    tz = ZoneInfo(zone_name)
    start, end = time(start_h), time(start_h + length_h)
    until = window_until(now, tz, start, end)
    inside = start <= now.astimezone(tz).time() < end
    assert (until is None) == inside
    if until is not None:
        assert now < until <= now + timedelta(hours=25)
        assert window_until(until, tz, start, end) is None
        assert window_until(until - timedelta(microseconds=1), tz, start, end) is not None


@settings(max_examples=200, deadline=None)
@given(now=NOWS, zone_name=st.sampled_from(ZONES))
def test_local_day_bounds_contain_now_and_the_same_date(now: datetime, zone_name: str) -> None:
    """Steps: compute the local day [start, end) of any instant in any zone.
    Expected: start <= now < end; start and end - 1 µs have the same local date as
    now; the day lasts between 22 and 26 hours (DST days included)."""
    tz = ZoneInfo(zone_name)
    start, end = local_day_bounds(now, tz)
    assert start <= now < end
    today = now.astimezone(tz).date()
    assert start.astimezone(tz).date() == today
    assert (end - timedelta(microseconds=1)).astimezone(tz).date() == today
    assert timedelta(hours=22) <= end - start <= timedelta(hours=26)
