"""One bot call's ears: RTP audio → endpointing → Vosk, and what was heard as signals.

The media clock hands over each tick's audio (100 ms) through `on_audio`; endpointing
is pure and cheap, so it runs right there. The hearing task wakes only when Vosk has a
chunk to take, an endpointing event happened, or a timer is due — Asterisk sends RTP
only while there is audio, so silence may arrive as no packets at all.

Vosk hears speech only: until the endpointer reports SpeechStarted, just the last
`PRE_ROLL_S` of audio is kept (it covers the endpointer's decision delay, so the word's
onset and a little silence before it reach the recogniser), and from then on every
chunk is fed until the utterance ends. Silence while a prompt plays, and the wait
before the caller answers, cost no decoding at all — on a typical collection call
that is most of the audio.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from stt.endpoint import Endpointer, EndpointEvent, NoInput, SpeechStarted, UtteranceEnded
from stt.recognizer import SpeechModel, Stream

RECOGNISE_CHUNK_BYTES = 3200  # 100 ms of slin16: one hop to the Vosk pool per tick
# Audio kept from before speech is detected. SpeechStarted comes `min_speech_s` (0.15 s)
# after the onset plus up to one media-clock tick (0.1 s): 0.8 s leaves 0.55–0.65 s of
# lead-in. The small Korean model misheard words given only ~0.35 s before them.
PRE_ROLL_S = 0.8
PRE_ROLL_BYTES = int(PRE_ROLL_S * 16_000) * 2


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
        self.recognising = False
        self._pending: deque[bytes] = deque()  # audio not yet handed to Vosk
        self._pending_bytes = 0
        self._in_speech = False  # from SpeechStarted until the utterance was recognised
        self._wake: asyncio.Queue[list[EndpointEvent]] = asyncio.Queue()

    async def expect(self, grammar: Sequence[str]) -> None:
        """Recognise from now on, restricted to these phrases (words the model does not
        know are left out; with none left, free speech)."""
        known = [p for p in grammar if not self._speech.missing_words([p])]
        await self._stream.set_grammar(known or None)
        self._pending.clear()  # audio from before this question is not an answer to it
        self._pending_bytes = 0
        self._in_speech = self._endpointer.speaking
        self.recognising = True

    def listen(self, no_input_s: float, now: float) -> None:
        endpointer = self._endpointer
        endpointer.config = replace(endpointer.config, no_input_s=no_input_s)
        endpointer.start_listening(now)
        self._wake.put_nowait([])  # the no-input timer is new: let the task see it

    def stop(self) -> None:
        self._endpointer.stop_listening()
        self.recognising = False

    # -- called by the media clock: never awaits ---------------------------------------

    def on_audio(self, pcm: bytes, at: float) -> None:
        if self.recognising:
            pending = self._pending
            pending.append(pcm)
            self._pending_bytes += len(pcm)
            if not self._in_speech:
                while self._pending_bytes - len(pending[0]) >= PRE_ROLL_BYTES:
                    self._pending_bytes -= len(pending.popleft())
        events = self._endpointer.feed(pcm, at)
        if any(isinstance(event, SpeechStarted) for event in events):
            self._in_speech = True
        if events or self._vosk_chunk_ready:
            self._wake.put_nowait(events)

    @property
    def _vosk_chunk_ready(self) -> bool:
        return self._in_speech and self._pending_bytes >= RECOGNISE_CHUNK_BYTES

    # -- the task --------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        endpointer = self._endpointer
        while True:
            deadline = endpointer.next_deadline()
            try:
                timeout = None if deadline is None else max(0.0, deadline - loop.time())
                async with asyncio.timeout(timeout):
                    events = await self._wake.get()
            except TimeoutError:
                events = [*self._drain_wake(), *endpointer.tick(loop.time())]
            if self.recognising and self._vosk_chunk_ready:
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
                    self._in_speech = self._endpointer.speaking  # a new one may have begun
                case NoInput():
                    self._signal(Silent())
                case _:  # UtteranceTooLong: take what was heard so far
                    if self.recognising:
                        await self._recognise_pending()
                        heard = await self._stream.finish()
                        self._signal(Heard(heard.text))
                    self._in_speech = self._endpointer.speaking  # a new one may have begun
