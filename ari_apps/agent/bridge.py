"""An answered call bridged to an agent — or, when none is free in time, abandoned
properly.

On answer the debtor's channel joins a mixing bridge at once, and the longest-idle
ready agent is reserved. If nobody is ready, the call waits up to the drop time
(2 s by default) for one; then it is abandoned: the safe-harbour message (the
institution and a number to call back) plays at once and the call ends. A reserved
agent's phone is called (`PJSIP/<agent id>`, into Stasis: its StasisStart means the
agent answered) and joins the bridge; the time from the debtor's answer to that moment
is the answer → agent latency. An agent who does not pick up is paused ("no answer")
and the next ready agent is tried. After the bridge is up, both legs' RTP counters are
read until both have carried audio both ways, as evidence that the two heard each
other. Whoever hangs up first ends the
call for both; the agent goes to wrap-up.

Talks to Asterisk and the agent registry only through the Protocols below.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ari_apps.amd import AmdVerdict, check_for_machine, is_machine
from ari_apps.signals import ChannelGone, ChannelReady, PlaybackFinished

log = logging.getLogger(__name__)

MEDIA_CHECK_AFTER_S = 1.5  # bridged this long: both legs must have carried RTP
ABANDON_MESSAGE_TIMEOUT_S = 30.0


class AgentMedia(Protocol):
    async def create_bridge(self, bridge_id: str) -> None: ...
    async def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None: ...
    async def destroy_bridge(self, bridge_id: str) -> None: ...
    async def play(self, channel_id: str, playback_id: str, media: str) -> None: ...
    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...
    async def call_agent(self, channel_id: str, endpoint: str, app: str, timeout_s: int,
                         caller_id: str) -> None: ...
    async def rtp_counts(self, channel_id: str) -> tuple[int, int] | None:
        """(packets received, packets sent) on the channel's RTP, None if unknown."""
        ...
    async def record_bridge(self, bridge_id: str, name: str, max_s: int) -> None: ...
    async def subscribe_channel(self, app: str, channel_id: str) -> None: ...
    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str,
                                   priority: int) -> None: ...


class AgentDesk(Protocol):
    """The agent registry, as a call sees it."""

    def reserve(self, call_id: str) -> str | None: ...
    async def wait_for_ready(self, timeout_s: float) -> bool: ...
    def connected(self, agent_id: str, call_id: str) -> None: ...
    def offer_failed(self, agent_id: str, call_id: str, agent_missed: bool) -> None: ...
    def call_ended(self, agent_id: str, call_id: str) -> None: ...


class CallLog(Protocol):
    """The attempt's event log."""

    async def record(self, kind: str, detail: dict[str, Any]) -> None: ...
    async def abandoned(self, detail: dict[str, Any]) -> None:
        """The call was abandoned: the attempt is flagged (redial rules, abandon rate)."""
        ...
    async def machine(self, detail: dict[str, Any]) -> None:
        """An answering machine answered: the attempt is flagged (retry rules)."""
        ...
    async def recording(self, name: str) -> None:
        """The conversation with the agent is being recorded as `name` (.wav)."""
        ...


@dataclass(frozen=True, slots=True)
class AgentCallConfig:
    app: str
    caller_id: str
    drop_s: float = 2.0
    agent_ring_s: int = 10
    handoff: bool = False
    """A call the voice bot hands over: the caller was told to hold, so it waits longer
    (`drop_s` is the hand-off wait) and, unserved, is not a predictive abandon."""
    record_max_s: int = 0
    """Record the bridged conversation (debtor and agent mixed) for at most this long;
    0: not recorded."""
    amd: bool = False
    """Run the answering-machine check before an agent is sought: a machine is hung up
    (never offered to an agent); for a person the drop time counts from the verdict."""


Signal = ChannelReady | ChannelGone | PlaybackFinished | AmdVerdict


class AgentCall:
    def __init__(self, call_id: str, config: AgentCallConfig, media: AgentMedia,
                 desk: AgentDesk, call_log: CallLog,
                 abandon_media: Callable[[], Awaitable[str]]) -> None:
        self.call_id = call_id
        self._config = config
        self._media = media
        self._desk = desk
        self._log = call_log
        self._abandon_media = abandon_media
        self._signals: asyncio.Queue[Signal] = asyncio.Queue()
        self._offers = 0
        self._ringing: tuple[str, str] | None = None  # (agent, leg) being offered the call
        self.agent_id: str | None = None  # the agent bridged with the debtor
        self._on_call = False  # the registry has the agent on this call
        self.latency_s: float | None = None
        self.abandoned = False  # a person found no agent within the drop time
        self.unserved = False  # a hand-off found no agent within its wait
        self.machine = False  # the answering-machine check heard a machine

    def deliver(self, signal: object) -> None:
        """Called by the event reader: never awaits."""
        if isinstance(signal, ChannelReady | ChannelGone | PlaybackFinished | AmdVerdict):
            self._signals.put_nowait(signal)

    async def run(self) -> None:
        """Until the call ends: cancelled when the debtor hangs up, returns when the
        agent does (after hanging up the debtor) or after an abandon."""
        loop = asyncio.get_running_loop()
        if self._config.amd and await self._answered_by_machine():
            return
        answered_at = loop.time()  # (a person's verdict, after the machine check)
        bridge = f"{self.call_id}-ab"  # not "-br": the bot's bridge may be going away
        leg: str | None = None
        try:
            await self._media.create_bridge(bridge)
            await self._media.add_to_bridge(bridge, [self.call_id])
            leg = await self._find_agent(answered_at + self._config.drop_s)
            if leg is None:
                await self._abandon(loop.time() - answered_at)
                return
            assert self.agent_id is not None
            await self._media.add_to_bridge(bridge, [leg])
            self.latency_s = loop.time() - answered_at
            log.info("call %s: agent %s bridged %.0f ms after the answer", self.call_id,
                     self.agent_id, self.latency_s * 1000)
            await self._log.record("agent_connected", {
                "agent": self.agent_id, "latency_ms": round(self.latency_s * 1000)})
            # Only now "on call": the desk's screen pop reads the event just written.
            self._desk.connected(self.agent_id, self.call_id)
            self._on_call = True
            if self._config.record_max_s:
                await self._record(bridge)
            await self._check_media_until_gone(leg)
            await self._hang_up_debtor()
        finally:
            await asyncio.shield(self._tear_down(bridge, leg))

    async def _record(self, bridge: str) -> None:
        """A failed recording is logged, not a reason to drop the person's call."""
        name = f"{self.call_id}-agent"
        try:
            await self._media.record_bridge(bridge, name, self._config.record_max_s)
        except Exception as exc:
            log.warning("call %s: the agent conversation is not recorded: %s", self.call_id,
                        exc)
            return
        await self._log.recording(name)

    async def _answered_by_machine(self) -> bool:
        started = asyncio.get_running_loop().time()
        verdict = await check_for_machine(self._media, self._config.app, self.call_id,
                                          self._next_verdict)
        detail = {"status": verdict.status if verdict else "TIMEOUT",
                  "cause": verdict.cause if verdict else "",
                  "ms": round((asyncio.get_running_loop().time() - started) * 1000)}
        if verdict is None or not is_machine(verdict):
            await self._log.record("amd_person", detail)
            return False
        self.machine = True
        await self._log.machine(detail)
        with contextlib.suppress(Exception):
            await self._media.hangup(self.call_id)
        return True

    async def _next_verdict(self) -> AmdVerdict:
        while True:
            signal = await self._signals.get()
            if isinstance(signal, AmdVerdict):
                return signal

    async def _find_agent(self, drop_at: float) -> str | None:
        """Reserve and ring agents until one answers; None when none is free by
        `drop_at` (or after a missed offer, none is ready at once)."""
        loop = asyncio.get_running_loop()
        while True:
            agent_id = self._desk.reserve(self.call_id)
            if agent_id is None:
                remaining = drop_at - loop.time()
                if remaining <= 0 or not await self._desk.wait_for_ready(remaining):
                    return None
                continue
            self._offers += 1
            leg = f"{self.call_id}-agent{self._offers}"
            self._ringing = (agent_id, leg)
            answered = await self._ring(agent_id, leg)
            self._ringing = None
            if answered:
                self.agent_id = agent_id
                return leg
            # Whoever else is ready gets the call now; past the drop time it is not
            # worth waiting for one more.
            drop_at = min(drop_at, loop.time())

    async def _ring(self, agent_id: str, leg: str) -> bool:
        try:
            await self._media.call_agent(leg, f"PJSIP/{agent_id}", self._config.app,
                                         self._config.agent_ring_s, self._config.caller_id)
        except Exception as exc:
            log.warning("call %s: could not call agent %s: %s", self.call_id, agent_id, exc)
            self._desk.offer_failed(agent_id, self.call_id, agent_missed=False)
            return False
        try:
            async with asyncio.timeout(self._config.agent_ring_s + 5):
                while True:
                    signal = await self._signals.get()
                    if isinstance(signal, ChannelReady) and signal.channel_id == leg:
                        return True
                    if isinstance(signal, ChannelGone) and signal.channel_id == leg:
                        break
        except TimeoutError:
            with contextlib.suppress(Exception):
                await self._media.hangup(leg)
        log.info("call %s: agent %s did not answer", self.call_id, agent_id)
        await self._log.record("agent_missed", {"agent": agent_id})
        self._desk.offer_failed(agent_id, self.call_id, agent_missed=True)
        return False

    async def _abandon(self, waited_s: float) -> None:
        """No agent in time: the message at once, then the end of the call."""
        log.info("call %s: no agent free after %.1f s; abandoned with the message",
                 self.call_id, waited_s)
        playback = f"{self.call_id}-abandon"
        played = False
        try:
            await self._media.play(self.call_id, playback, await self._abandon_media())
            async with asyncio.timeout(ABANDON_MESSAGE_TIMEOUT_S):
                while True:
                    signal = await self._signals.get()
                    if isinstance(signal, PlaybackFinished) and signal.playback_id == playback:
                        played = True
                        break
        except TimeoutError:
            log.warning("call %s: the abandon message did not finish", self.call_id)
        detail = {"waited_ms": round(waited_s * 1000), "message_played": played}
        if self._config.handoff:
            self.unserved = True
            await self._log.record("handoff_unserved", detail)
        else:
            self.abandoned = True
            await self._log.abandoned(detail)
        await self._hang_up_debtor()

    async def _until_gone(self, leg: str, timeout_s: float | None) -> bool:
        """True when the agent's leg ended within `timeout_s` (None: wait for ever)."""
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    signal = await self._signals.get()
                    if isinstance(signal, ChannelGone) and signal.channel_id == leg:
                        return True
        except TimeoutError:
            return False

    async def _check_media_until_gone(self, leg: str) -> None:
        """Until the agent's leg ends: read both legs' RTP counters every
        MEDIA_CHECK_AFTER_S until each has carried audio both ways (a mixing bridge sends
        nothing while nobody speaks, so an early reading can be all zero), and record
        the last reading — the evidence that the agent and the debtor heard each other."""
        detail: dict[str, int | None] | None = None
        while not await self._until_gone(leg, MEDIA_CHECK_AFTER_S):
            agent = await self._media.rtp_counts(leg)
            debtor = await self._media.rtp_counts(self.call_id)
            detail = {"agent_rx": agent[0] if agent else None,
                      "agent_tx": agent[1] if agent else None,
                      "debtor_rx": debtor[0] if debtor else None,
                      "debtor_tx": debtor[1] if debtor else None}
            if all(detail.values()):
                break
        else:
            if detail is not None:
                await self._log.record("media_check", detail)
            return
        await self._log.record("media_check", detail)
        await self._until_gone(leg, None)

    async def _hang_up_debtor(self) -> None:
        with contextlib.suppress(Exception):
            await self._media.hangup(self.call_id)

    async def _tear_down(self, bridge: str, leg: str | None) -> None:
        if self._ringing is not None:  # the debtor hung up while an agent's phone rang
            agent_id, leg = self._ringing
            self._desk.offer_failed(agent_id, self.call_id, agent_missed=False)
        if leg is not None:
            with contextlib.suppress(Exception):
                await self._media.hangup(leg)
        with contextlib.suppress(Exception):
            await self._media.destroy_bridge(bridge)
        if self._on_call:
            assert self.agent_id is not None
            self._desk.call_ended(self.agent_id, self.call_id)
        elif self.agent_id is not None:  # answered, but the call ended before the bridge
            self._desk.offer_failed(self.agent_id, self.call_id, agent_missed=False)
