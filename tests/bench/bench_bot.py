"""Concurrent voice-bot calls through the lab: turn latency and where the CPU goes.

    .venv/bin/python -m tests.bench.bench_bot [--levels 2,5,10,20]

For each level N, N simulated debtors on the carrier (espeak-ng Korean) answer at once
and hold the shipped `ko` conversation ("네", then "금요일": a promise). The daemon runs
in this process with the real Vosk model. Printed per level:
- turn latency p50 / p95: the end of the caller's speech (the last speech frame the
  endpointer saw) → the reply's playback started in Asterisk (its REST call returned);
  it includes the end-of-utterance silence (`bot.end_silence_s`);
- CPU seconds per call: the daemon process (with the prompt synthesis it runs, shown
  apart as tts) without its Vosk threads, the Vosk threads, the PBX Asterisk; and,
  measured in the same run, two baselines of plain Vosk calls on one thread, one
  recogniser per grammar with the same 100 ms chunks:
  - raw Vosk on the call's audio: everything the bot listened to (from each question's
    prompt to the end of its answer), as a bot that decodes all it hears would;
  - raw Vosk on the fed audio: just what the daemon's recognisers were fed (the
    daemon decodes speech only, with a short lead-in).
  Daemon ratio = daemon CPU per call incl. Vosk ÷ raw Vosk on the call's audio (goal
  ≤ 1.2); STT ratio = (RTP intake + Vosk in the daemon) ÷ raw Vosk on the fed audio
  (how much the daemon's own decoding path costs over plain Vosk).
The lab (PBX + carrier) is started if it is not running, and stopped again if it was
started here; the database is a throwaway cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ari_apps.bot.hearing import RECOGNISE_CHUNK_BYTES, Hearing
from db.migrate import migrate
from db.pool import create_pool
from engine.daemon import Daemon
from engine.lab.carrier import AwaitPrompt, Network, Say, Scenario
from engine.lab.lab import Lab, write_lab_config
from engine.settings import BotSettings, load_settings
from stt.recognizer import SAMPLE_RATE, SpeechModel, Stream
from tests.bench.postgres import bench_database
from tests.integration.labkit import load_campaign, wait_all_final

PROJECT_DIR = Path(__file__).resolve().parents[2]
ANSWERS = ("네", "금요일")
GOAL_RATIO = 1.2
TICKS = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _own_cpu() -> float:
    """This process (the daemon, its Vosk threads) and what it ran (TTS, sox)."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


class FedAudio:
    """Records what each call's recogniser is fed, as (grammar, [chunks]) utterances, by
    wrapping `Stream` for the benchmark only."""

    def __init__(self) -> None:
        self.utterances: list[tuple[list[str] | None, list[bytes]]] = []
        self._open: dict[int, tuple[list[str] | None, list[bytes]]] = {}
        recorder = self

        original_set, original_accept, original_finish = (
            Stream.set_grammar, Stream.accept, Stream.finish)

        async def set_grammar(stream: Stream, grammar: Sequence[str] | None) -> None:
            recorder._close(stream)
            recorder._open[id(stream)] = (list(grammar) if grammar else None, [])
            await original_set(stream, grammar)

        async def accept(stream: Stream, pcm: bytes) -> str:
            recorder._open.setdefault(id(stream), (None, []))[1].append(pcm)
            return await original_accept(stream, pcm)

        async def finish(stream: Stream):  # type: ignore[no-untyped-def]
            grammar = recorder._open.get(id(stream), (None, []))[0]
            recorder._close(stream)
            recorder._open[id(stream)] = (grammar, [])
            return await original_finish(stream)

        Stream.set_grammar, Stream.accept, Stream.finish = (  # type: ignore[method-assign]
            set_grammar, accept, finish)

    def _close(self, stream: Stream) -> None:
        utterance = self._open.pop(id(stream), None)
        if utterance is not None and utterance[1]:
            self.utterances.append(utterance)

    def take(self) -> list[tuple[list[str] | None, list[bytes]]]:
        for key in list(self._open):
            grammar, chunks = self._open.pop(key)
            if chunks:
                self.utterances.append((grammar, chunks))
        taken, self.utterances = self.utterances, []
        return taken


class ListenedAudio:
    """Records all the audio each call's hearing took in while recognising, as (grammar,
    [100 ms chunks]) per question, by wrapping `Hearing` for the benchmark only."""

    def __init__(self) -> None:
        self._open: dict[int, tuple[list[str] | None, list[bytes]]] = {}
        self._closed: list[tuple[list[str] | None, list[bytes]]] = []
        recorder = self
        original_expect, original_on_audio, original_stop = (
            Hearing.expect, Hearing.on_audio, Hearing.stop)

        async def expect(hearing: Hearing, grammar: Sequence[str]) -> None:
            recorder._close(hearing)
            await original_expect(hearing, grammar)
            grammar_now = hearing._stream._grammar
            recorder._open[id(hearing)] = (list(grammar_now) if grammar_now else None, [])

        def on_audio(hearing: Hearing, pcm: bytes, at: float) -> None:
            if hearing.recognising and id(hearing) in recorder._open:
                recorder._open[id(hearing)][1].append(pcm)
            original_on_audio(hearing, pcm, at)

        def stop(hearing: Hearing) -> None:
            recorder._close(hearing)
            original_stop(hearing)

        Hearing.expect, Hearing.on_audio, Hearing.stop = (  # type: ignore[method-assign]
            expect, on_audio, stop)

    def _close(self, hearing: Hearing) -> None:
        grammar, packets = self._open.pop(id(hearing), (None, []))
        if packets:
            pcm = b"".join(packets)
            self._closed.append((grammar, [pcm[i:i + RECOGNISE_CHUNK_BYTES] for i in
                                           range(0, len(pcm), RECOGNISE_CHUNK_BYTES)]))

    def take(self) -> list[tuple[list[str] | None, list[bytes]]]:
        taken, self._closed = self._closed, []
        return taken


def raw_vosk_cpu(model: SpeechModel,
                 utterances: list[tuple[list[str] | None, list[bytes]]]) -> float:
    """Thread CPU of plain Vosk calls decoding these utterances: a recogniser each (with
    its grammar), the same chunks, then its final result."""
    import vosk

    start = time.thread_time()
    for grammar, chunks in utterances:
        if grammar:
            recogniser = vosk.KaldiRecognizer(model._model, SAMPLE_RATE,
                                              json.dumps(grammar, ensure_ascii=False))
        else:
            recogniser = vosk.KaldiRecognizer(model._model, SAMPLE_RATE)
        for chunk in chunks:
            recogniser.AcceptWaveform(chunk)
        recogniser.FinalResult()
    return time.thread_time() - start


async def run(levels: list[int]) -> None:
    settings = load_settings(write_lab_config(PROJECT_DIR / ".state"))
    lab = Lab(settings)
    started_here = lab.status().pbx is None
    if started_here:
        await asyncio.to_thread(lab.up)
    try:
        async with bench_database() as dsn:
            pool = await create_pool(dsn, min_size=1, max_size=4)
            async with pool.acquire() as conn:
                await migrate(conn)
            settings = load_settings(
                write_lab_config(PROJECT_DIR / ".state"), database={"url": dsn},
                http={"port": 0})
            settings.bot = BotSettings(**lab.bot_settings())
            settings.dial.max_concurrent_calls = max(levels)
            rows = await _run_levels(lab, settings, pool, levels)
            await pool.close()
    finally:
        if started_here:
            await asyncio.to_thread(lab.down)
    _print(rows)


async def _run_levels(lab: Lab, settings, pool, levels: list[int]) -> list[dict[str, float]]:
    daemon = Daemon(settings)
    task = asyncio.create_task(daemon.run(), name="daemon")
    async with asyncio.timeout(60):
        await daemon.ready.wait()
        await daemon.ari.connected.wait()
    bot = daemon._dialer.bot  # type: ignore[union-attr]
    assert bot is not None
    speech, stats = bot.services.speech, bot.services.stats
    carrier = lab.carrier
    fed, listened = FedAudio(), ListenedAudio()
    pbx_pid = lab.pbx.pid()
    assert pbx_pid is not None
    rows = []
    try:
        for n in levels:
            scenarios = [Scenario(f"86177{n:03d}{i:05d}", Network.ANSWER, ring_s=0.5, hold_s=None,
                                  script=(AwaitPrompt(), Say(ANSWERS[0], voice="ko"),
                                          AwaitPrompt(), Say(ANSWERS[1], voice="ko")))
                         for i in range(n)]
            carrier.apply(scenarios)
            before = (_own_cpu(), speech.cpu_seconds, speech.audio_seconds,
                      _process_cpu(pbx_pid), len(stats.turn_latencies), _children_cpu(),
                      stats.intake_cpu_seconds)
            loaded = await load_campaign(pool, settings, scenarios, name=f"bench-{n}",
                                         options={"script": "ko"})
            # Polled slowly: this process is the daemon being measured.
            attempts = await wait_all_final(pool, loaded.campaign_id, n, timeout=240, poll_s=1.0)
            promises = await pool.fetchval(
                "SELECT count(*) FROM call_outcomes o JOIN attempts a ON a.id = o.attempt_id"
                " WHERE a.campaign_id = $1 AND o.kind = 'promise'", loaded.campaign_id)
            own, vosk_cpu = _own_cpu() - before[0], speech.cpu_seconds - before[1]
            audio = speech.audio_seconds - before[2]
            latencies = list(stats.turn_latencies)[before[4]:]
            raw = await asyncio.to_thread(raw_vosk_cpu, speech, fed.take())
            heard = listened.take()
            heard_s = sum(len(c) for _, chunks in heard for c in chunks) / 2 / SAMPLE_RATE
            raw_heard = await asyncio.to_thread(raw_vosk_cpu, speech, heard)
            rows.append({
                "calls": n, "promises": promises, "turns": len(latencies),
                "p50": _percentile(latencies, 50), "p95": _percentile(latencies, 95),
                "daemon": (own - vosk_cpu) / n, "vosk": vosk_cpu / n,
                "pbx": (_process_cpu(pbx_pid) - before[3]) / n, "raw": raw / n,
                "audio": audio / n, "tts": (_children_cpu() - before[5]) / n,
                "heard": heard_s / n, "raw_heard": raw_heard / n,
                "intake": (stats.intake_cpu_seconds - before[6]) / n,
                "answered": sum(a.answered_at is not None for a in attempts.values()),
            })
    finally:
        daemon.request_stop()
        async with asyncio.timeout(60):
            await task
    return rows


def _print(rows: list[dict[str, float]]) -> None:
    print("turn latency: end of the caller's speech → reply playback started "
          "(includes the 0.8 s end-of-utterance silence)")
    print("CPU seconds per call. daemon = the whole process but Vosk (ARI, database, RTP,"
          " prompts); of it, intake = RTP parsing, reordering and endpointing.")
    print("raw vosk = plain Vosk calls in the same run, on the call's audio (all the bot"
          " listened to: 'heard s') and on the audio the daemon fed its recognisers"
          " (speech only: 'fed s').")
    print("daemon ratio = (daemon + vosk) / raw vosk on the call's audio (the goal);"
          " STT ratio = (intake + vosk) / raw vosk on the fed audio")
    print(f"{'calls':>5} {'promises':>8} {'turns':>5} {'p50 s':>6} {'p95 s':>6} "
          f"{'heard s':>7} {'fed s':>6} {'daemon':>7} {'intake':>7} {'tts':>5} {'vosk':>6} "
          f"{'asterisk':>8} {'raw heard':>9} {'raw fed':>7} {'STT ratio':>9} "
          f"{'daemon ratio':>12}")
    for r in rows:
        stt = (r["intake"] + r["vosk"]) / r["raw"] if r["raw"] else float("nan")
        whole = (r["daemon"] + r["vosk"]) / r["raw_heard"] if r["raw_heard"] else float("nan")
        print(f"{r['calls']:5d} {r['promises']:8d} {r['turns']:5d} {r['p50']:6.2f} "
              f"{r['p95']:6.2f} {r['heard']:7.1f} {r['audio']:6.1f} {r['daemon']:7.3f} "
              f"{r['intake']:7.3f} {r['tts']:5.3f} {r['vosk']:6.3f} {r['pbx']:8.3f} "
              f"{r['raw_heard']:9.3f} {r['raw']:7.3f} {stt:9.2f} {whole:12.2f}")
    ten = [r for r in rows if r["calls"] == 10]
    if ten:
        r = ten[0]
        print(f"at 10 calls: p95 {r['p95']:.2f} s (goal ≤ end silence 0.8 s + 0.3 s); "
              f"whole daemon {(r['daemon'] + r['vosk']) / r['raw_heard']:.2f}× raw Vosk on "
              f"the call's audio (goal ≤ {GOAL_RATIO}); STT path "
              f"{(r['intake'] + r['vosk']) / r['raw']:.2f}× raw Vosk on the fed audio")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="2,5,10,20")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",")]
    asyncio.run(run(levels))


if __name__ == "__main__":
    main()
