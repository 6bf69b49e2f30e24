"""The event reader's routing of a bot call's own events: helper channels, prompts and
the answering-machine verdict reach the call's flow; nothing of theirs is a stray."""

from __future__ import annotations

import uuid
from dataclasses import replace

from ari_apps.amd import AmdVerdict
from ari_apps.signals import ChannelReady, PlaybackFinished
from engine.ari.events import parse_event
from engine.call import state as call
from engine.dialer import route_event
from engine.session import CallPlan, CallRegistry, CallSession
from tests.component.fakes import FakeAri, MemoryAttemptStore


def answered_call() -> tuple[CallRegistry, CallSession, list[object], list[call.Event]]:
    plan = CallPlan(attempt_id=uuid.uuid4(), endpoint="PJSIP/1@carrier", masked_number="1***",
                    app="huilong", caller_id="H <4000>", ring_timeout_s=30, max_call_s=900)
    ari = FakeAri()
    session = CallSession(plan, lambda: ari, MemoryAttemptStore(), lambda s: None)
    session.state = replace(session.state, phase=call.Phase.ANSWERED, originate_tries=1)
    media: list[object] = []
    session.media_listener = media.append
    calls: list[call.Event] = []
    session.deliver = calls.append  # type: ignore[method-assign]
    registry = CallRegistry()
    registry.add(session)
    return registry, session, media, calls


def event(**fields: object):
    parsed = parse_event({"application": "huilong", **fields})
    assert parsed is not None
    return parsed


def test_helper_channels_entering_stasis_are_ready_signals_not_strays():
    registry, session, media, calls = answered_call()
    snoop = f"{session.id}-in"
    assert route_event(registry, event(type="StasisStart", channel={"id": snoop, "state": "Up"}))
    assert media == [ChannelReady(snoop)]
    # Its end is the flow's business, never the call's.
    assert route_event(registry, event(type="ChannelDestroyed", channel={"id": snoop},
                                       cause=16))
    assert calls == []


def test_a_finished_prompt_goes_to_its_call():
    registry, session, media, _ = answered_call()
    playback = f"{session.id}-pb3"
    assert route_event(registry, event(type="PlaybackFinished", playback={"id": playback}))
    assert media == [PlaybackFinished(playback)]
    assert not route_event(registry, event(type="PlaybackFinished",
                                           playback={"id": f"{uuid.uuid4()}-pb1"}))


def test_the_answering_machine_verdict_comes_back_with_the_call():
    registry, session, media, calls = answered_call()
    assert route_event(registry, event(
        type="StasisStart", channel={"id": session.id, "state": "Up"},
        args=["amd", "MACHINE", "LONGGREETING-2000-1500"]))
    assert media == [AmdVerdict("MACHINE", "LONGGREETING-2000-1500")]
    assert calls == []


def test_an_unknown_helper_channel_is_not_owned():
    registry, _, media, _ = answered_call()
    stranger = f"{uuid.uuid4()}-em"
    assert not route_event(registry, event(type="StasisStart",
                                           channel={"id": stranger, "state": "Up"}))
    assert media == []
