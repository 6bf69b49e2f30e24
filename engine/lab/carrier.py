"""Simulated debtors on the carrier instance.

Each dialled number gets a scenario: how the network answers (ring, busy, congestion,
no such number, no answer) and, once answered, what the person or answering machine
does. Scenarios render to plain dialplan (`extensions_carrier_scenarios.conf`) so a
telephony admin can read exactly what a test did; phrases are spoken by espeak-ng and
converted by sox, cached by content hash in the carrier's sounds folder.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from engine.lab.asterisk import Instance
from engine.lab.errors import LabError

SCENARIO_FILE = "extensions_carrier_scenarios.conf"


class Network(StrEnum):
    ANSWER = "answer"
    MACHINE = "machine"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    INVALID = "invalid"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Say:
    text: str
    voice: str = "en"


@dataclass(frozen=True, slots=True)
class Pause:
    seconds: float


@dataclass(frozen=True, slots=True)
class AwaitPrompt:
    """The person waits for the caller to speak and then fall silent (they listen to a
    prompt before answering): `WaitForNoise` then `WaitForSilence`. With `silence_s`
    None they only wait for the prompt to start (to talk over it)."""

    silence_s: float | None = 1.2
    timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class Scenario:
    """One simulated debtor line.

    `ring_s`: seconds of ringing before the network's verdict. `script`: after answer,
    what the person says and when; then the person hangs up (`hold_s` more seconds of
    silence first). `hold_s=None` keeps the line open until the caller hangs up.
    For NO_ANSWER the network gives up after `ring_s` (cause 19); `ring_s=None` rings
    until the caller gives up.
    """

    number: str
    network: Network
    ring_s: float | None = 1.0
    script: tuple[Say | Pause | AwaitPrompt, ...] = field(default_factory=tuple)
    hold_s: float | None = 0.0

    def __post_init__(self) -> None:
        if not (self.number.isascii() and self.number.isdigit()):
            raise ValueError(f"scenario number must be digits only, got {self.number!r}")


MACHINE_GREETING = Say("Hello. You have reached the voice mailbox of this number. Nobody "
                       "can take your call right now. Please leave a message after the tone.")


class Carrier:
    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    @property
    def sounds_dir(self) -> Path:
        return self.instance.host_dir("sounds")

    def apply(self, scenarios: Iterable[Scenario]) -> None:
        """Replace every scenario with these and reload the carrier's dialplan."""
        text = render_scenarios(list(scenarios), self.sound_for)
        (self.instance.host_dir("etc") / SCENARIO_FILE).write_text(text, encoding="utf-8")
        out = self.instance.cli("dialplan reload")
        if "error" in out.lower():
            raise LabError(f"carrier dialplan reload failed: {out.strip()}")

    def sound_for(self, say: Say) -> str:
        """The Playback() name of the phrase, synthesised on first use."""
        digest = hashlib.sha256(f"{say.voice}\0{say.text}".encode()).hexdigest()[:20]
        name = f"say-{digest}"
        target = self.sounds_dir / f"{name}.wav"
        if not target.exists():
            synthesise(say, target)
        return self.instance.view(f"sounds/{name}")


def synthesise(say: Say, target: Path, rate: int = 8000) -> None:
    """espeak-ng speaks to a WAV; sox makes it 8 kHz mono 16-bit for Playback()."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise LabError(f"{tool} is not installed (run `make setup` as root)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", say.voice, "-w", str(raw), say.text], check=True,
                       capture_output=True, timeout=60)
        partial = Path(tmp) / "out.wav"
        subprocess.run(["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(partial)],
                       check=True, capture_output=True, timeout=60)
        shutil.move(partial, target)


def render_scenarios(scenarios: list[Scenario], sound_for: callable) -> str:  # type: ignore[valid-type]
    numbers = [s.number for s in scenarios]
    if len(numbers) != len(set(numbers)):
        raise ValueError("two scenarios for the same number")
    lines = ["; written by the lab: one extension per simulated debtor", "[carrier-scenarios]"]
    for scenario in scenarios:
        steps = _steps(scenario, sound_for)
        lines.append(f"exten => {scenario.number},1,Verbose(2,scenario {scenario.network})")
        lines += [f" same => n,{step}" for step in steps]
    lines.append("")
    return "\n".join(lines)


def _seconds(value: float) -> str:
    return f"{value:g}"


def _steps(scenario: Scenario, sound_for: callable) -> list[str]:  # type: ignore[valid-type]
    ring = [] if scenario.ring_s is None else [f"Wait({_seconds(scenario.ring_s)})"]
    match scenario.network:
        case Network.BUSY:
            return ["Ringing()", *ring, "Busy(5)", "Hangup(17)"] if ring else ["Hangup(17)"]
        case Network.CONGESTION:
            return ["Progress()", *ring, "Hangup(34)"]
        case Network.INVALID:
            return ["Hangup(1)"]
        case Network.REJECT:
            return ["Ringing()", *ring, "Hangup(21)"]
        case Network.NO_ANSWER:
            # Without a network timeout it rings until the caller gives up.
            tail = ["Hangup(19)"] if ring else ["Wait(600)", "Hangup(19)"]
            return ["Ringing()", *ring, *tail]
        case Network.ANSWER | Network.MACHINE:
            steps = ["Ringing()", *ring, "Answer()"]
            script = scenario.script
            if scenario.network is Network.MACHINE:
                script = (Pause(0.3), MACHINE_GREETING, *script)
            for item in script:
                if isinstance(item, Pause):
                    steps.append(f"Wait({_seconds(item.seconds)})")
                elif isinstance(item, AwaitPrompt):
                    timeout = _seconds(item.timeout_s)
                    steps.append(f"WaitForNoise(400,1,{timeout})")
                    if item.silence_s is not None:
                        silence_ms = int(item.silence_s * 1000)
                        steps.append(f"WaitForSilence({silence_ms},1,{timeout})")
                else:
                    steps.append(f"Playback({sound_for(item)})")
            if scenario.network is Network.MACHINE:
                steps += ["PlayTones(1000/600)", "Wait(0.6)", "StopPlayTones()"]
            hold = "600" if scenario.hold_s is None else _seconds(scenario.hold_s)
            steps.append(f"Wait({hold})")
            steps.append("Hangup(16)")
            return steps
    raise AssertionError(scenario.network)
