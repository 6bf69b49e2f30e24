"""Scripted fakes at the adapter seam: ARI call control and the attempt store.

Plain classes that behave like the real thing where sessions depend on it: FakeAri keeps
the channels Asterisk would have and answers 409 for a channel id it already holds, 404
for one it does not; MemoryAttemptStore moves attempts forward only and never out of
`final`, like `db.attempts.AttemptRepository`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.ari.client import OriginateRequest
from engine.ari.errors import AriError, ChannelGone, DuplicateChannelId


@dataclass(frozen=True, slots=True)
class Step:
    """One scripted originate/hangup outcome: raise `error` (if any) after Asterisk did
    (`reached=True`) or did not (`reached=False`) carry out the request. An originate step
    with `reached=False` and no error stands for a call accepted whose channel is already
    gone again, its ChannelDestroyed never seen."""

    error: AriError | None = None
    reached: bool = True


class FakeAri:
    """CallControl as Asterisk would answer it, with scripted failures per call."""

    def __init__(self) -> None:
        self.originates: list[OriginateRequest] = []
        self.hangups: list[tuple[str, str]] = []
        self.channels: dict[str, str] = {}
        self.channel_state_calls = 0
        self.originated = asyncio.Event()
        self._originate_script: list[Step] = []
        self._hangup_script: list[Step] = []
        # Called after a hangup Asterisk carried out (e.g. to deliver ChannelDestroyed).
        self.on_hangup: Callable[[str], None] | None = None

    def script_originate(self, *steps: Step) -> None:
        self._originate_script += steps

    def script_hangup(self, *steps: Step) -> None:
        self._hangup_script += steps

    async def originate(self, request: OriginateRequest) -> None:
        self.originates.append(request)
        self.originated.set()
        if request.channel_id in self.channels:
            raise DuplicateChannelId(f"channel {request.channel_id} exists")
        step = self._originate_script.pop(0) if self._originate_script else Step()
        if step.reached:
            self.channels[request.channel_id] = "Down"
        if step.error is not None:
            raise step.error

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.hangups.append((channel_id, reason))
        step = self._hangup_script.pop(0) if self._hangup_script else Step()
        if step.reached:
            if channel_id not in self.channels:
                raise ChannelGone(f"channel {channel_id} not found")
            del self.channels[channel_id]
            if self.on_hangup is not None:
                self.on_hangup(channel_id)
        if step.error is not None:
            raise step.error

    async def channel_states(self) -> dict[str, str]:
        self.channel_state_calls += 1
        return dict(self.channels)


class StoreInvariantBroken(AssertionError):
    """The engine asked the store for something the real repository never allows."""


@dataclass(slots=True)
class AttemptRecord:
    id: uuid.UUID
    state: str = "intent"
    answered_at: datetime | None = None
    disposition: str | None = None
    final: dict[str, Any] | None = None
    events: list[tuple[str, str, datetime, dict[str, str]]] = field(default_factory=list)

    @property
    def is_final(self) -> bool:
        return self.state == "final"


ORDER = ("intent", "originating", "ringing", "answered", "hanging_up", "final")


class MemoryAttemptStore:
    """AttemptStore (and the repository's non_final/finalize) in memory.

    `record_progress` raises `progress_error` when set (only for the state
    `progress_error_on`, if given), and `finalize` raises the next of `finalize_errors`,
    to stand for a bug or an outage.
    Progress for a final attempt is logged but never moves it; a second finalize
    returns False and changes nothing. Naive times and unknown attempts are refused.
    """

    def __init__(self, progress_error: Exception | None = None,
                 progress_error_on: str | None = None,
                 finalize_errors: tuple[Exception, ...] = ()) -> None:
        self.attempts: dict[uuid.UUID, AttemptRecord] = {}
        self.progress_error = progress_error
        self.progress_error_on = progress_error_on
        self.finalize_errors = list(finalize_errors)
        self.finalize_calls: list[dict[str, Any]] = []

    def create_intent(self, attempt_id: uuid.UUID) -> AttemptRecord:
        record = self.attempts.setdefault(attempt_id, AttemptRecord(attempt_id))
        return record

    def _get(self, attempt_id: uuid.UUID, at: datetime) -> AttemptRecord:
        if at.tzinfo is None:
            raise StoreInvariantBroken("event times must be timezone-aware")
        if attempt_id not in self.attempts:
            raise StoreInvariantBroken(f"no attempt {attempt_id}")
        return self.attempts[attempt_id]

    async def record_progress(self, attempt_id: uuid.UUID, state: str, at: datetime,
                              event_kind: str, detail: dict[str, str]) -> None:
        if self.progress_error is not None and self.progress_error_on in (None, state):
            raise self.progress_error
        record = self._get(attempt_id, at)
        if state not in ORDER[1:-1]:
            raise StoreInvariantBroken(f"record_progress cannot set state {state!r}")
        if ORDER.index(state) > ORDER.index(record.state):
            record.state = state
            if state == "answered" and record.answered_at is None:
                record.answered_at = at
        record.events.append((event_kind, state, at, dict(detail)))

    async def finalize(self, attempt_id: uuid.UUID, *, disposition: str, at: datetime,
                       cause: int | None, cause_text: str | None,
                       error: str | None = None) -> bool:
        final = {"disposition": disposition, "at": at, "cause": cause,
                 "cause_text": cause_text, "error": error}
        self.finalize_calls.append({"attempt_id": attempt_id, **final})
        if self.finalize_errors:
            raise self.finalize_errors.pop(0)
        record = self._get(attempt_id, at)
        if record.is_final:
            return False
        record.state, record.disposition, record.final = "final", disposition, final
        record.events.append(("final", "final", at, {}))
        return True

    async def non_final(self) -> list[AttemptRecord]:
        return [r for r in self.attempts.values() if not r.is_final]

    def kinds(self, attempt_id: uuid.UUID) -> list[str]:
        """The event kinds logged for one attempt, in order."""
        return [kind for kind, *_ in self.attempts[attempt_id].events]
