"""Endpointing on synthetic audio: tones for speech, Gaussian noise, digital silence, and
stretches with no packets at all (Asterisk sends RTP only while there is audio).

Audio is fed in 20 ms packets at the time its last sample arrived; silences without packets
are driven the way the I/O shell drives them: tick() at each next_deadline().
"""

from __future__ import annotations

import numpy as np
import pytest

from stt.endpoint import (
    SILENCE_DBFS,
    EndpointConfig,
    Endpointer,
    EndpointEvent,
    NoInput,
    SpeechStarted,
    UtteranceEnded,
    UtteranceTooLong,
    frame_levels_dbfs,
)

RATE = 16_000
FRAME = 320
FRAME_S = 0.02

Timed = list[tuple[float, EndpointEvent]]


def _samples(signal: np.ndarray) -> np.ndarray:
    return np.clip(np.round(signal), -32768, 32767).astype("<i2")


def noise(seconds: float, dbfs: float = -60.0, seed: int = 1) -> np.ndarray:
    """Gaussian line noise at an RMS level of `dbfs`."""
    count = round(seconds * RATE)
    sigma = 32768 * 10 ** (dbfs / 20)
    return _samples(np.random.default_rng(seed).normal(0.0, sigma, count))


def tone(seconds: float, dbfs: float = -20.0, noise_dbfs: float = -60.0) -> np.ndarray:
    """A 300 Hz tone (6 whole cycles per frame) at an RMS level of `dbfs`, over noise."""
    count = round(seconds * RATE)
    amplitude = np.sqrt(2) * 32768 * 10 ** (dbfs / 20)
    sine = amplitude * np.sin(2 * np.pi * 300.0 * np.arange(count) / RATE)
    line = np.random.default_rng(2).normal(0.0, 32768 * 10 ** (noise_dbfs / 20), count)
    return _samples(sine + line)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), dtype="<i2")


def feed(endpointer: Endpointer, audio: np.ndarray, start: float) -> Timed:
    """Feed `audio` in 20 ms packets from `start`; return (time emitted, event) pairs."""
    emitted: Timed = []
    for index in range(len(audio) // FRAME):
        now = start + (index + 1) * FRAME_S
        chunk = audio[index * FRAME : (index + 1) * FRAME].tobytes()
        emitted += [(now, event) for event in endpointer.feed(chunk, now)]
    return emitted


def wait_without_packets(endpointer: Endpointer, until: float) -> Timed:
    """Sleep from deadline to deadline up to `until`, ticking at each, as the shell does."""
    emitted: Timed = []
    for _ in range(20):
        deadline = endpointer.next_deadline()
        if deadline is None or deadline > until:
            return emitted
        events = endpointer.tick(deadline)
        assert events or endpointer.next_deadline() != deadline, "tick at deadline did nothing"
        emitted += [(deadline, event) for event in events]
    raise AssertionError("the deadlines never settled")


def events_only(emitted: Timed) -> list[EndpointEvent]:
    return [event for _, event in emitted]


def test_frame_levels() -> None:
    """Steps: measure a −20 dBFS tone, a full-scale square wave and digital silence.
    Expected: −20, 0 and the silence floor (not minus infinity, no warning)."""
    square = np.where(np.arange(FRAME) % 2, 32767, -32767).astype("<i2")
    frames = np.concatenate([tone(0.02, noise_dbfs=-200), square, silence(0.02)])
    levels = frame_levels_dbfs(frames.tobytes() + b"\x01", FRAME)
    assert levels == pytest.approx([-20.0, 0.0, SILENCE_DBFS], abs=0.01)


def test_one_utterance_over_line_noise() -> None:
    """Steps: 0.5 s of −60 dBFS noise, a 1.0 s tone, 2 s of noise.
    Expected: SpeechStarted(0.5) once 0.16 s of speech is in (8 frames ≥ 0.15 s);
    UtteranceEnded(0.5, 1.5) exactly 0.8 s after the last speech frame."""
    endpointer = Endpointer()
    audio = np.concatenate([noise(0.5), tone(1.0), noise(2.0)])
    emitted = feed(endpointer, audio, 0.0)
    assert [(round(at, 6), event) for at, event in emitted] == [
        (0.66, SpeechStarted(at=pytest.approx(0.5))),
        (2.3, UtteranceEnded(started_at=pytest.approx(0.5), ended_at=pytest.approx(1.5))),
    ]
    assert not endpointer.speaking


def test_utterance_ends_by_timer_when_packets_stop() -> None:
    """Steps: a 0.6 s tone from t=10, then no packets at all.
    Expected: next_deadline() is the last speech frame + 0.8 s; tick() a hair before does
    nothing; tick() at it reports UtteranceEnded(10.0, 10.6); afterwards no timer runs."""
    endpointer = Endpointer()
    assert events_only(feed(endpointer, tone(0.6), 10.0)) == [SpeechStarted(pytest.approx(10.0))]
    deadline = endpointer.next_deadline()
    assert deadline == pytest.approx(11.4)
    assert deadline is not None
    assert endpointer.tick(deadline - 0.001) == []
    assert endpointer.tick(deadline) == [UtteranceEnded(pytest.approx(10.0), pytest.approx(10.6))]
    assert endpointer.next_deadline() is None


@pytest.mark.parametrize("pause", ["quiet packets", "no packets"])
def test_speech_resuming_within_end_silence_is_one_utterance(pause: str) -> None:
    """Steps: 0.5 s tone, a 0.6 s pause (< 0.8 s) either of noise packets or of no packets,
    another 0.5 s tone, then silence.
    Expected: one SpeechStarted and one UtteranceEnded spanning both tones (0 → 1.6)."""
    endpointer = Endpointer()
    emitted = feed(endpointer, tone(0.5), 0.0)
    if pause == "quiet packets":
        emitted += feed(endpointer, noise(0.6), 0.5)
    else:
        emitted += wait_without_packets(endpointer, until=1.1)
    emitted += feed(endpointer, tone(0.5), 1.1)
    emitted += wait_without_packets(endpointer, until=10.0)
    assert events_only(emitted) == [
        SpeechStarted(pytest.approx(0.0)),
        UtteranceEnded(pytest.approx(0.0), pytest.approx(1.6)),
    ]


def test_click_shorter_than_min_speech_is_ignored() -> None:
    """Steps: listen from 0; a loud 100 ms click (−6 dBFS) at 1 s amid noise.
    Expected: no SpeechStarted; NoInput still fires at exactly 5.0 s."""
    endpointer = Endpointer()
    endpointer.start_listening(0.0)
    audio = np.concatenate([noise(1.0), tone(0.1, dbfs=-6.0), noise(4.5)])
    assert feed(endpointer, audio, 0.0) == [(5.0, NoInput(5.0))]


def test_burst_just_long_enough_counts() -> None:
    """Steps: a 160 ms tone (8 frames) amid noise. Expected: it is speech: started, ended."""
    endpointer = Endpointer()
    emitted = feed(endpointer, np.concatenate([noise(0.2), tone(0.16), noise(1.0)]), 0.0)
    assert events_only(emitted) == [
        SpeechStarted(pytest.approx(0.2)),
        UtteranceEnded(pytest.approx(0.2), pytest.approx(0.36)),
    ]


def test_onset_broken_by_missing_packets_is_not_speech() -> None:
    """Steps: 100 ms of tone, no packets for 300 ms, 100 ms of tone again.
    Expected: no SpeechStarted — 200 ms of speech in total, but never 150 ms in a row."""
    endpointer = Endpointer()
    emitted = feed(endpointer, tone(0.1), 0.0)
    emitted += wait_without_packets(endpointer, until=0.4)
    emitted += feed(endpointer, tone(0.1), 0.4)
    assert emitted == []
    assert not endpointer.speaking


def test_no_input_fires_exactly_at_the_deadline_and_once() -> None:
    """Steps: start listening at 100 s; no packets at all.
    Expected: next_deadline() is 105.0; tick(104.999) nothing; tick(105.0) NoInput(105.0);
    later ticks nothing, and no timer left."""
    endpointer = Endpointer()
    endpointer.start_listening(100.0)
    assert endpointer.next_deadline() == 105.0
    assert endpointer.tick(104.999) == []
    assert endpointer.tick(105.0) == [NoInput(105.0)]
    assert endpointer.tick(106.0) == []
    assert endpointer.next_deadline() is None


def test_no_input_reports_its_deadline_when_ticked_late() -> None:
    """Steps: listen from 0 with no_input_s 2.0; first tick at 3.7 s.
    Expected: NoInput(at=2.0) — when it was due, not when it was noticed."""
    endpointer = Endpointer(EndpointConfig(no_input_s=2.0))
    endpointer.start_listening(0.0)
    assert endpointer.tick(3.7) == [NoInput(2.0)]


def test_digital_silence_and_comfort_noise_never_count() -> None:
    """Steps: listen; 2 s of digital zeros, then 4 s of −48 dBFS noise (under the −45 dBFS
    absolute minimum). Expected: only NoInput at 5 s; the floor never sinks below −57."""
    endpointer = Endpointer()
    endpointer.start_listening(0.0)
    emitted = feed(endpointer, silence(2.0), 0.0)
    assert endpointer.noise_floor_dbfs == pytest.approx(-57.0)
    emitted += feed(endpointer, noise(4.0, dbfs=-48.0), 2.0)
    assert emitted == [(5.0, NoInput(5.0))]


def test_steady_noise_is_absorbed_and_speech_over_it_still_detected() -> None:
    """Steps: 6 s of −40 dBFS noise (above the absolute minimum), then a −20 dBFS tone.
    Expected: the noise starts as speech but the floor climbs to it and the utterance ends
    within ~3 s; the floor settles near −40; the tone afterwards is detected."""
    endpointer = Endpointer()
    emitted = feed(endpointer, noise(6.0, dbfs=-40.0), 0.0)
    assert [type(event) for event in events_only(emitted)] == [SpeechStarted, UtteranceEnded]
    assert emitted[-1][0] < 3.5
    assert endpointer.noise_floor_dbfs == pytest.approx(-40.0, abs=1.0)
    assert events_only(feed(endpointer, tone(0.5, noise_dbfs=-40.0), 6.0)) == [
        SpeechStarted(pytest.approx(6.0))
    ]


@pytest.mark.parametrize(
    ("end_silence_s", "expected"),
    [
        (
            0.5,
            [
                SpeechStarted(pytest.approx(0.0)),
                UtteranceEnded(pytest.approx(0.0), pytest.approx(0.4)),
                SpeechStarted(pytest.approx(1.1)),
                UtteranceEnded(pytest.approx(1.1), pytest.approx(1.5)),
            ],
        ),
        (
            1.0,
            [
                SpeechStarted(pytest.approx(0.0)),
                UtteranceEnded(pytest.approx(0.0), pytest.approx(1.5)),
            ],
        ),
    ],
)
def test_end_silence_decides_where_the_utterance_ends(
    end_silence_s: float, expected: list[EndpointEvent]
) -> None:
    """Steps: 0.4 s tone, 0.7 s of noise, 0.4 s tone, 2 s of noise.
    Expected: with 0.5 s end silence the pause splits two utterances; with 1.0 s it is one."""
    endpointer = Endpointer(EndpointConfig(end_silence_s=end_silence_s))
    audio = np.concatenate([tone(0.4), noise(0.7), tone(0.4), noise(2.0)])
    assert events_only(feed(endpointer, audio, 0.0)) == expected


def test_speech_during_a_prompt_raises_speech_started_for_barge_in() -> None:
    """Steps: not listening (a prompt plays); the caller talks from 0.2 s; the shell starts
    listening at 0.5 s mid-utterance; the caller stops at 1.2 s.
    Expected: SpeechStarted while not listening; the utterance is kept across
    start_listening() and ends normally; no NoInput ever."""
    endpointer = Endpointer()
    emitted = feed(endpointer, np.concatenate([noise(0.2), tone(0.3)]), 0.0)
    assert events_only(emitted) == [SpeechStarted(pytest.approx(0.2))]
    endpointer.start_listening(0.5)
    emitted = feed(endpointer, tone(0.7), 0.5)
    emitted += wait_without_packets(endpointer, until=20.0)
    assert events_only(emitted) == [UtteranceEnded(pytest.approx(0.2), pytest.approx(1.2))]
    assert endpointer.listening


def test_stop_listening_disarms_no_input() -> None:
    """Steps: start listening at 0, stop at 1 s, wait 10 s. Expected: no NoInput, no timer."""
    endpointer = Endpointer()
    endpointer.start_listening(0.0)
    endpointer.stop_listening()
    assert endpointer.next_deadline() is None
    assert endpointer.tick(10.0) == []


def test_speech_before_the_deadline_cancels_no_input() -> None:
    """Steps: listen from 0; a 0.5 s tone at 4.0 s; then quiet packets to 12 s.
    Expected: SpeechStarted and UtteranceEnded, no NoInput."""
    endpointer = Endpointer()
    endpointer.start_listening(0.0)
    audio = np.concatenate([noise(4.0), tone(0.5), noise(7.5)])
    assert [type(event) for event in events_only(feed(endpointer, audio, 0.0))] == [
        SpeechStarted,
        UtteranceEnded,
    ]


def test_no_input_waits_for_an_onset_under_way_at_the_deadline() -> None:
    """Steps: listen from 0; a tone starting at 4.94 s, straddling the 5 s deadline.
    Expected: SpeechStarted(4.94), no NoInput — the caller had begun to speak."""
    endpointer = Endpointer()
    endpointer.start_listening(0.0)
    audio = np.concatenate([noise(4.94), tone(0.5)])
    assert events_only(feed(endpointer, audio, 0.0)) == [SpeechStarted(pytest.approx(4.94))]


def test_no_input_fires_once_a_straddling_onset_fizzles_and_packets_stop() -> None:
    """Steps: listen from 0; 100 ms of tone from 4.94 s, then no packets.
    Expected: nothing at 5 s (an onset is pending); once the audio has been missing for the
    gap tolerance the onset is dropped and NoInput(5.0) is reported."""
    endpointer = Endpointer()
    endpointer.start_listening(0.0)
    assert feed(endpointer, np.concatenate([noise(4.94), tone(0.1)]), 0.0) == []
    assert endpointer.next_deadline() == pytest.approx(5.04 + 0.1)
    assert wait_without_packets(endpointer, until=10.0) == [
        (pytest.approx(5.14), NoInput(5.0)),
    ]


def test_utterance_too_long_cuts_and_a_new_one_starts() -> None:
    """Steps: max_utterance_s 2.0; a 3 s tone from 0, then no packets.
    Expected: UtteranceTooLong(2.0) at 2.0 s; the talking goes on, so a new SpeechStarted(2.0)
    follows and that utterance ends by timer 0.8 s after the tone."""
    endpointer = Endpointer(EndpointConfig(max_utterance_s=2.0))
    emitted = feed(endpointer, tone(3.0), 0.0)
    emitted += wait_without_packets(endpointer, until=10.0)
    assert emitted == [
        (pytest.approx(0.16), SpeechStarted(pytest.approx(0.0))),
        (pytest.approx(2.0), UtteranceTooLong(pytest.approx(2.0))),
        (pytest.approx(2.16), SpeechStarted(pytest.approx(2.0))),
        (pytest.approx(3.8), UtteranceEnded(pytest.approx(2.0), pytest.approx(3.0))),
    ]


def test_too_long_fires_by_timer_without_packets() -> None:
    """Steps: max_utterance_s 1.0, end silence 0.8; tone 0.9 s then no packets.
    Expected: the limit (1.0 s) is due before the end of silence (1.7 s): UtteranceTooLong."""
    endpointer = Endpointer(EndpointConfig(max_utterance_s=1.0))
    feed(endpointer, tone(0.9), 0.0)
    assert endpointer.next_deadline() == pytest.approx(1.0)
    assert wait_without_packets(endpointer, until=5.0) == [
        (pytest.approx(1.0), UtteranceTooLong(pytest.approx(1.0)))
    ]


def test_late_tick_reports_whichever_limit_was_due_first() -> None:
    """Steps: max_utterance_s 1.0; tone 0.9 s; no tick until 5 s, when both the length limit
    (1.0 s) and the end of silence (1.7 s) are past. Expected: UtteranceTooLong(1.0) only."""
    endpointer = Endpointer(EndpointConfig(max_utterance_s=1.0))
    feed(endpointer, tone(0.9), 0.0)
    assert endpointer.tick(5.0) == [UtteranceTooLong(pytest.approx(1.0))]
    assert endpointer.tick(6.0) == []


def test_burst_of_queued_packets_is_not_dated_before_earlier_audio() -> None:
    """Steps: a quiet packet at t=1.0, then ten tone packets handed over together at the
    same t=1.0 (released at once by the reorder buffer).
    Expected: the speech is dated from 0.98 (end of the quiet frame at the latest), never
    back to 0.8, which would overlap audio already classified."""
    endpointer = Endpointer()
    assert endpointer.feed(noise(0.02).tobytes(), 1.0) == []
    assert endpointer.feed(tone(0.2).tobytes(), 1.0) == [SpeechStarted(pytest.approx(0.98))]


@pytest.mark.parametrize("chunk_bytes", [1, 333, 641, 1280, 4001])
def test_chunk_size_does_not_change_the_events(chunk_bytes: int) -> None:
    """Steps: the same audio fed in chunks of odd sizes, each at the time of its last byte.
    Expected: the same events as 20 ms packets, times within a sample."""
    audio = np.concatenate([noise(0.3), tone(0.6), noise(1.2)]).tobytes()
    reference = Endpointer()
    expected = events_only(feed(reference, np.frombuffer(audio, "<i2"), 0.0))
    endpointer = Endpointer()
    emitted: list[EndpointEvent] = []
    for offset in range(0, len(audio), chunk_bytes):
        chunk = audio[offset : offset + chunk_bytes]
        now = (offset + len(chunk)) // 2 / RATE
        emitted += endpointer.feed(chunk, now)
    within_a_sample = [
        SpeechStarted(pytest.approx(0.3, abs=1 / RATE)),
        UtteranceEnded(pytest.approx(0.3, abs=1 / RATE), pytest.approx(0.9, abs=1 / RATE)),
    ]
    assert expected == within_a_sample
    assert emitted == within_a_sample


def test_one_large_chunk_spreads_frames_over_the_past() -> None:
    """Steps: 2.5 s of audio fed in a single call at t=102.5.
    Expected: frame times run back from 102.5, so the events carry the times they would
    have had packet by packet."""
    endpointer = Endpointer()
    audio = np.concatenate([noise(0.5), tone(1.0), noise(1.0)])
    assert endpointer.feed(audio.tobytes(), 102.5) == [
        SpeechStarted(pytest.approx(100.5)),
        UtteranceEnded(pytest.approx(100.5), pytest.approx(101.5)),
    ]


def test_idle_endpointer_has_no_deadline() -> None:
    """Steps: a fresh endpointer, then after quiet packets. Expected: no timer to wait for."""
    endpointer = Endpointer()
    assert endpointer.next_deadline() is None
    feed(endpointer, noise(0.5), 0.0)
    assert endpointer.next_deadline() is None


def test_min_speech_frames_rounding() -> None:
    """Steps: min_speech_s 0.15, 0.16, 0.161 and 0.01 with 20 ms frames.
    Expected: 8, 8, 9 and 1 frames (float noise in 0.16/0.02 does not add a frame)."""
    frames = [
        EndpointConfig(min_speech_s=seconds).min_speech_frames
        for seconds in (0.15, 0.16, 0.161, 0.01)
    ]
    assert frames == [8, 8, 9, 1]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"end_silence_s": 0.19}, "end_silence_s must lie in 0.2–3.0 s, got 0.19"),
        ({"end_silence_s": 3.01}, "end_silence_s must lie in 0.2–3.0 s, got 3.01"),
        ({"sample_rate": 0}, "sample_rate must be positive, got 0"),
        (
            {"sample_rate": 44_100, "frame_ms": 15},
            "frame_ms=15 must give a whole number of samples at 44100 Hz",
        ),
        ({"min_speech_s": 0.0}, "min_speech_s must be positive, got 0.0"),
        ({"no_input_s": -1.0}, "no_input_s must be positive, got -1.0"),
        (
            {"max_utterance_s": 0.1},
            "max_utterance_s (0.1) must exceed min_speech_s (0.15)",
        ),
        ({"margin_db": 0.0}, "margin_db must be positive, got 0.0"),
        (
            {"absolute_min_dbfs": 3.0},
            "absolute_min_dbfs must lie between -100.0 and 0, got 3.0",
        ),
        (
            {"noise_creep_tau_s": 0.0},
            "noise time constants must be positive, got quiet=0.2 creep=0.0",
        ),
        (
            {"gap_tolerance_s": 0.01},
            "gap_tolerance_s (0.01) must be at least one frame (20 ms)",
        ),
    ],
)
def test_invalid_configuration(changes: dict[str, float], message: str) -> None:
    """Steps: one bad setting at a time. Expected: ValueError naming it and its value."""
    with pytest.raises(ValueError) as raised:
        EndpointConfig(**changes)  # type: ignore[arg-type]
    assert str(raised.value) == message


@pytest.mark.parametrize("end_silence_s", [0.2, 3.0])
def test_end_silence_bounds_are_accepted(end_silence_s: float) -> None:
    """Steps: the extremes of the allowed range. Expected: accepted and used."""
    endpointer = Endpointer(EndpointConfig(end_silence_s=end_silence_s))
    feed(endpointer, tone(0.5), 0.0)
    assert endpointer.next_deadline() == pytest.approx(0.5 + end_silence_s)
