"""The call state machine: `transition(state, event) -> (state, commands)`.

Pure: no I/O, no clock, no asyncio. Events are facts that happened (past tense);
commands are what the session must do next (imperative). The session applies the
commands in order; persistence commands come before actions on the network, so the
database always knows at least as much as Asterisk was told.

    intent ──DialRequested──▶ originating ──ChannelRinging──▶ ringing
       │                          │  ▲ OriginateFailed(retryable): same channel id again
       │                          ▼  │
       │                ChannelAnswered ─▶ answered ──HangupRequested──▶ hanging_up
       └──────── ChannelEnded / ChannelVanished / OriginateFailed(final) ──▶ final
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from engine.call.causes import Disposition, disposition_for


class Phase(StrEnum):
    INTENT = "intent"
    ORIGINATING = "originating"
    RINGING = "ringing"
    ANSWERED = "answered"
    HANGING_UP = "hanging_up"
    FINAL = "final"


@dataclass(frozen=True, slots=True)
class CallState:
    attempt_id: str
    max_originate_tries: int = 3
    phase: Phase = Phase.INTENT
    originate_tries: int = 0
    originated_at: datetime | None = None
    ringing_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    hangup_reason: str | None = None
    disposition: Disposition | None = None

    @property
    def is_final(self) -> bool:
        return self.phase is Phase.FINAL

    @property
    def is_live(self) -> bool:
        """Asterisk may hold a channel for this call."""
        return self.phase in (Phase.ORIGINATING, Phase.RINGING, Phase.ANSWERED, Phase.HANGING_UP)


# -- events -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DialRequested:
    at: datetime


@dataclass(frozen=True, slots=True)
class OriginateFailed:
    """The originate request failed. `retryable`: the request may not have reached
    Asterisk (timeout, connection lost, 5xx); retrying with the same channel id is safe."""

    at: datetime
    error: str
    retryable: bool


@dataclass(frozen=True, slots=True)
class ChannelRinging:
    at: datetime


@dataclass(frozen=True, slots=True)
class ChannelAnswered:
    at: datetime


@dataclass(frozen=True, slots=True)
class HangupRequested:
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class ChannelEnded:
    at: datetime
    cause: int | None
    cause_text: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelVanished:
    """Reconciliation found no channel for a call we believed live."""

    at: datetime


Event = (DialRequested | OriginateFailed | ChannelRinging | ChannelAnswered | HangupRequested
         | ChannelEnded | ChannelVanished)


# -- commands -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Persist:
    phase: Phase
    at: datetime
    event: str
    detail: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Originate:
    try_number: int


@dataclass(frozen=True, slots=True)
class StartFlow:
    pass


@dataclass(frozen=True, slots=True)
class Hangup:
    reason: str


@dataclass(frozen=True, slots=True)
class Finalize:
    disposition: Disposition
    at: datetime
    cause: int | None
    cause_text: str | None
    error: str | None = None


Command = Persist | Originate | StartFlow | Hangup | Finalize
Result = tuple[CallState, tuple[Command, ...]]


def transition(state: CallState, event: Event) -> Result:
    """The next state and the commands that get there. Unexpected events are no-ops."""
    if state.is_final:
        return state, ()
    match event:
        case DialRequested(at=at) if state.phase is Phase.INTENT:
            return _originate(replace(state, phase=Phase.ORIGINATING, originated_at=at), at)
        case OriginateFailed() if state.phase is Phase.ORIGINATING:
            return _originate_failed(state, event)
        case ChannelRinging(at=at) if state.phase is Phase.ORIGINATING:
            new = replace(state, phase=Phase.RINGING, ringing_at=at)
            return new, (Persist(Phase.RINGING, at, "ringing"),)
        case ChannelAnswered(at=at) if state.phase in (Phase.ORIGINATING, Phase.RINGING):
            new = replace(state, phase=Phase.ANSWERED, answered_at=at)
            return new, (Persist(Phase.ANSWERED, at, "answered"), StartFlow())
        case HangupRequested(at=at, reason=reason) if state.is_live:
            if state.phase is Phase.HANGING_UP:
                return state, ()
            new = replace(state, phase=Phase.HANGING_UP, hangup_reason=reason)
            return new, (Persist(Phase.HANGING_UP, at, "hangup_requested", (("reason", reason),)),
                         Hangup(reason))
        case HangupRequested(at=at, reason=reason) if state.phase is Phase.INTENT:
            return _final(replace(state, hangup_reason=reason), at, None, None, "never dialled")
        case ChannelEnded(at=at, cause=cause, cause_text=text) if state.is_live:
            return _final(state, at, cause, text, None)
        case ChannelVanished(at=at) if state.is_live:
            return _final(state, at, None, None, "channel vanished while the engine was away")
    return state, ()


def _originate(state: CallState, at: datetime) -> Result:
    tries = state.originate_tries + 1
    new = replace(state, originate_tries=tries)
    return new, (Persist(Phase.ORIGINATING, at, "originate", (("try", str(tries)),)),
                 Originate(try_number=tries))


def _originate_failed(state: CallState, event: OriginateFailed) -> Result:
    if event.retryable and state.originate_tries < state.max_originate_tries:
        return _originate(state, event.at)
    new = replace(state, phase=Phase.FINAL, ended_at=event.at,
                  disposition=Disposition.FAILED)
    finalize = Finalize(Disposition.FAILED, event.at, None, None, event.error)
    if event.retryable:
        # The last try may have reached Asterisk with only its answer lost: make sure no
        # phone rings for a call we have given up on.
        return new, (Hangup("originate_unconfirmed"), finalize)
    return new, (finalize,)


def _final(state: CallState, at: datetime, cause: int | None, text: str | None,
           error: str | None) -> Result:
    disposition = disposition_for(
        answered=state.answered_at is not None,
        cause=cause,
        we_hung_up=state.hangup_reason is not None,
    )
    new = replace(state, phase=Phase.FINAL, ended_at=at, disposition=disposition)
    return new, (Finalize(disposition, at, cause, text, error),)
