"""Per-call sessions and the registry that routes events to them.

A session owns one attempt: it feeds events to the pure state machine and carries out
the commands (persist, originate, hang up, finalise). Each session is one task with
its own queue; an exception inside it is contained (logged with the call id, the
channel hung up best-effort, the attempt finalised as failed), never the daemon's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from engine.ari.client import CallControl, OriginateRequest
from engine.ari.errors import AriError, AriRejected, AriUnavailable, ChannelGone, DuplicateChannelId
from engine.call import state as call
from engine.call.causes import Disposition

log = logging.getLogger(__name__)


class AttemptStore(Protocol):
    async def record_progress(self, attempt_id: uuid.UUID, state: str, at: datetime,
                              event_kind: str, detail: dict[str, str]) -> None: ...
    async def finalize(self, attempt_id: uuid.UUID, *, disposition: str, at: datetime,
                       cause: int | None, cause_text: str | None,
                       error: str | None = None) -> bool: ...


@dataclass(frozen=True, slots=True)
class CallPlan:
    """What to dial and how long to let it run."""

    attempt_id: uuid.UUID
    endpoint: str
    masked_number: str
    app: str
    caller_id: str
    ring_timeout_s: int
    max_call_s: int
    max_originate_tries: int = 3


def now() -> datetime:
    return datetime.now(UTC)


# How long to wait for Asterisk's ChannelDestroyed after asking for a hangup, and for
# any sign of life after the ring timeout, before asking Asterisk whether the channel
# still exists.
HANGUP_GRACE_S = 10.0
RING_GRACE_S = 15.0


# What runs on an answered call (the voice bot); None leaves the line to the far end.
Flow = Callable[["CallSession"], Awaitable[None]]


class CallSession:
    def __init__(self, plan: CallPlan, ari: Callable[[], CallControl | None],
                 store: AttemptStore, on_final: Callable[[CallSession], None],
                 flow: Flow | None = None) -> None:
        self.plan = plan
        self.id = str(plan.attempt_id)
        self.state = call.CallState(attempt_id=self.id,
                                    max_originate_tries=plan.max_originate_tries)
        self._ari = ari
        self._store = store
        self._on_final = on_final
        self._queue: asyncio.Queue[call.Event] = asyncio.Queue()
        self.finished = asyncio.Event()
        self.originate_in_flight = False
        self._recorded_final = False
        self._flow = flow
        self._flow_task: asyncio.Task[None] | None = None
        self._tasks: asyncio.TaskGroup | None = None
        # Where the event reader sends media events (playbacks) of this call's flow.
        self.media_listener: Callable[[object], None] | None = None
        # What the answered-call flow made of the call, for pacing ("abandoned": a
        # person found no agent in time).
        self.flow_result: str | None = None

    def deliver(self, event: call.Event) -> None:
        """Called by the event reader: never blocks, never awaits."""
        self._queue.put_nowait(event)

    def request_hangup(self, reason: str) -> None:
        self.deliver(call.HangupRequested(at=now(), reason=reason))

    async def run(self, first: call.Event | None = None) -> None:
        try:
            if first is not None:
                self.deliver(first)
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                while not self.state.is_final:
                    event = await self._next_event()
                    if event is not None:
                        await self._apply(event)
                if self._flow_task is not None:
                    self._flow_task.cancel()  # the call is over: the flow tears down
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the error boundary of one call
            if isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
                exc = exc.exceptions[0]  # the task group wraps what its body raised
            log.exception("call %s failed inside the engine", self.id)
            await self._fail_safe(f"{type(exc).__name__}: {exc}")
        finally:
            self.finished.set()
            self._on_final(self)

    async def _next_event(self) -> call.Event | None:
        timeout = self._watch_timeout()
        try:
            async with asyncio.timeout(timeout):
                return await self._queue.get()
        except TimeoutError:
            return await self._on_silence()

    def _watch_timeout(self) -> float | None:
        phase = self.state.phase
        if phase is call.Phase.ANSWERED:
            return float(self.plan.max_call_s)
        if phase in (call.Phase.ORIGINATING, call.Phase.RINGING):
            return self.plan.ring_timeout_s + RING_GRACE_S
        if phase is call.Phase.HANGING_UP:
            return HANGUP_GRACE_S
        return None

    async def _on_silence(self) -> call.Event | None:
        """No event for too long: hang up an over-long call, or check the channel exists."""
        if self.state.phase is call.Phase.ANSWERED:
            return call.HangupRequested(at=now(), reason="max_call_duration")
        ari = self._ari()
        if ari is None:
            return None  # the reconnect's reconciliation will settle it
        try:
            channels = await ari.channel_states()
        except AriError as exc:
            log.warning("call %s: cannot check its channel: %s", self.id, exc)
            return None
        if self.id not in channels:
            return call.ChannelVanished(at=now())
        if self.state.phase is call.Phase.HANGING_UP:
            return await self._hangup("hangup_retry")
        return None

    async def _apply(self, event: call.Event) -> None:
        pending: list[call.Event] = [event]
        while pending:
            self.state, commands = call.transition(self.state, pending.pop(0))
            for command in commands:
                follow_up = await self._execute(command)
                if follow_up is not None:
                    pending.append(follow_up)

    async def _execute(self, command: call.Command) -> call.Event | None:
        match command:
            case call.Persist(phase=phase, at=at, event=kind, detail=detail):
                await self._store.record_progress(self.plan.attempt_id, phase.value, at, kind,
                                                  dict(detail))
            case call.Originate(try_number=n):
                return await self._originate(n)
            case call.StartFlow():
                log.info("call %s to %s answered", self.id, self.plan.masked_number)
                if self._flow is not None and self._tasks is not None:
                    self._flow_task = self._tasks.create_task(
                        self._run_flow(self._flow), name=f"flow-{self.id}")
            case call.Hangup(reason=reason):
                return await self._hangup(reason)
            case call.Finalize() as final:
                await self._store.finalize(
                    self.plan.attempt_id, disposition=final.disposition.value, at=final.at,
                    cause=final.cause, cause_text=final.cause_text, error=final.error)
                self._recorded_final = True
                log.info("call %s to %s: %s (cause %s)%s", self.id, self.plan.masked_number,
                         final.disposition.value, final.cause,
                         f": {final.error}" if final.error else "")
        return None

    def deliver_media(self, event: object) -> None:
        """Called by the event reader for the flow's media events; never blocks."""
        if self.media_listener is not None:
            self.media_listener(event)

    async def _run_flow(self, flow: Flow) -> None:
        """The flow's error boundary: a failure ends this call politely, nothing more."""
        try:
            await flow(self)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call %s: the call flow failed; hanging up", self.id)
            self.request_hangup("flow_failed")

    async def _originate(self, try_number: int) -> call.Event | None:
        ari = self._ari()
        if ari is None:
            return call.OriginateFailed(at=now(), error="ARI not connected", retryable=False)
        request = OriginateRequest(
            channel_id=self.id, endpoint=self.plan.endpoint, app=self.plan.app,
            app_args="dialed", timeout_s=self.plan.ring_timeout_s,
            caller_id=self.plan.caller_id)
        self.originate_in_flight = True
        try:
            await ari.originate(request)
        except DuplicateChannelId:
            # An earlier try reached Asterisk after all: that call is ours, follow it.
            log.info("call %s: originate try %d answered 409, following the first", self.id,
                     try_number)
        except AriUnavailable as exc:
            return call.OriginateFailed(at=now(), error=str(exc), retryable=True)
        except AriRejected as exc:
            return call.OriginateFailed(at=now(), error=str(exc), retryable=False)
        finally:
            self.originate_in_flight = False
        return None

    async def _hangup(self, reason: str) -> call.Event | None:
        ari = self._ari()
        if ari is None:
            return None  # reconciliation after the reconnect settles it
        try:
            await ari.hangup(self.id)
        except ChannelGone:
            return None  # it ended on its own; ChannelDestroyed is on its way or missed
        except AriError as exc:
            log.warning("call %s: hangup (%s) failed: %s", self.id, reason, exc)
        return None

    async def _fail_safe(self, error: str) -> None:
        ari = self._ari()
        if ari is not None and self.state.is_live:
            with contextlib.suppress(AriError):
                await ari.hangup(self.id)
        if not self._recorded_final:
            # The state may already say final when it was the final write that failed.
            disposition = self.state.disposition or Disposition.FAILED
            try:
                await self._store.finalize(self.plan.attempt_id, disposition=disposition.value,
                                           at=now(), cause=None, cause_text=None, error=error)
            except Exception:
                log.exception("call %s: could not record its failure", self.id)


class CallRegistry:
    """Live sessions by channel id (= attempt id). The event reader routes through it."""

    def __init__(self) -> None:
        self._sessions: dict[str, CallSession] = {}

    def add(self, session: CallSession) -> None:
        self._sessions[session.id] = session

    def remove(self, session: CallSession) -> None:
        self._sessions.pop(session.id, None)

    def get(self, channel_id: str) -> CallSession | None:
        return self._sessions.get(channel_id)

    def __len__(self) -> int:
        return len(self._sessions)

    def sessions(self) -> list[CallSession]:
        return list(self._sessions.values())

    def live(self) -> list[CallSession]:
        return [s for s in self._sessions.values() if s.state.is_live]
