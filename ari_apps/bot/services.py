"""What the voice bot's calls share: the ARI and storage they need (as protocols, so
the flow never imports the engine), the settings they run with, and live figures."""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from ari_apps.bot.prompts import PromptCache
from ari_apps.bot.script import Script
from db.bot import DebtorFacts, OutcomeRecord
from stt.intake import MediaClock
from stt.ports import PortPool
from stt.recognizer import SpeechModel


class MediaControl(Protocol):
    async def snoop(self, channel_id: str, snoop_id: str, app: str, spy: str) -> None: ...
    async def subscribe_channel(self, app: str, channel_id: str) -> None: ...
    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str,
                                   priority: int) -> None: ...
    async def external_media(self, channel_id: str, app: str, host: str, fmt: str) -> None: ...
    async def create_bridge(self, bridge_id: str) -> None: ...
    async def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None: ...
    async def destroy_bridge(self, bridge_id: str) -> None: ...
    async def play(self, channel_id: str, playback_id: str, media: str) -> None: ...
    async def stop_playback(self, playback_id: str) -> None: ...
    async def record(self, channel_id: str, name: str, max_s: int) -> None: ...
    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...


class BotStore(Protocol):
    async def record_turn(self, attempt_id: uuid.UUID, seq: int, node: str, prompt: str | None,
                          heard: str | None, intent: str | None, at: datetime) -> None: ...
    async def set_recording(self, attempt_id: uuid.UUID, path: str) -> None: ...
    async def record_outcome(self, attempt_id: uuid.UUID, facts: DebtorFacts, script: str,
                             outcome: OutcomeRecord) -> None: ...


@dataclass(frozen=True, slots=True)
class BotConfig:
    app: str
    rtp_host: str
    end_silence_s: float = 0.8
    no_input_s: float = 5.0
    max_call_s: int = 300
    recordings_view: str = ""  # where Asterisk writes recordings, as Asterisk names it
    amd: bool = True  # run the dialplan's answering-machine check before speaking
    payment_channels: str = ""


@dataclass
class BotStats:
    """Live figures of the bot (read by /metrics and the benchmark)."""

    intake_cpu_seconds: float = 0.0  # RTP intake and endpointing, all calls so far
    # End of the caller's speech → the reply's playback started, per answered turn.
    turn_latencies: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))


@dataclass(frozen=True, slots=True)
class BotServices:
    """Process-wide parts every bot call shares."""

    config: BotConfig
    speech: SpeechModel
    ports: PortPool
    prompts: PromptCache
    store: BotStore | None  # None until the database is open
    scripts: dict[str, Script]  # by name ("ko", "zh", ...)
    stats: BotStats = field(default_factory=BotStats)
    media_clock: MediaClock = field(default_factory=MediaClock)  # reads every call's RTP
