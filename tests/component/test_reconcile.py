"""After a reconnect: reconcile live sessions with Asterisk's channels; close orphans."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from engine.ari.errors import AriUnavailable
from engine.call import state as call
from engine.call.causes import Disposition
from engine.dialer import reconcile, recover_orphans
from engine.session import CallPlan, CallRegistry, CallSession
from tests.component.fakes import FakeAri, MemoryAttemptStore, Step


class RecordingSession(CallSession):
    """A real session that also keeps what was delivered to it."""

    def __init__(self, plan: CallPlan, ari: FakeAri, store: MemoryAttemptStore) -> None:
        super().__init__(plan, lambda: ari, store, lambda s: None)
        self.delivered: list[call.Event] = []

    def deliver(self, event: call.Event) -> None:
        self.delivered.append(event)
        super().deliver(event)


def plan() -> CallPlan:
    return CallPlan(attempt_id=uuid.uuid4(), endpoint="PJSIP/1@carrier", masked_number="1***",
                    app="huilong", caller_id="H <4000>", ring_timeout_s=30, max_call_s=900)


def session_in(phase: call.Phase, ari: FakeAri, store: MemoryAttemptStore) -> RecordingSession:
    p = plan()
    store.create_intent(p.attempt_id)
    session = RecordingSession(p, ari, store)
    session.state = replace(session.state, phase=phase, originate_tries=1)
    return session


@pytest.fixture
def ari() -> FakeAri:
    return FakeAri()


@pytest.fixture
def store() -> MemoryAttemptStore:
    return MemoryAttemptStore()


def registry_of(*sessions: CallSession) -> CallRegistry:
    registry = CallRegistry()
    for session in sessions:
        registry.add(session)
    return registry


@pytest.mark.parametrize(("phase", "channel_state", "expected"), [
    (call.Phase.RINGING, None, call.ChannelVanished),
    (call.Phase.ANSWERED, None, call.ChannelVanished),
    (call.Phase.HANGING_UP, None, call.ChannelVanished),
    (call.Phase.ORIGINATING, "Up", call.ChannelAnswered),
    (call.Phase.RINGING, "Up", call.ChannelAnswered),
    (call.Phase.ORIGINATING, "Ringing", call.ChannelRinging),
    (call.Phase.ORIGINATING, "Down", None),
    (call.Phase.ORIGINATING, "Ring", None),
])
def test_reconcile_delivers_by_channel_state(
        ari: FakeAri, store: MemoryAttemptStore, phase: call.Phase, channel_state: str | None,
        expected: type | None) -> None:
    """Steps: a live session in `phase`; Asterisk lists its channel in `channel_state` (or
    not at all); reconcile. Expected: the matching call event delivered once (none for
    states that say nothing new), stamped with an aware time."""
    session = session_in(phase, ari, store)
    channels = {} if channel_state is None else {session.id: channel_state}
    reconcile(registry_of(session), channels | {"someone-else": "Up"})
    if expected is None:
        assert session.delivered == []
    else:
        assert [type(e) for e in session.delivered] == [expected]
        assert session.delivered[0].at.tzinfo is not None


def test_reconcile_skips_originate_in_flight_and_non_live(
        ari: FakeAri, store: MemoryAttemptStore) -> None:
    """Steps: an originating session whose originate request is still in flight, one in
    intent and one final, none of them with a channel; reconcile.
    Expected: nothing delivered to any (the in-flight channel may not exist yet)."""
    in_flight = session_in(call.Phase.ORIGINATING, ari, store)
    in_flight.originate_in_flight = True
    intent = session_in(call.Phase.INTENT, ari, store)
    final = session_in(call.Phase.FINAL, ari, store)
    reconcile(registry_of(in_flight, intent, final), {})
    assert (in_flight.delivered, intent.delivered, final.delivered) == ([], [], [])


def test_reconcile_treats_each_session_separately(ari: FakeAri, store: MemoryAttemptStore) -> None:
    """Steps: three ringing sessions: channel Up, channel gone, channel still Ringing.
    Expected: Answered, Vanished and Ringing respectively."""
    up, gone, ringing = (session_in(call.Phase.RINGING, ari, store) for _ in range(3))
    reconcile(registry_of(up, gone, ringing), {up.id: "Up", ringing.id: "Ringing"})
    assert [type(e) for e in up.delivered] == [call.ChannelAnswered]
    assert [type(e) for e in gone.delivered] == [call.ChannelVanished]
    assert [type(e) for e in ringing.delivered] == [call.ChannelRinging]


async def test_vanished_channel_closes_a_running_session(
        ari: FakeAri, store: MemoryAttemptStore) -> None:
    """Steps: a session dials and rings (running task); the connection drops and Asterisk
    no longer has the channel; reconcile. Expected: the session finishes LOST."""
    session = session_in(call.Phase.INTENT, ari, store)
    session.deliver(call.DialRequested(at=datetime.now(UTC)))
    session.deliver(call.ChannelRinging(at=datetime.now(UTC)))
    task = asyncio.create_task(session.run())
    async with asyncio.timeout(5):
        await ari.originated.wait()
    ari.channels.clear()
    reconcile(registry_of(session), await ari.channel_states())
    async with asyncio.timeout(5):
        await session.finished.wait()
    await task
    assert store.attempts[session.plan.attempt_id].disposition == Disposition.LOST.value


def orphan(store: MemoryAttemptStore, *, answered: bool) -> uuid.UUID:
    attempt_id = uuid.uuid4()
    record = store.create_intent(attempt_id)
    record.state = "answered" if answered else "ringing"
    record.answered_at = datetime(2026, 11, 28, 11, 0, tzinfo=UTC) if answered else None
    return attempt_id


async def test_recover_orphans_closes_each_with_what_is_known(
        ari: FakeAri, store: MemoryAttemptStore) -> None:
    """Steps: four non-final attempts without a session: ringing with a channel, answered
    with a channel, ringing without one, answered without one; recover_orphans.

    Expected: the two surviving channels hung up; dispositions CANCELLED (we hung up before
    answer), ANSWERED, LOST, ANSWERED; each with the restart error; returns 4.
    """
    ringing_up = orphan(store, answered=False)
    answered_up = orphan(store, answered=True)
    ringing_gone = orphan(store, answered=False)
    answered_gone = orphan(store, answered=True)
    ari.channels = {str(ringing_up): "Ringing", str(answered_up): "Up", "other": "Up"}
    closed = await recover_orphans(store, CallRegistry(), ari)  # type: ignore[arg-type]
    assert closed == 4
    assert sorted(cid for cid, _ in ari.hangups) == sorted([str(ringing_up), str(answered_up)])
    assert "other" in ari.channels
    assert {a: store.attempts[a].disposition for a in store.attempts} == {
        ringing_up: Disposition.CANCELLED.value, answered_up: Disposition.ANSWERED.value,
        ringing_gone: Disposition.LOST.value, answered_gone: Disposition.ANSWERED.value}
    errors = {record.final["error"] for record in store.attempts.values() if record.final}
    assert errors == {"engine restarted during the call"}


async def test_recover_orphans_leaves_attempts_with_a_session_alone(
        ari: FakeAri, store: MemoryAttemptStore) -> None:
    """Steps: one non-final attempt owned by a live session (channel up), one orphan.
    Expected: only the orphan is closed (returns 1); the live call is not hung up."""
    session = session_in(call.Phase.ANSWERED, ari, store)
    loose = orphan(store, answered=False)
    ari.channels = {session.id: "Up"}
    closed = await recover_orphans(store, registry_of(session), ari)  # type: ignore[arg-type]
    assert closed == 1
    assert ari.hangups == []
    assert not store.attempts[session.plan.attempt_id].is_final
    assert store.attempts[loose].disposition == Disposition.LOST.value


async def test_recover_orphans_survives_a_failed_hangup(
        ari: FakeAri, store: MemoryAttemptStore) -> None:
    """Steps: two orphans with channels; the first hangup fails (AriUnavailable).
    Expected: no exception; both attempts still closed; both hangups attempted."""
    first, second = orphan(store, answered=False), orphan(store, answered=False)
    ari.channels = {str(first): "Ringing", str(second): "Ringing"}
    ari.script_hangup(Step(AriUnavailable("hangup: timeout"), reached=False))
    closed = await recover_orphans(store, CallRegistry(), ari)  # type: ignore[arg-type]
    assert closed == 2
    assert len(ari.hangups) == 2
    assert all(store.attempts[a].is_final for a in (first, second))


async def test_recover_orphans_does_not_count_attempts_closed_meanwhile(
        ari: FakeAri, store: MemoryAttemptStore) -> None:
    """Steps: an orphan that another path finalises first (finalize then returns False).
    Expected: recover_orphans counts 0 and the first disposition stays."""
    attempt_id = orphan(store, answered=False)

    class RacingStore(MemoryAttemptStore):
        async def non_final(self):  # type: ignore[no-untyped-def]
            rows = await super().non_final()
            await self.finalize(attempt_id, disposition="busy", at=datetime.now(UTC),
                                cause=17, cause_text=None)
            return rows

    racing = RacingStore()
    racing.attempts = store.attempts
    closed = await recover_orphans(racing, CallRegistry(), ari)  # type: ignore[arg-type]
    assert closed == 0
    assert racing.attempts[attempt_id].disposition == "busy"
