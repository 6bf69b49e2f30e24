"""ARI events at the edge: parsing Asterisk's JSON and turning it into call events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from engine.ari.events import parse_event, to_call_event
from engine.call.state import ChannelAnswered, ChannelEnded, ChannelRinging

STAMP = "2026-11-28T11:26:01.123+0000"
AT = datetime(2026, 11, 28, 11, 26, 1, 123000, tzinfo=UTC)


def ringing_event(**extra: Any) -> dict[str, Any]:
    return {"type": "ChannelStateChange", "timestamp": STAMP, "application": "huilong",
            "channel": {"id": "ch-1", "state": "Ringing", "name": "PJSIP/carrier-00000001"},
            **extra}


def test_channel_state_change_ringing() -> None:
    """Steps: parse a ChannelStateChange to Ringing with an Asterisk timestamp.
    Expected: ("ch-1", ChannelRinging) at 11:26:01.123 UTC; channel name kept."""
    event = parse_event(ringing_event())
    assert event is not None
    assert event.channel is not None and event.channel.name == "PJSIP/carrier-00000001"
    assert to_call_event(event) == ("ch-1", ChannelRinging(at=AT))


@pytest.mark.parametrize(("stamp", "expected"), [
    ("2026-11-28T11:26:01.123+0000", AT),
    ("2026-11-28T19:26:01.123+0800", AT),
    ("2026-11-28T06:26:01.123-0500", AT),
    ("2026-11-28T11:26:01.123+00:00", AT),
    ("2026-11-28T11:26:01+0000", AT - timedelta(milliseconds=123)),
    ("2026-11-28T11:26:01.123Z", AT),
])
def test_timestamp_formats(stamp: str, expected: datetime) -> None:
    """Steps: parse events with Asterisk's colon-less offsets and ISO variants.
    Expected: the same instant, timezone-aware, whatever the offset spelling."""
    event = parse_event(ringing_event(timestamp=stamp))
    assert event is not None
    assert event.at == expected
    assert event.at.utcoffset() is not None


def test_offset_is_preserved_not_just_the_instant() -> None:
    """Steps: parse +0800. Expected: the datetime carries the +08:00 offset."""
    event = parse_event(ringing_event(timestamp="2026-11-28T19:26:01.123+0800"))
    assert event is not None and event.timestamp is not None
    assert event.timestamp.tzinfo == timezone(timedelta(hours=8))


def test_missing_timestamp_falls_back_to_now_in_utc() -> None:
    """Steps: an event without timestamp. Expected: `at` is an aware time taken now."""
    raw = ringing_event()
    del raw["timestamp"]
    before = datetime.now(UTC)
    event = parse_event(raw)
    assert event is not None
    assert before <= event.at <= datetime.now(UTC)


def test_stasis_start_up_is_answered() -> None:
    """Steps: StasisStart with args ["dialed"] for an Up channel.
    Expected: args kept; ("ch-1", ChannelAnswered)."""
    event = parse_event({"type": "StasisStart", "timestamp": STAMP, "args": ["dialed"],
                         "channel": {"id": "ch-1", "state": "Up"}})
    assert event is not None and event.args == ["dialed"]
    assert to_call_event(event) == ("ch-1", ChannelAnswered(at=AT))


def test_channel_state_change_up_is_answered() -> None:
    """Steps: ChannelStateChange to Up. Expected: ChannelAnswered for that channel."""
    event = parse_event(ringing_event(channel={"id": "ch-2", "state": "Up"}))
    assert event is not None
    assert to_call_event(event) == ("ch-2", ChannelAnswered(at=AT))


def test_channel_destroyed_carries_cause() -> None:
    """Steps: ChannelDestroyed cause 17 "User busy" while Ringing.
    Expected: ChannelEnded with cause 17 and its text."""
    event = parse_event({"type": "ChannelDestroyed", "timestamp": STAMP, "cause": 17,
                         "cause_txt": "User busy", "channel": {"id": "ch-1", "state": "Ringing"}})
    assert event is not None
    assert to_call_event(event) == ("ch-1", ChannelEnded(at=AT, cause=17, cause_text="User busy"))


def test_channel_destroyed_without_cause() -> None:
    """Steps: ChannelDestroyed with no cause fields. Expected: ChannelEnded(cause None)."""
    event = parse_event({"type": "ChannelDestroyed", "timestamp": STAMP,
                         "channel": {"id": "ch-1"}})
    assert event is not None
    assert to_call_event(event) == ("ch-1", ChannelEnded(at=AT, cause=None, cause_text=None))


def test_dial_event_has_peer_not_channel() -> None:
    """Steps: a Dial event (`peer`, `dialstatus`, no `channel`).
    Expected: parsed, peer id available, channel None, and no call event."""
    event = parse_event({"type": "Dial", "timestamp": STAMP, "dialstatus": "RINGING",
                         "peer": {"id": "ch-1", "state": "Ringing"}})
    assert event is not None
    assert event.channel is None
    assert event.peer is not None and event.peer.id == "ch-1"
    assert to_call_event(event) is None


@pytest.mark.parametrize("raw", [
    {"type": "ChannelStateChange", "timestamp": STAMP, "channel": {"id": "c", "state": "Ring"}},
    {"type": "ChannelStateChange", "timestamp": STAMP, "channel": {"id": "c", "state": "Down"}},
    {"type": "StasisStart", "timestamp": STAMP, "channel": {"id": "c", "state": "Ringing"}},
    {"type": "StasisEnd", "timestamp": STAMP, "channel": {"id": "c", "state": "Up"}},
    {"type": "ChannelVarset", "timestamp": STAMP, "variable": "X", "value": "1",
     "channel": {"id": "c", "state": "Up"}},
    {"type": "ApplicationReplaced", "timestamp": STAMP, "application": "huilong"},
], ids=["ring", "down", "stasis-ringing", "stasis-end", "varset", "no-channel"])
def test_events_that_do_not_move_a_call(raw: dict[str, Any]) -> None:
    """Steps: parse events the state machine has no use for.
    Expected: parsed fine, but to_call_event returns None."""
    event = parse_event(raw)
    assert event is not None and event.type == raw["type"]
    assert to_call_event(event) is None


def test_unknown_fields_are_ignored() -> None:
    """Steps: an event with extra top-level and channel fields (caller, dialplan, …).
    Expected: parsed; the known fields have their values."""
    event = parse_event(ringing_event(asterisk_id="aa:bb", channel={
        "id": "ch-1", "state": "Ringing", "caller": {"number": "4000"},
        "dialplan": {"context": "x"}, "language": "en"}))
    assert event is not None and event.channel is not None
    assert (event.channel.id, event.channel.state) == ("ch-1", "Ringing")


@pytest.mark.parametrize("raw", [
    {"timestamp": STAMP, "channel": {"id": "c"}},
    {"type": "ChannelDestroyed", "channel": {"state": "Up"}},
    {"type": "ChannelDestroyed", "cause": "busy", "channel": {"id": "c"}},
    {"type": "ChannelStateChange", "timestamp": "yesterday", "channel": {"id": "c"}},
], ids=["no-type", "channel-without-id", "text-cause", "bad-timestamp"])
def test_malformed_events_are_rejected(raw: dict[str, Any]) -> None:
    """Steps: parse events missing required fields or with wrong types.
    Expected: None (dropped at the edge), no exception."""
    assert parse_event(raw) is None
