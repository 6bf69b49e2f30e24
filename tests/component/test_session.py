"""Call sessions end to end against the scripted ARI and the in-memory attempt store."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from engine import session as session_module
from engine.ari.errors import AriRejected, AriUnavailable
from engine.call.causes import Disposition
from engine.call.state import ChannelAnswered, ChannelEnded, ChannelRinging, DialRequested, Phase
from engine.session import CallPlan, CallSession
from tests.component.fakes import FakeAri, MemoryAttemptStore, Step

WAIT_S = 5.0  # upper bound for a session to finish; every test normally takes milliseconds


def at() -> datetime:
    return datetime.now(UTC)


class Harness:
    """One session wired to the fakes; `ari=None` makes the ARI getter return None."""

    def __init__(self, *, ari: FakeAri | None = None, store: MemoryAttemptStore | None = None,
                 **plan: object) -> None:
        self.ari = ari
        self.store = store or MemoryAttemptStore()
        fields: dict[str, object] = {
            "attempt_id": uuid.uuid4(), "endpoint": "PJSIP/8613800000000@carrier",
            "masked_number": "138****0000", "app": "huilong", "caller_id": "Huilong <4000>",
            "ring_timeout_s": 30, "max_call_s": 900, "max_originate_tries": 3, **plan}
        self.plan = CallPlan(**fields)  # type: ignore[arg-type]
        self.id = str(self.plan.attempt_id)
        self.record = self.store.create_intent(self.plan.attempt_id)
        self.ended: list[CallSession] = []
        self.session = CallSession(self.plan, lambda: self.ari, self.store, self.ended.append)
        if ari is not None:
            # Asterisk answers a hangup with ChannelDestroyed, cause 16 (normal clearing).
            ari.on_hangup = lambda cid: self.session.deliver(ChannelEnded(at(), cause=16))

    async def run(self) -> None:
        """Run the session until it finishes; its own exceptions propagate."""
        task = asyncio.create_task(self.session.run(), name=f"call-{self.id}")
        async with asyncio.timeout(WAIT_S):
            await self.session.finished.wait()
        await task

    def dial(self, *events: object) -> None:
        self.session.deliver(DialRequested(at()))
        for event in events:
            self.session.deliver(event)  # type: ignore[arg-type]


async def test_lost_originate_is_retried_with_the_same_id_and_409_is_followed() -> None:
    """Steps: the first originate reaches Asterisk but its answer is lost (AriUnavailable);
    the retry uses the same channel id and Asterisk answers 409; then ringing, answer and
    ChannelDestroyed(16) for the first call.

    Expected: two originate requests with the same channel id (= attempt id); the session
    follows the first call to a final ANSWERED with cause 16; nothing hung up; on_final once.
    """
    ari = FakeAri()
    ari.script_originate(Step(AriUnavailable("originate: no answer within 5 s"), reached=True))
    h = Harness(ari=ari)
    h.dial(ChannelRinging(at()), ChannelAnswered(at()), ChannelEnded(at(), cause=16))
    await h.run()
    assert [r.channel_id for r in ari.originates] == [h.id, h.id]
    first = ari.originates[0]
    assert (first.endpoint, first.app, first.app_args, first.timeout_s) == (
        "PJSIP/8613800000000@carrier", "huilong", "dialed", 30)
    assert ari.originates[1] == first
    assert h.store.kinds(h.plan.attempt_id) == [
        "originate", "originate", "ringing", "answered", "final"]
    assert [e[3] for e in h.record.events[:2]] == [{"try": "1"}, {"try": "2"}]
    assert h.record.disposition == Disposition.ANSWERED.value
    assert h.record.final is not None and h.record.final["cause"] == 16
    assert ari.hangups == []
    assert h.ended == [h.session]
    assert h.session.originate_in_flight is False


async def test_originate_that_never_arrives_is_retried_then_failed() -> None:
    """Steps: every originate times out before reaching Asterisk (3 tries allowed).
    Expected: exactly 3 originates, same channel id; final FAILED with the last error."""
    ari = FakeAri()
    ari.script_originate(*(Step(AriUnavailable(f"timeout {n}"), reached=False) for n in (1, 2, 3)))
    h = Harness(ari=ari)
    h.dial()
    await h.run()
    assert [r.channel_id for r in ari.originates] == [h.id] * 3
    assert h.record.disposition == Disposition.FAILED.value
    assert h.record.final is not None and h.record.final["error"] == "timeout 3"


async def test_rejected_originate_is_failed_with_the_error_recorded() -> None:
    """Steps: Asterisk rejects the originate (AriRejected 400).
    Expected: one originate only; attempt final FAILED with "ARI 400: ..." as its error."""
    ari = FakeAri()
    ari.script_originate(Step(AriRejected(400, "Endpoint not found"), reached=False))
    h = Harness(ari=ari)
    h.dial()
    await h.run()
    assert len(ari.originates) == 1
    assert h.record.disposition == Disposition.FAILED.value
    assert h.record.final is not None
    assert h.record.final["error"] == "ARI 400: Endpoint not found"
    assert h.store.kinds(h.plan.attempt_id) == ["originate", "final"]


async def test_no_ari_connection_is_failed() -> None:
    """Steps: dial while the ARI getter returns None.
    Expected: final FAILED, error "ARI not connected", session finished, on_final called."""
    h = Harness(ari=None)
    h.dial()
    await h.run()
    assert h.record.disposition == Disposition.FAILED.value
    assert h.record.final is not None and h.record.final["error"] == "ARI not connected"
    assert h.ended == [h.session]


async def test_hangup_requested_while_ringing_is_cancelled() -> None:
    """Steps: dial, ringing, request_hangup("campaign_stopped"); Asterisk then destroys the
    channel (cause 16). Expected: one hangup of the call's channel; hangup_requested logged
    with its reason before the hangup; final CANCELLED with cause 16; no channel left."""
    ari = FakeAri()
    h = Harness(ari=ari)
    h.dial(ChannelRinging(at()))
    h.session.request_hangup("campaign_stopped")
    await h.run()
    assert ari.hangups == [(h.id, "normal")]
    assert h.store.kinds(h.plan.attempt_id) == ["originate", "ringing", "hangup_requested", "final"]
    assert h.record.events[2][3] == {"reason": "campaign_stopped"}
    assert h.record.disposition == Disposition.CANCELLED.value
    assert ari.channels == {}


async def test_store_bug_before_originate_is_contained() -> None:
    """Steps: the store raises RuntimeError on record_progress; dial.

    Expected: no exception out of the session task; nothing originated (persist comes
    first); a best-effort hangup attempted; attempt finalised FAILED naming the error.
    """
    ari = FakeAri()
    h = Harness(ari=ari, store=MemoryAttemptStore(progress_error=RuntimeError("bug in store")))
    h.dial()
    await h.run()
    assert ari.originates == []
    assert ari.hangups == [(h.id, "normal")]
    assert h.record.disposition == Disposition.FAILED.value
    assert h.record.final is not None
    assert h.record.final["error"] == "RuntimeError: bug in store"
    assert h.ended == [h.session]


async def test_store_bug_on_answer_hangs_up_the_live_call() -> None:
    """Steps: the store raises RuntimeError only when recording "answered"; dial, ringing,
    answered. Expected: the live channel is hung up (gone from Asterisk), the attempt is
    finalised FAILED with the error, the session task ends normally."""
    ari = FakeAri()
    store = MemoryAttemptStore(progress_error=RuntimeError("boom"), progress_error_on="answered")
    h = Harness(ari=ari, store=store)
    h.dial(ChannelRinging(at()), ChannelAnswered(at()))
    await h.run()
    assert ari.hangups == [(h.id, "normal")]
    assert ari.channels == {}
    assert h.record.disposition == Disposition.FAILED.value
    assert h.record.final is not None and h.record.final["error"] == "RuntimeError: boom"


async def test_failed_final_write_is_retried_by_the_error_boundary() -> None:
    """Steps: the first finalize raises RuntimeError (a database blip); the call ends busy.

    Expected: the error boundary still leaves the attempt final in the store (a second
    finalize), and the session task ends normally — an attempt must not stay open.
    """
    ari = FakeAri()
    h = Harness(ari=ari, store=MemoryAttemptStore(finalize_errors=(RuntimeError("db blip"),)))
    h.dial(ChannelRinging(at()), ChannelEnded(at(), cause=17))
    await h.run()
    assert h.session.state.phase is Phase.FINAL
    assert len(h.store.finalize_calls) == 2
    assert h.record.is_final


async def test_max_call_duration_hangs_up() -> None:
    """Steps: plan with max_call_s 0.05 s; dial, ringing, answered, then no more events.
    Expected: the session requests a hangup with reason max_call_duration, Asterisk's
    ChannelDestroyed follows, final ANSWERED."""
    ari = FakeAri()
    h = Harness(ari=ari, max_call_s=0.05)
    h.dial(ChannelRinging(at()), ChannelAnswered(at()))
    await h.run()
    assert ari.hangups == [(h.id, "normal")]
    assert h.store.kinds(h.plan.attempt_id) == [
        "originate", "ringing", "answered", "hangup_requested", "final"]
    assert h.record.events[3][3] == {"reason": "max_call_duration"}
    assert h.record.disposition == Disposition.ANSWERED.value


async def test_silent_ringing_call_whose_channel_is_gone_is_lost(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Steps: ring timeout + grace shrunk to 0; the originate is accepted but the channel
    is gone and its ChannelDestroyed never comes. Expected: after the silence the session
    asks Asterisk for its channels, finds none, and ends LOST (no cause)."""
    monkeypatch.setattr(session_module, "RING_GRACE_S", 0.0)
    ari = FakeAri()
    ari.script_originate(Step(reached=False))
    h = Harness(ari=ari, ring_timeout_s=0)
    h.dial()
    await h.run()
    assert ari.channel_state_calls >= 1
    assert h.record.disposition == Disposition.LOST.value
    assert h.record.final is not None and h.record.final["cause"] is None


async def test_failed_hangup_is_retried_after_the_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Steps: hangup grace shrunk to 0.01 s; dial, ringing, hangup request; the first hangup
    fails (AriUnavailable, not carried out). Expected: after the grace the session sees the
    channel still exists and hangs up again; then final CANCELLED."""
    monkeypatch.setattr(session_module, "HANGUP_GRACE_S", 0.01)
    ari = FakeAri()
    ari.script_hangup(Step(AriUnavailable("hangup: no answer"), reached=False))
    h = Harness(ari=ari)
    h.dial(ChannelRinging(at()))
    h.session.request_hangup("operator")
    await h.run()
    assert ari.hangups == [(h.id, "normal"), (h.id, "normal")]
    assert h.record.disposition == Disposition.CANCELLED.value


async def test_cancellation_propagates_and_still_reports_the_end() -> None:
    """Steps: dial and ring (session then waits for events); cancel the session task.
    Expected: CancelledError out of the task (never swallowed); finished set; on_final
    called once; the attempt is not finalised by the session (recovery does that)."""
    ari = FakeAri()
    h = Harness(ari=ari)
    h.dial(ChannelRinging(at()))
    task = asyncio.create_task(h.session.run())
    async with asyncio.timeout(WAIT_S):
        await ari.originated.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert h.session.finished.is_set()
    assert h.ended == [h.session]
    assert not h.record.is_final
