"""One bot call's ears: RTP audio → endpointing → Vosk, and what was heard as signals.

Endpointing is pure and cheap, so it runs in the datagram callback itself; the hearing
task wakes only when Vosk has a 100 ms chunk to take, an endpointing event happened, or
a timer is due — Asterisk sends RTP only while there is audio, so silence may arrive
as no packets at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from stt.endpoint import Endpointer, EndpointEvent, NoInput, SpeechStarted, UtteranceEnded
from stt.intake import RtpIntake
from stt.recognizer import SpeechModel, Stream

FLUSH_AFTER_S = 0.08  # RTP paused this long: release packets held for reordering
RECOGNISE_CHUNK_BYTES = 3200  # 100 ms of slin16: one hop to the Vosk pool per 5 packets
ENDPOINT_BATCH_PACKETS = 5  # 100 ms: speech start and end are seen at most 80 ms later


@dataclass(frozen=True, slots=True)
class Heard:
    text: str
    speech_ended_at: float | None = None  # loop time of the last speech frame


@dataclass(frozen=True, slots=True)
class Silent:
    """Nobody spoke within the question's no-input time."""


@dataclass(frozen=True, slots=True)
class CallerSpeaking:
    """Speech started while a prompt that may be interrupted was playing."""


class Hearing:
    def __init__(self, endpointer: Endpointer, stream: Stream, speech: SpeechModel,
                 signal: Callable[[Heard | Silent | CallerSpeaking], None],
                 may_barge_in: Callable[[], bool]) -> None:
        self._endpointer = endpointer
        self._stream = stream
        self._speech = speech
        self._signal = signal
        self._may_barge_in = may_barge_in
        self.intake: RtpIntake | None = None
        self.recognising = False
        self._pending: list[bytes] = []  # audio not yet handed to Vosk
        self._pending_bytes = 0
        self._wake: asyncio.Queue[list[EndpointEvent]] = asyncio.Queue()
        self._last_packet = 0.0
        self._unheard: list[bytes] = []  # packets the endpointer has not seen yet

    async def expect(self, grammar: Sequence[str]) -> None:
        """Recognise from now on, restricted to these phrases (words the model does not
        know are left out; with none left, free speech)."""
        known = [p for p in grammar if not self._speech.missing_words([p])]
        await self._stream.set_grammar(known or None)
        self._pending.clear()  # audio from before this question is not an answer to it
        self._pending_bytes = 0
        self.recognising = True

    def listen(self, no_input_s: float, now: float) -> None:
        endpointer = self._endpointer
        endpointer.config = replace(endpointer.config, no_input_s=no_input_s)
        endpointer.start_listening(now)
        self._wake.put_nowait([])  # the no-input timer is new: let the task see it

    def stop(self) -> None:
        self._endpointer.stop_listening()
        self.recognising = False

    # -- the datagram callback: never awaits ----------------------------------------

    def on_audio(self, pcm: bytes, at: float) -> None:
        self._last_packet = at
        if self.recognising:
            self._pending.append(pcm)
            self._pending_bytes += len(pcm)
        # The endpointer takes 100 ms at a time too (its per-call cost is mostly fixed);
        # what is left when RTP pauses is fed by the task at the flush deadline.
        self._unheard.append(pcm)
        if len(self._unheard) >= ENDPOINT_BATCH_PACKETS:
            self._hear(at)
        elif self._pending_bytes >= RECOGNISE_CHUNK_BYTES:
            self._wake.put_nowait([])

    def _hear(self, at: float) -> None:
        pcm = b"".join(self._unheard)
        self._unheard.clear()
        events = self._endpointer.feed(pcm, at)
        if events or self._pending_bytes >= RECOGNISE_CHUNK_BYTES:
            self._wake.put_nowait(events)

    # -- the task --------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        endpointer = self._endpointer
        while True:
            deadline = endpointer.next_deadline()
            if self._unheard or (self.intake is not None and self.intake.held):
                # Audio held for reordering or batching waits no longer than this once
                # RTP pauses (Asterisk sends none while the line is quiet).
                flush_at = self._last_packet + FLUSH_AFTER_S
                deadline = flush_at if deadline is None else min(deadline, flush_at)
            try:
                timeout = None if deadline is None else max(0.0, deadline - loop.time())
                async with asyncio.timeout(timeout):
                    events = await self._wake.get()
            except TimeoutError:
                if self.intake is not None and self.intake.held:
                    self.intake.flush()  # into on_audio
                if self._unheard:
                    self._hear(self._last_packet)
                events = [*self._drain_wake(), *endpointer.tick(loop.time())]
            if self.recognising and self._pending_bytes >= RECOGNISE_CHUNK_BYTES:
                await self._recognise_pending()
            await self._on_events(events)

    def _drain_wake(self) -> list[EndpointEvent]:
        events: list[EndpointEvent] = []
        while not self._wake.empty():
            events.extend(self._wake.get_nowait())
        return events

    async def _recognise_pending(self) -> None:
        if self._pending:
            pcm = b"".join(self._pending)
            self._pending.clear()
            self._pending_bytes = 0
            await self._stream.accept(pcm)

    async def _on_events(self, events: Sequence[EndpointEvent]) -> None:
        for event in events:
            match event:
                case SpeechStarted():
                    if self._may_barge_in():
                        self._signal(CallerSpeaking())
                case UtteranceEnded(ended_at=ended_at):
                    if self.recognising:
                        await self._recognise_pending()
                        heard = await self._stream.finish()
                        self._signal(Heard(heard.text, ended_at))
                case NoInput():
                    self._signal(Silent())
                case _:  # UtteranceTooLong: take what was heard so far
                    if self.recognising:
                        await self._recognise_pending()
                        heard = await self._stream.finish()
                        self._signal(Heard(heard.text))
