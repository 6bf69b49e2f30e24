"""A disposition entered at the desk: a kind from the closed list, a callback time read
as the debtor's wall time (5 minutes to 14 days ahead, never a time the clocks skip),
an optional note (required for "other"); every error names the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from db.desk import (
    DISPOSITION_KINDS,
    RIGHT_PARTY,
    DeskUser,
    Disposition,
    DispositionError,
    check_disposition,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai


@pytest.mark.parametrize("kind", [k for k in DISPOSITION_KINDS if k not in ("callback", "other")])
def test_kinds_without_a_callback_need_nothing_else(kind):
    assert check_disposition(kind, None, None, SHANGHAI, NOW) == Disposition(kind, None, None)
    assert check_disposition(kind, "", "", SHANGHAI, NOW) == Disposition(kind, None, None)


def test_the_note_is_kept_stripped_and_required_for_other():
    assert check_disposition("hardship", None, "  lost job in May \n", SHANGHAI, NOW).note == \
        "lost job in May"
    assert check_disposition("other", None, "asked for a letter", SHANGHAI, NOW) == \
        Disposition("other", None, "asked for a letter")
    with pytest.raises(DispositionError, match=r"^note: say in the note what happened"):
        check_disposition("other", None, "   ", SHANGHAI, NOW)


def test_the_callback_time_is_the_debtors_wall_time_stored_in_utc():
    """10:30 on 2 March in Shanghai (UTC+8) is 02:30 UTC."""
    saved = check_disposition("callback", "2026-03-02T10:30", "after work", SHANGHAI, NOW)
    assert saved == Disposition("callback", datetime(2026, 3, 2, 2, 30, tzinfo=UTC),
                                "after work")
    assert saved.callback_at is not None and saved.callback_at.tzinfo is UTC
    # The same wall time for a debtor in New York is another instant.
    assert check_disposition("callback", "2026-03-02T10:30", None, NEW_YORK, NOW) \
        .callback_at == datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
    # Seconds (some browsers send them) are accepted.
    assert check_disposition("callback", "2026-03-02T10:30:00", None, SHANGHAI, NOW) \
        .callback_at == datetime(2026, 3, 2, 2, 30, tzinfo=UTC)


def test_the_callback_window_is_five_minutes_to_fourteen_days_ahead():
    def local(delta: timedelta) -> str:
        return f"{(NOW + delta).astimezone(SHANGHAI):%Y-%m-%dT%H:%M}"

    check_disposition("callback", local(timedelta(minutes=5)), None, SHANGHAI, NOW)
    check_disposition("callback", local(timedelta(days=14)), None, SHANGHAI, NOW)
    with pytest.raises(DispositionError, match=r"^callback_at: must be at least 5 minutes ahead "
                                               r"\(it is 2026-03-01 20:00 in Asia/Shanghai now\)"):
        check_disposition("callback", local(timedelta(minutes=4)), None, SHANGHAI, NOW)
    with pytest.raises(DispositionError, match=r"^callback_at: must be at least 5 minutes"):
        check_disposition("callback", local(-timedelta(days=1)), None, SHANGHAI, NOW)
    with pytest.raises(DispositionError, match=r"^callback_at: at most 14 days ahead"):
        check_disposition("callback", local(timedelta(days=14, minutes=1)), None, SHANGHAI, NOW)


def test_a_wall_time_the_clocks_skip_is_refused_and_a_repeated_one_is_the_first():
    """New York: 2026-03-08 02:30 does not exist (02:00 → 03:00); 2026-11-01 01:30
    happens twice — the first (EDT, UTC-4) is taken."""
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with pytest.raises(DispositionError,
                       match=r"^callback_at: 2026-03-08 02:30 does not exist in America/New_York"):
        check_disposition("callback", "2026-03-08T02:30", None, NEW_YORK, now)
    later = datetime(2026, 10, 25, 12, 0, tzinfo=UTC)
    assert check_disposition("callback", "2026-11-01T01:30", None, NEW_YORK, later) \
        .callback_at == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


@pytest.mark.parametrize(("kind", "callback_at", "note", "message"), [
    ("sale", None, None, "kind: one of promise, callback, hardship"),
    (None, None, None, "kind: one of"),
    (["callback"], None, None, "kind: one of"),
    ("callback", None, None, "callback_at: a callback needs the date and time"),
    ("callback", "  ", None, "callback_at: a callback needs the date and time"),
    ("callback", "tomorrow", None, r"callback_at: the debtor's local date and time "
                                   r"\(Asia/Shanghai\), YYYY-MM-DDTHH:MM"),
    ("callback", "2026-03-02", None, "callback_at: the debtor's local date and time"),
    ("callback", "2026-03-02T10:30+08:00", None, "callback_at: the debtor's local date"),
    ("callback", "2026-02-30T10:30", None, "callback_at: the debtor's local date"),
    ("callback", 20260302, None, "callback_at: the debtor's local date"),
    ("refusal", "2026-03-02T10:30", None, "callback_at: only a callback has a callback time"),
    ("refusal", None, 42, "note: text expected"),
    ("refusal", None, "x" * 2001, "note: at most 2000 characters"),
])
def test_what_does_not_hold_is_refused_naming_the_field(kind, callback_at, note, message):
    with pytest.raises(DispositionError, match="^" + message):
        check_disposition(kind, callback_at, note, SHANGHAI, NOW)


def test_now_must_be_timezone_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        check_disposition("refusal", None, None, SHANGHAI, datetime(2026, 3, 1, 12, 0))


def test_which_kinds_say_the_right_party_was_reached():
    assert {k for k, v in RIGHT_PARTY.items() if v} == {
        "promise", "callback", "hardship", "dispute", "refusal"}
    assert RIGHT_PARTY["wrong_party"] is False
    assert not {"opt_out", "no_contact", "other"} & RIGHT_PARTY.keys()
    assert set(RIGHT_PARTY) <= set(DISPOSITION_KINDS)


def test_a_desk_user_is_audited_as_its_agent_and_only_supervisors_are_supervisors():
    assert DeskUser("1900", "supervisor").supervisor
    assert not DeskUser("1001", "agent").supervisor
    assert DeskUser("1001", "agent").actor == "agent:1001"
