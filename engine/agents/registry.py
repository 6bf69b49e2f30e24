"""All agents' states, and the choice of the agent for the next answered call.

Pure, like `state`: the caller passes the time. Every method that changes an agent
returns the agents it changed, so the shell can publish them (desk, metrics, the
state log) — a change is visible as soon as the event that caused it was applied.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from engine.agents.state import (
    Agent,
    AgentEvent,
    AgentStateError,
    AgentStatus,
    apply,
    expire_wrap_up,
    reserve,
)


class AgentRegistry:
    def __init__(self, agent_ids: Iterable[str] = ()) -> None:
        self._agents: dict[str, Agent] = {}
        for agent_id in agent_ids:
            self.add(agent_id)

    def add(self, agent_id: str) -> Agent:
        """Known from now on (OFFLINE); an agent already known is kept as it is."""
        return self._agents.setdefault(agent_id, Agent(agent_id))

    def remove(self, agent_id: str) -> None:
        agent = self.get(agent_id)
        if agent.status in (AgentStatus.RESERVED, AgentStatus.ON_CALL):
            raise AgentStateError(
                f"agent {agent_id} is {agent.status.value}: remove after the call")
        del self._agents[agent_id]

    def get(self, agent_id: str) -> Agent:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise AgentStateError(f"no agent {agent_id!r}") from None

    def agents(self) -> list[Agent]:
        return sorted(self._agents.values(), key=lambda a: a.agent_id)

    def handle(self, agent_id: str, event: AgentEvent, now: float) -> list[Agent]:
        before = self.get(agent_id)
        after = apply(before, event, now)
        return self._store(before, after)

    def reserve_longest_idle(self, call_id: str, now: float) -> Agent | None:
        """Reserve the READY agent idle longest for this call; None when nobody is ready."""
        self._expire(now)
        ready = [a for a in self._agents.values() if a.status is AgentStatus.READY]
        if not ready:
            return None
        chosen = min(ready, key=lambda a: (a.idle_since if a.idle_since is not None else now,
                                           a.agent_id))
        reserved = reserve(chosen, call_id, now)
        self._agents[chosen.agent_id] = reserved
        return reserved

    def holding(self, call_id: str) -> Agent | None:
        """The agent reserved for, or on, this call."""
        for agent in self._agents.values():
            if agent.call_id == call_id:
                return agent
        return None

    def tick(self, now: float) -> list[Agent]:
        """Wrap-ups that are over: those agents are READY again."""
        return self._expire(now)

    def next_deadline(self) -> float | None:
        ends = [a.wrap_up_until for a in self._agents.values()
                if a.status is AgentStatus.WRAP_UP and a.wrap_up_until is not None]
        return min(ends) if ends else None

    def counts(self) -> Counter[AgentStatus]:
        return Counter(a.status for a in self._agents.values())

    def ready(self, now: float) -> int:
        self._expire(now)
        return self.counts()[AgentStatus.READY]

    def _expire(self, now: float) -> list[Agent]:
        changed = []
        for agent in list(self._agents.values()):
            changed.extend(self._store(agent, expire_wrap_up(agent, now)))
        return changed

    def _store(self, before: Agent, after: Agent) -> list[Agent]:
        if after == before:
            return []
        self._agents[after.agent_id] = after
        return [after]
