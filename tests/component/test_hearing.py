"""A bot call's ears on synthetic audio, with a stand-in recogniser: what the caller says
becomes one Heard (with the recogniser's text), nobody speaking becomes Silent even when
no packet at all arrives, and speech during an interruptible prompt is reported."""

from __future__ import annotations

import asyncio

import numpy as np

from ari_apps.bot.hearing import PRE_ROLL_BYTES, CallerSpeaking, Heard, Hearing, Silent
from stt.endpoint import EndpointConfig, Endpointer

RATE = 16_000
FRAME = 320  # 20 ms


class FakeStream:
    def __init__(self) -> None:
        self.fed = 0
        self.grammar: list[str] | None = None

    async def set_grammar(self, grammar):
        self.grammar = grammar

    async def accept(self, pcm: bytes) -> str:
        self.fed += len(pcm)
        return ""

    async def finish(self):
        class Result:
            text = f"{self.fed} bytes"
        return Result()


class FakeSpeech:
    def missing_words(self, phrases):
        return []


def tone(seconds: float) -> list[bytes]:
    t = np.arange(int(seconds * RATE)) / RATE
    pcm = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    return [pcm[i:i + 2 * FRAME] for i in range(0, len(pcm), 2 * FRAME)]


def quiet(seconds: float) -> list[bytes]:
    return [bytes(2 * FRAME)] * int(seconds * 50)


async def hearing_with(barge_in: bool = False):
    signals: asyncio.Queue = asyncio.Queue()
    stream = FakeStream()
    hearing = Hearing(Endpointer(EndpointConfig(end_silence_s=0.3, no_input_s=0.5)),
                      stream, FakeSpeech(), signals.put_nowait, lambda: barge_in)
    return hearing, stream, signals


async def play(hearing: Hearing, packets: list[bytes]) -> None:
    """Deliver packets at their real 20 ms pace, as Asterisk sends them."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for n, packet in enumerate(packets):
        await asyncio.sleep(max(0.0, start + n * 0.02 - loop.time()))
        hearing.on_audio(packet, loop.time())


async def test_an_answer_is_heard_once_with_all_its_audio():
    hearing, stream, signals = await hearing_with()
    task = asyncio.create_task(hearing.run())
    try:
        await hearing.expect(["네"])
        hearing.listen(5.0, asyncio.get_running_loop().time())
        await play(hearing, quiet(0.2) + tone(0.6))  # then the packets stop: silence
        heard = await asyncio.wait_for(signals.get(), timeout=3)
        assert isinstance(heard, Heard)
        assert stream.grammar == ["네"]
        # Everything from the question on reached the recogniser, in 100 ms chunks.
        assert heard.text == f"{stream.fed} bytes" and stream.fed >= 0.7 * 2 * RATE
        assert signals.empty()
    finally:
        task.cancel()


async def test_only_speech_and_its_lead_in_reach_the_recogniser():
    hearing, stream, signals = await hearing_with()
    task = asyncio.create_task(hearing.run())
    try:
        await hearing.expect(["네"])
        hearing.listen(5.0, asyncio.get_running_loop().time())
        # Two seconds of line noise before the answer: none of it is decoded but the
        # lead-in kept for the word's onset.
        await play(hearing, quiet(2.0) + tone(0.6) + quiet(0.4))
        heard = await asyncio.wait_for(signals.get(), timeout=3)
        assert isinstance(heard, Heard)
        speech_bytes = int(0.6 * RATE) * 2
        assert speech_bytes < stream.fed <= speech_bytes + PRE_ROLL_BYTES + int(0.4 * RATE) * 2
        assert stream.fed < int(2.0 * RATE) * 2
    finally:
        task.cancel()


async def test_nobody_speaking_is_silent_and_nothing_is_decoded():
    hearing, stream, signals = await hearing_with()
    task = asyncio.create_task(hearing.run())
    try:
        await hearing.expect(["네"])
        hearing.listen(0.5, asyncio.get_running_loop().time())
        await play(hearing, quiet(0.8))
        assert isinstance(await asyncio.wait_for(signals.get(), timeout=3), Silent)
        assert stream.fed == 0
    finally:
        task.cancel()


async def test_nobody_speaking_is_silent_even_without_packets():
    hearing, _, signals = await hearing_with()
    task = asyncio.create_task(hearing.run())
    try:
        await hearing.expect(["네"])
        loop = asyncio.get_running_loop()
        started = loop.time()
        hearing.listen(0.5, started)
        assert isinstance(await asyncio.wait_for(signals.get(), timeout=3), Silent)
        assert loop.time() - started >= 0.5
    finally:
        task.cancel()


async def test_speech_during_an_interruptible_prompt_is_reported():
    hearing, _, signals = await hearing_with(barge_in=True)
    task = asyncio.create_task(hearing.run())
    try:
        await play(hearing, tone(0.4))
        assert isinstance(await asyncio.wait_for(signals.get(), timeout=3), CallerSpeaking)
    finally:
        task.cancel()
