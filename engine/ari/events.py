"""ARI events at the edge: validated with pydantic, then turned into call events.

Only the fields the engine uses are declared; anything else Asterisk sends is ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from engine.call import state as call


class AriChannel(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    state: str = ""
    name: str = ""


class AriPlayback(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    state: str = ""


class AriEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    timestamp: datetime | None = None
    application: str = ""
    channel: AriChannel | None = None
    peer: AriChannel | None = None
    cause: int | None = None
    cause_txt: str | None = None
    args: list[str] = []
    playback: AriPlayback | None = None

    @field_validator("timestamp", mode="before")
    @classmethod
    def _asterisk_timestamp(cls, value: Any) -> Any:
        # Asterisk writes "2026-11-28T11:26:01.123+0000" (no colon in the offset).
        offset = value[-5:] if isinstance(value, str) and len(value) > 5 else ""
        if offset[:1] in ("+", "-") and ":" not in offset:
            return f"{value[:-2]}:{value[-2:]}"
        return value

    @property
    def at(self) -> datetime:
        return self.timestamp or datetime.now(UTC)


def parse_event(raw: dict[str, Any]) -> AriEvent | None:
    try:
        return AriEvent.model_validate(raw)
    except ValidationError:
        return None


def to_call_event(event: AriEvent) -> tuple[str, call.Event] | None:
    """(channel id, call event) for the events that move a call; None for the rest."""
    channel = event.channel
    if channel is None:
        return None
    match event.type:
        case "ChannelStateChange" if channel.state == "Ringing":
            return channel.id, call.ChannelRinging(at=event.at)
        case "ChannelStateChange" if channel.state == "Up":
            return channel.id, call.ChannelAnswered(at=event.at)
        case "StasisStart" if channel.state == "Up":
            return channel.id, call.ChannelAnswered(at=event.at)
        case "ChannelDestroyed":
            return channel.id, call.ChannelEnded(at=event.at, cause=event.cause,
                                                 cause_text=event.cause_txt)
    return None
