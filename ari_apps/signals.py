"""What the event reader tells a call's flow about its helper channels and media.

Flows name their helper channels and playbacks `<attempt uuid>-<role>`; the reader
routes events about them to the call by that prefix and turns them into these.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    playback_id: str


@dataclass(frozen=True, slots=True)
class ChannelReady:
    """A helper channel entered Stasis: only then may it join a bridge or be recorded
    (ARI answers 422 "Channel not in Stasis application" before). For a channel the
    flow originated (an agent's phone) it also means: answered."""

    channel_id: str


@dataclass(frozen=True, slots=True)
class ChannelGone:
    """A helper channel was destroyed (hung up, or never answered), with Asterisk's
    hang-up cause."""

    channel_id: str
    cause: int | None = None
