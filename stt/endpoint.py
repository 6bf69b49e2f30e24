"""Voice activity and endpointing for one call's inbound audio, driven by timers.

Pure: the caller passes the time (monotonic float seconds) to every method; nothing here
reads a clock. Asterisk sends RTP only while the bridge carries audio, so silence may be
no packets at all: the end of an utterance and the no-input timeout must fire from
`tick(now)`, not only from `feed()`. `next_deadline()` says when the next timer is due, so
the I/O shell sleeps exactly until then instead of polling.

Speech is decided per frame (20 ms by default) from its RMS level in dBFS (relative to
full-scale 32768): a frame is speech when it is at least `margin_db` above an adaptive
noise floor and never below `absolute_min_dbfs`, so digital silence and comfort noise do
not count however low the floor sinks. A burst is speech only after `min_speech_s` of
consecutive speech frames (a click or a cough shorter than that is ignored).

Events and listening:
    SpeechStarted, UtteranceEnded and UtteranceTooLong are reported whether or not the
    endpointer is listening — a caller who talks over a prompt raises SpeechStarted, which
    is what drives barge-in. Only NoInput depends on listening: it is armed by
    `start_listening(now)` and fires once if no SpeechStarted happened within `no_input_s`.
    `start_listening()` during an utterance keeps it: the utterance that interrupted the
    prompt ends normally with UtteranceEnded.

Timeline of frames: a frame's time is when its last sample was handed to `feed()`
(`now`, minus the duration of any audio after it in the same call), never earlier than
the frame before it. Timer events carry the time they were due, not when tick() ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum, auto

import numpy as np

FULL_SCALE = 32768.0
SAMPLE_BYTES = 2
# Level reported for digital silence, instead of minus infinity.
SILENCE_DBFS = -100.0
_MIN_POWER = (FULL_SCALE * 10 ** (SILENCE_DBFS / 20)) ** 2


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    sample_rate: int = 16_000
    frame_ms: int = 20
    end_silence_s: float = 0.8
    """Silence after the last speech frame that ends an utterance."""
    min_speech_s: float = 0.15
    """Consecutive speech needed before SpeechStarted; shorter bursts are noise."""
    no_input_s: float = 5.0
    """After start_listening(), how long without any speech before NoInput."""
    max_utterance_s: float = 15.0
    margin_db: float = 12.0
    """A speech frame is at least this much louder than the noise floor."""
    absolute_min_dbfs: float = -45.0
    """Frames quieter than this are never speech, whatever the noise floor."""
    noise_quiet_tau_s: float = 0.2
    """Time constant of the noise floor's average over quiet frames."""
    noise_creep_tau_s: float = 5.0
    """Time constant at which speech frames pull the floor up, so a steady noise louder
    than the floor is absorbed after a few seconds instead of being speech for ever."""
    gap_tolerance_s: float = 0.1
    """A pause in the audio longer than this counts as silence (packets stopped)."""

    def __post_init__(self) -> None:
        _require(self.sample_rate > 0, f"sample_rate must be positive, got {self.sample_rate}")
        _require(
            self.frame_ms > 0 and self.sample_rate * self.frame_ms % 1000 == 0,
            f"frame_ms={self.frame_ms} must give a whole number of samples at "
            f"{self.sample_rate} Hz",
        )
        _require(
            0.2 <= self.end_silence_s <= 3.0,
            f"end_silence_s must lie in 0.2–3.0 s, got {self.end_silence_s}",
        )
        _require(self.min_speech_s > 0, f"min_speech_s must be positive, got {self.min_speech_s}")
        _require(self.no_input_s > 0, f"no_input_s must be positive, got {self.no_input_s}")
        _require(
            self.max_utterance_s > self.min_speech_s,
            f"max_utterance_s ({self.max_utterance_s}) must exceed "
            f"min_speech_s ({self.min_speech_s})",
        )
        _require(self.margin_db > 0, f"margin_db must be positive, got {self.margin_db}")
        _require(
            SILENCE_DBFS < self.absolute_min_dbfs < 0,
            f"absolute_min_dbfs must lie between {SILENCE_DBFS} and 0, "
            f"got {self.absolute_min_dbfs}",
        )
        _require(
            self.noise_quiet_tau_s > 0 and self.noise_creep_tau_s > 0,
            f"noise time constants must be positive, got quiet={self.noise_quiet_tau_s} "
            f"creep={self.noise_creep_tau_s}",
        )
        _require(
            self.gap_tolerance_s >= self.frame_ms / 1000,
            f"gap_tolerance_s ({self.gap_tolerance_s}) must be at least one frame "
            f"({self.frame_ms} ms)",
        )

    @property
    def frame_s(self) -> float:
        return self.frame_ms / 1000

    @property
    def frame_samples(self) -> int:
        return self.sample_rate * self.frame_ms // 1000

    @property
    def frame_bytes(self) -> int:
        return self.frame_samples * SAMPLE_BYTES

    @property
    def min_speech_frames(self) -> int:
        # Rounded first so that 0.16 s / 0.02 s = 8.000000000000002 means 8 frames, not 9.
        return max(1, math.ceil(round(self.min_speech_s / self.frame_s, 6)))


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    at: float
    """Start of the first speech frame (reported once `min_speech_s` of speech followed)."""


@dataclass(frozen=True, slots=True)
class UtteranceEnded:
    started_at: float
    ended_at: float
    """End of the last speech frame; the event itself fires `end_silence_s` later."""


@dataclass(frozen=True, slots=True)
class NoInput:
    at: float
    """The no-input deadline: listening start + no_input_s."""


@dataclass(frozen=True, slots=True)
class UtteranceTooLong:
    at: float
    """Utterance start + max_utterance_s. The utterance is over; if the caller keeps
    talking, a new one starts after `min_speech_s`."""


EndpointEvent = SpeechStarted | UtteranceEnded | NoInput | UtteranceTooLong


class _Phase(Enum):
    QUIET = auto()
    ONSET = auto()  # speech frames seen, fewer than min_speech_frames yet
    SPEAKING = auto()


def frame_levels_dbfs(pcm_le16: bytes, frame_samples: int) -> list[float]:
    """RMS level in dBFS of each whole frame of little-endian int16 audio."""
    frames = len(pcm_le16) // (frame_samples * SAMPLE_BYTES)
    if frames == 0:
        return []
    samples = np.frombuffer(pcm_le16, dtype="<i2", count=frames * frame_samples)
    as_float = samples.reshape(frames, frame_samples).astype(np.float64)
    power = np.maximum(np.mean(as_float * as_float, axis=1), _MIN_POWER)
    levels: list[float] = (10.0 * np.log10(power / (FULL_SCALE * FULL_SCALE))).tolist()
    return levels


class Endpointer:
    """Turns one stream of inbound audio into speech events; see the module docstring."""

    def __init__(self, config: EndpointConfig | None = None) -> None:
        self.config = config or EndpointConfig()
        frame_s = self.config.frame_s
        self._quiet_alpha = 1.0 - math.exp(-frame_s / self.config.noise_quiet_tau_s)
        self._creep_alpha = 1.0 - math.exp(-frame_s / self.config.noise_creep_tau_s)
        # Below this the floor no longer moves the threshold (the absolute minimum rules),
        # so sinking further would only slow the climb back when noise returns.
        self._lowest_floor = self.config.absolute_min_dbfs - self.config.margin_db
        self._noise_floor = self._lowest_floor
        self._remainder = b""
        self._phase = _Phase.QUIET
        self._onset_at = 0.0
        self._onset_frames = 0
        self._last_speech_end = 0.0
        self._last_frame_end: float | None = None
        self._listening = False
        self._listen_start = 0.0
        self._no_input_armed = False

    @property
    def listening(self) -> bool:
        return self._listening

    @property
    def speaking(self) -> bool:
        """SpeechStarted was reported and the utterance has not ended yet."""
        return self._phase is _Phase.SPEAKING

    @property
    def noise_floor_dbfs(self) -> float:
        return self._noise_floor

    def start_listening(self, now: float) -> None:
        """Arm the no-input timer from `now`; an utterance already under way is kept."""
        self._listening = True
        self._listen_start = now
        self._no_input_armed = self._phase is not _Phase.SPEAKING

    def stop_listening(self) -> None:
        """Disarm the no-input timer. Speech is still tracked (barge-in)."""
        self._listening = False
        self._no_input_armed = False

    def feed(self, pcm_le16: bytes, now: float) -> list[EndpointEvent]:
        """Take audio of any length (little-endian int16 mono) received by `now`.

        Whole frames are classified; a partial frame is kept for the next call. Timers due
        by `now` fire too, so feed() never needs a tick() right after it.
        """
        events: list[EndpointEvent] = []
        buffered = self._remainder + pcm_le16
        levels = frame_levels_dbfs(buffered, self.config.frame_samples)
        self._remainder = buffered[len(levels) * self.config.frame_bytes :]
        after_last_frame = len(self._remainder) // SAMPLE_BYTES / self.config.sample_rate
        frame_s = self.config.frame_s
        for index, level in enumerate(levels):
            end = now - after_last_frame - (len(levels) - 1 - index) * frame_s
            if self._last_frame_end is not None:
                end = max(end, self._last_frame_end)
            start = end - frame_s
            self._fire_timers(start, events)
            self._classify(level, start, end, events)
            self._last_frame_end = end
        self._fire_timers(now, events)
        return events

    def tick(self, now: float) -> list[EndpointEvent]:
        """Fire the timers due by `now`; call it at `next_deadline()` when no audio came."""
        events: list[EndpointEvent] = []
        self._fire_timers(now, events)
        return events

    def next_deadline(self) -> float | None:
        """When tick() has something to decide next, or None if no timer is running.

        Calling tick() at (or after) the returned time always changes the state, so a shell
        that sleeps until the deadline and ticks never spins on the same deadline.
        """
        config = self.config
        if self._phase is _Phase.SPEAKING:
            return min(
                self._last_speech_end + config.end_silence_s,
                self._onset_at + config.max_utterance_s,
            )
        if self._phase is _Phase.ONSET and self._last_frame_end is not None:
            # A pending onset holds NoInput back; it is abandoned if the audio stops.
            return self._last_frame_end + config.gap_tolerance_s
        if self._no_input_armed:
            return self._listen_start + config.no_input_s
        return None

    def _fire_timers(self, now: float, events: list[EndpointEvent]) -> None:
        config = self.config
        if (
            self._phase is _Phase.ONSET
            and self._last_frame_end is not None
            and now >= self._last_frame_end + config.gap_tolerance_s
        ):
            self._phase = _Phase.QUIET
        if self._phase is _Phase.SPEAKING:
            ends_at = self._last_speech_end + config.end_silence_s
            too_long_at = self._onset_at + config.max_utterance_s
            if now >= ends_at and ends_at <= too_long_at:
                events.append(UtteranceEnded(self._onset_at, self._last_speech_end))
                self._phase = _Phase.QUIET
            elif now >= too_long_at:
                events.append(UtteranceTooLong(too_long_at))
                self._phase = _Phase.QUIET
        if self._no_input_armed and self._phase is _Phase.QUIET:
            no_input_at = self._listen_start + config.no_input_s
            if now >= no_input_at:
                events.append(NoInput(no_input_at))
                self._no_input_armed = False

    def _classify(
        self, level: float, start: float, end: float, events: list[EndpointEvent]
    ) -> None:
        config = self.config
        threshold = max(self._noise_floor + config.margin_db, config.absolute_min_dbfs)
        is_speech = level >= threshold
        alpha = self._creep_alpha if is_speech else self._quiet_alpha
        self._noise_floor = max(
            self._lowest_floor, self._noise_floor + alpha * (level - self._noise_floor)
        )
        if not is_speech:
            if self._phase is _Phase.ONSET:
                self._phase = _Phase.QUIET
            return
        if self._phase is _Phase.SPEAKING:
            self._last_speech_end = end
            return
        if self._phase is _Phase.QUIET:
            self._phase = _Phase.ONSET
            self._onset_at = start
            self._onset_frames = 0
        self._onset_frames += 1
        if self._onset_frames >= config.min_speech_frames:
            self._phase = _Phase.SPEAKING
            self._last_speech_end = end
            self._no_input_armed = False
            events.append(SpeechStarted(self._onset_at))
