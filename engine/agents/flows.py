"""The flow an agent campaign's answered calls run: `ari_apps.agent.bridge.AgentCall`
wired to the live ARI connection, the agent registry and the attempt's log."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ari_apps.agent.bridge import AgentCall, AgentCallConfig
from db.attempts import AttemptRepository
from engine import metrics
from engine.agents.service import AgentService
from engine.session import CallSession, Flow
from engine.settings import AgentSettings


class AgentCampaignError(ValueError):
    """An agent campaign that must not start (the message says what is missing)."""


class _LiveMedia:
    """ARI calls through whatever connection is up at the moment of each call."""

    def __init__(self, rest: Callable[[], Any]) -> None:
        self._rest = rest

    def __getattr__(self, name: str) -> Any:
        rest = self._rest()
        if rest is None:
            raise ConnectionError("ARI is not connected")
        return getattr(rest, name)


class _AttemptLog:
    def __init__(self, attempts: AttemptRepository, attempt_id: uuid.UUID,
                 recordings_view: str) -> None:
        self._attempts = attempts
        self._attempt_id = attempt_id
        self._recordings_view = recordings_view

    async def record(self, kind: str, detail: dict[str, Any]) -> None:
        await self._attempts.append_event(self._attempt_id, kind, datetime.now(UTC), detail)

    async def abandoned(self, detail: dict[str, Any]) -> None:
        await self._attempts.mark_abandoned(self._attempt_id, datetime.now(UTC), detail)

    async def machine(self, detail: dict[str, Any]) -> None:
        await self._attempts.mark_machine(self._attempt_id, datetime.now(UTC), detail)

    async def recording(self, name: str) -> None:
        await self._attempts.add_recording(self._attempt_id,
                                           f"{self._recordings_view}/{name}.wav", "agent",
                                           datetime.now(UTC))


class AgentFlows:
    def __init__(self, agents: AgentService, settings: AgentSettings, app: str, caller_id: str,
                 rest: Callable[[], Any], attempts: AttemptRepository,
                 synthesise: Callable[[str, str], Awaitable[str]] | None,
                 recordings_view: str = "", record_max_s: int = 0) -> None:
        self.agents = agents
        self._settings = settings
        record_s = record_max_s if settings.record else 0
        self._config = AgentCallConfig(app=app, caller_id=caller_id, drop_s=settings.drop_s,
                                       agent_ring_s=settings.agent_ring_s,
                                       record_max_s=record_s)
        self._amd_config = replace(self._config, amd=True)
        self._handoff_config = replace(self._config, drop_s=settings.handoff_wait_s,
                                       handoff=True)
        self._recordings_view = recordings_view
        self._media = _LiveMedia(rest)
        self._attempts = attempts
        self._synthesise = synthesise
        self.latencies: list[float] = []  # answer → agent bridged, seconds, per call

    def check_ready(self) -> None:
        """Refuse to start an agent campaign that could not abandon lawfully."""
        s = self._settings
        if not s.institution.strip() or not s.callback_number.strip():
            raise AgentCampaignError(
                "agents.institution and agents.callback_number must be set: an abandoned "
                "call's message names both")
        if self._synthesise is None:
            raise AgentCampaignError("the abandon message needs the prompt synthesis of the "
                                     "voice bot ([bot] enabled)")

    async def _abandon_media(self) -> str:
        assert self._synthesise is not None
        s = self._settings
        text = s.abandon_message.format(institution=s.institution,
                                        callback_number=s.callback_number)
        return await self._synthesise(text, s.abandon_language)

    def flow(self, handoff: bool = False, amd: bool = False) -> Flow:
        """Hand-offs come from the bot, which has run the machine check already."""
        config = self._handoff_config if handoff else (self._amd_config if amd
                                                       else self._config)

        async def flow(session: CallSession) -> None:
            agent_call = AgentCall(session.id, config, self._media, self.agents,
                                   _AttemptLog(self._attempts, uuid.UUID(session.id),
                                               self._recordings_view),
                                   self._abandon_media)
            session.media_listener = agent_call.deliver
            try:
                await agent_call.run()
            finally:
                if agent_call.latency_s is not None:
                    self.latencies.append(agent_call.latency_s)
                    metrics.AGENT_LATENCY.observe(agent_call.latency_s)
                if agent_call.abandoned:
                    session.flow_result = "abandoned"
                elif agent_call.machine:
                    session.flow_result = "machine"
                metrics.AGENT_CALLS.labels(_result(agent_call)).inc()

        return flow


def _result(call: AgentCall) -> str:
    if call.latency_s is not None:
        return "bridged"
    if call.abandoned:
        return "abandoned"
    if call.machine:
        return "machine"
    return "handoff_unserved" if call.unserved else "ended_before_agent"
