"""The voice bot's side of an answered call: media set-up, the dialogue, tear-down.

Media: a snoop channel that hears only the debtor (`spy=in`) is bridged with an
ExternalMedia channel sending slin16 RTP to a UDP port of ours, so our own prompts never
reach the recogniser (no echo to cancel). Prompts play on the debtor's channel. A second
snoop (`spy=both`) is recorded through ARI as the call's evidence.

Two tasks per call, in the call's task group: the audio task (RTP → endpointing →
Vosk, timers for the silence that arrives as no packets at all) and the conversation
task (the pure `Dialogue`'s commands carried out). They talk through one queue of
signals; urgent ones (speech during a prompt) stop the prompt at once (barge-in).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ari_apps.amd import AmdVerdict, check_for_machine, is_machine
from ari_apps.bot.dialogue import CallFacts, Dialogue, HandOff, HangUp, Listen, Say
from ari_apps.bot.hearing import CallerSpeaking, Heard, Hearing, Silent
from ari_apps.bot.services import BotServices, BotStore, MediaControl
from ari_apps.signals import ChannelGone, ChannelReady, PlaybackFinished
from db.bot import DebtorFacts, OutcomeRecord
from stt.endpoint import (
    EndpointConfig,
    Endpointer,
)

log = logging.getLogger(__name__)

SETUP_TIMEOUT_S = 10.0
PROMPT_TIMEOUT_S = 60.0
LISTEN_GRACE_S = 5.0  # beyond the endpointer's own timers, before giving up on a turn
FOLLOW_UP_HOUR = 18  # a promise is checked the evening of its date, debtor's time


# -- signals from the audio task and the event reader to the conversation ------------


_Signal = (Heard | Silent | CallerSpeaking | PlaybackFinished | AmdVerdict | ChannelReady
           | ChannelGone)


class BotCall:
    def __init__(self, services: BotServices, media: Callable[[], MediaControl | None],
                 attempt_id: uuid.UUID, facts: DebtorFacts, script_name: str) -> None:
        self._services = services
        self._media = media
        self.attempt_id = attempt_id
        self.channel_id = str(attempt_id)
        self._facts = facts
        self._script_name = script_name
        self._signals: asyncio.Queue[_Signal] = asyncio.Queue()
        config = services.config
        self._hearing = Hearing(
            Endpointer(EndpointConfig(end_silence_s=config.end_silence_s,
                                      no_input_s=config.no_input_s)),
            services.speech.stream(), services.speech, self._signals.put_nowait,
            lambda: self._playing is not None and self._barge_in)
        self._playing: str | None = None
        self._barge_in = False
        self._seq = 0
        self._playbacks = 0
        self._machine = False
        self._speech_ended_at: float | None = None  # the answer a reply is owed to
        self.dialogue: Dialogue | None = None
        self.can_hand_off = False  # an agent flow can take the live call after the bot
        self.handed_off = False

    # -- called by the event reader: never awaits ------------------------------------

    def deliver(self, signal: PlaybackFinished | AmdVerdict | ChannelReady | ChannelGone) -> None:
        self._signals.put_nowait(signal)

    # -- the call --------------------------------------------------------------------

    def _store(self) -> BotStore:
        store = self._services.store
        if store is None:
            raise RuntimeError("the bot has no database yet")
        return store

    def _ari(self) -> MediaControl:
        ari = self._media()
        if ari is None:
            raise ConnectionError("ARI is not connected")
        return ari

    async def run(self) -> None:
        """Until the dialogue ends (the bot hangs up) or the task is cancelled (the caller
        hung up). Tear-down and the outcome are written either way."""
        services = self._services
        script = services.scripts[self._script_name]
        zone = ZoneInfo(self._facts.timezone)
        local_now = datetime.now(zone)
        self.dialogue = Dialogue(script, CallFacts(
            name=self._facts.name, amount_due=self._facts.amount_due,
            currency=self._facts.currency, due_date=self._facts.due_date,
            days_overdue=self._facts.overdue_days,
            payment_channels=services.config.payment_channels,
            today=local_now.date(), now=local_now))
        port = services.ports.acquire()
        base = self.channel_id
        snoop_id, em_id, rec_id, bridge_id = (f"{base}-in", f"{base}-em", f"{base}-rec",
                                              f"{base}-br")
        intake = None
        try:
            intake = services.media_clock.open(
                services.config.rtp_host, port, self._hearing.on_audio, label=f"call {base}")
            ari = self._ari()
            if services.config.amd and await self._answered_by_machine(ari):
                self._machine = True
                with contextlib.suppress(Exception):
                    await ari.hangup(base)
                return
            async with asyncio.timeout(SETUP_TIMEOUT_S):
                await ari.create_bridge(bridge_id)
                await ari.snoop(base, snoop_id, services.config.app, "in")
                await ari.external_media(em_id, services.config.app,
                                         f"{services.config.rtp_host}:{port}", "slin16")
                await ari.snoop(base, rec_id, services.config.app, "both")
                await self._until_in_stasis({snoop_id, em_id, rec_id})
                await ari.add_to_bridge(bridge_id, [snoop_id, em_id])
                await ari.record(rec_id, base, services.config.max_call_s)
            await self._store().set_recording(
                self.attempt_id, f"{services.config.recordings_view}/{base}.wav")
            async with asyncio.TaskGroup() as tasks:
                audio = tasks.create_task(self._hearing.run(), name=f"bot-audio-{base}")
                await self._converse(self.dialogue)
                audio.cancel()
        finally:
            if intake is not None:
                services.media_clock.close(intake)
                services.stats.intake_cpu_seconds += intake.cpu_seconds
                log.info("call %s: %d RTP packets in, %d dropped as malformed", base,
                         intake.packets, intake.garbage)
            await asyncio.shield(self._tear_down(port, [snoop_id, em_id, rec_id], bridge_id))
            await asyncio.shield(self._save_outcome(zone))

    async def _until_in_stasis(self, channel_ids: set[str]) -> None:
        waiting = set(channel_ids)
        while waiting:
            signal = await self._signals.get()
            if isinstance(signal, ChannelReady):
                waiting.discard(signal.channel_id)

    async def _answered_by_machine(self, ari: MediaControl) -> bool:
        verdict = await check_for_machine(ari, self._services.config.app, self.channel_id,
                                          self._next_verdict)
        return verdict is not None and is_machine(verdict)

    async def _next_verdict(self) -> AmdVerdict:
        while True:
            signal = await self._signals.get()
            if isinstance(signal, AmdVerdict):
                return signal

    async def _tear_down(self, port: int, channel_ids: list[str], bridge_id: str) -> None:
        ari = self._media()
        if ari is not None:
            for channel_id in channel_ids:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(5):
                        await ari.hangup(channel_id)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await ari.destroy_bridge(bridge_id)
        self._services.ports.release(port)

    async def _save_outcome(self, zone: ZoneInfo) -> None:
        if self._machine:
            await self._store_outcome(OutcomeRecord(
                kind="machine", identity=None, promise_amount=None, promise_date=None,
                callback_at=None, follow_up_at=None))
            return
        if self.dialogue is None:
            return
        if not self.dialogue.finished:
            self.dialogue.caller_hung_up()
        outcome = self.dialogue.outcome
        follow_up = None
        if outcome.promise_date is not None:
            follow_up = _evening_of(outcome.promise_date, zone)
        await self._store_outcome(OutcomeRecord(
            kind=outcome.kind, identity=outcome.identity, promise_amount=outcome.promise_amount,
            promise_date=outcome.promise_date, callback_at=outcome.callback_at,
            follow_up_at=follow_up))

    async def _store_outcome(self, record: OutcomeRecord) -> None:
        try:
            await self._store().record_outcome(self.attempt_id, self._facts, self._script_name,
                                               record)
        except Exception:
            log.exception("call %s: could not store the bot's outcome", self.channel_id)
        log.info("call %s: bot outcome %s", self.channel_id, record.kind)

    # -- conversation ------------------------------------------------------------------

    async def _converse(self, dialogue: Dialogue) -> None:
        commands = dialogue.start()
        while commands:
            next_commands: list[object] = []
            for index, command in enumerate(commands):
                match command:
                    case Say():
                        upcoming = commands[index + 1] if index + 1 < len(commands) else None
                        await self._say(command, upcoming)
                    case Listen():
                        next_commands = await self._listen(dialogue, command)
                    case HandOff(reason=reason) if self.can_hand_off:
                        # The call stays up: once the bot's media is torn down, the
                        # caller of run() bridges it to an agent.
                        log.info("call %s: bot hands the call to an agent (%s)",
                                 self.channel_id, reason)
                        self.handed_off = True
                        return
                    case HangUp(reason=reason) | HandOff(reason=reason):
                        log.info("call %s: bot ends the call (%s)", self.channel_id, reason)
                        with contextlib.suppress(Exception):
                            await self._ari().hangup(self.channel_id)
                        return
            commands = next_commands  # type: ignore[assignment]

    async def _say(self, say: Say, upcoming: object) -> None:
        ari = self._ari()
        language = self._services.scripts[self._script_name].language
        media = await self._services.prompts.media_for(say.text, language)
        await self._record_turn(say.node, prompt=say.text)
        if isinstance(upcoming, Listen) and say.barge_in:
            # Recognise during the prompt with the next node's grammar: a caller who
            # answers early is heard, and their speech stops the prompt.
            await self._hearing.expect(upcoming.grammar)
        self._playbacks += 1
        playback_id = f"{self.channel_id}-pb{self._playbacks}"
        self._barge_in = say.barge_in and isinstance(upcoming, Listen)
        self._playing = playback_id
        try:
            await ari.play(self.channel_id, playback_id, media)
            if self._speech_ended_at is not None:
                latency = asyncio.get_running_loop().time() - self._speech_ended_at
                self._services.stats.turn_latencies.append(latency)
                self._speech_ended_at = None
            async with asyncio.timeout(PROMPT_TIMEOUT_S):
                while True:
                    signal = await self._signals.get()
                    if isinstance(signal, PlaybackFinished) and signal.playback_id == playback_id:
                        return
                    if isinstance(signal, CallerSpeaking) and self._barge_in:
                        log.info("call %s: caller spoke during the prompt; stopping it",
                                 self.channel_id)
                        with contextlib.suppress(Exception):
                            await ari.stop_playback(playback_id)
                        await self._record_turn(say.node, intent="barge_in")
                        return
                    if isinstance(signal, Heard):
                        # A whole answer during the prompt: keep it for the listen.
                        self._signals.put_nowait(signal)
                        with contextlib.suppress(Exception):
                            await ari.stop_playback(playback_id)
                        return
        finally:
            self._playing = None

    async def _listen(self, dialogue: Dialogue, listen: Listen) -> list[object]:
        if not self._hearing.recognising:
            await self._hearing.expect(listen.grammar)
        self._hearing.listen(listen.no_input_s, asyncio.get_running_loop().time())
        try:
            async with asyncio.timeout(listen.no_input_s + 20 + LISTEN_GRACE_S):
                while True:
                    signal = await self._signals.get()
                    if isinstance(signal, Heard):
                        self._speech_ended_at = signal.speech_ended_at
                        log.debug("call %s: heard %d words at %s", self.channel_id,
                                  len(signal.text.split()), listen.node)
                        commands = dialogue.heard(signal.text)
                        turn = dialogue.outcome.turns[-1] if dialogue.outcome.turns else None
                        await self._record_turn(listen.node, heard=signal.text,
                                                intent=turn.intent if turn else None)
                        return list(commands)
                    if isinstance(signal, Silent):
                        await self._record_turn(listen.node, heard=None, intent="no_input")
                        return list(dialogue.no_input())
        except TimeoutError:
            return list(dialogue.no_input())
        finally:
            self._hearing.stop()

    async def _record_turn(self, node: str, prompt: str | None = None, heard: str | None = None,
                           intent: str | None = None) -> None:
        self._seq += 1
        try:
            await self._store().record_turn(self.attempt_id, self._seq, node, prompt,
                                                   heard, intent, datetime.now().astimezone())
        except Exception:
            log.exception("call %s: could not store turn %d", self.channel_id, self._seq)


def _evening_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), zone) + timedelta(hours=FOLLOW_UP_HOUR)
