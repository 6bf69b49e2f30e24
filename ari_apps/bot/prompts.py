"""Prompt audio: text → speech by a pluggable command → sox → a WAV in Asterisk's sounds
folder, cached by content hash, so each distinct sentence is synthesised once.

The default engine is espeak-ng; operators swap in another TTS (or a script that copies
pre-recorded files) by changing the command template. The template is a list of
arguments with `{text}`, `{voice}` and `{out}` placeholders; no shell is involved, so a
debtor's name in a prompt can never become a command.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

DEFAULT_TTS_COMMAND = ("espeak-ng", "-v", "{voice}", "-s", "150", "-w", "{out}", "{text}")
DEFAULT_VOICES = {"zh": "cmn", "en": "en", "ko": "ko"}
SAMPLE_RATE = 8000  # what the call carries; Asterisk plays `name.wav` as 8 kHz slin
TIMEOUT_S = 30.0


class PromptError(Exception):
    """A prompt could not be made; the message names the step."""


class PromptCache:
    """`media_for(text, language)` → the ARI media URI of the spoken text."""

    def __init__(
        self,
        sounds_dir: Path,
        sounds_view: str,
        command: Sequence[str] = DEFAULT_TTS_COMMAND,
        voices: Mapping[str, str] = DEFAULT_VOICES,
    ) -> None:
        self._dir = sounds_dir
        self._view = sounds_view.rstrip("/")
        self._command = tuple(command)
        self._voices = dict(voices)
        self._locks: dict[str, asyncio.Lock] = {}

    def check(self) -> None:
        """At start-up: the folder is writable and the tools exist (clear error if not)."""
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self._dir, prefix=".probe-"):
                pass
        except OSError as exc:
            raise PromptError(
                f"sounds folder {self._dir} is not writable: {exc.strerror or exc}"
            ) from None
        for tool in (self._command[0], "sox"):
            if shutil.which(tool) is None:
                raise PromptError(f"{tool} is not installed (needed to make prompts)")

    def name_for(self, text: str, language: str) -> str:
        voice = self._voices.get(language, language)
        key = "\0".join([*self._command, voice, text])
        return "bot-" + hashlib.sha256(key.encode()).hexdigest()[:24]

    async def media_for(self, text: str, language: str) -> str:
        name = self.name_for(text, language)
        target = self._dir / f"{name}.wav"
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:  # two calls needing the same new sentence synthesise it once
            if not target.exists():
                await self._synthesise(text, self._voices.get(language, language), target)
        self._locks.pop(name, None)
        return f"sound:{self._view}/{name}"

    async def _synthesise(self, text: str, voice: str, target: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="tts-") as tmp:
            raw = Path(tmp) / "tts.wav"
            args = [part.format(text=text, voice=voice, out=raw) for part in self._command]
            await _run(args, "text-to-speech")
            partial = Path(tmp) / "out.wav"
            await _run(
                ["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(partial)],
                "sox",
            )
            # Same folder, then rename: Asterisk never sees a half-written file.
            staged = target.with_suffix(f".{os.getpid()}.part")
            shutil.copyfile(partial, staged)
            staged.rename(target)


async def _run(args: list[str], step: str) -> None:
    try:
        process = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
    except OSError as exc:
        raise PromptError(f"{step}: cannot run {args[0]}: {exc.strerror or exc}") from None
    try:
        async with asyncio.timeout(TIMEOUT_S):
            _, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise PromptError(f"{step}: {args[0]} took longer than {TIMEOUT_S:g} s") from None
    if process.returncode != 0:
        detail = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise PromptError(f"{step}: {args[0]} exited {process.returncode}: {detail[0]}")
