"""The pacing policy in the live dialer: the same objects the simulator runs
(`predictive/`), fed with live state and real call outcomes.

For campaigns without agents (the hold and voice-bot flows) the "agents" are call
slots: `dial.max_concurrent_calls` lines the daemon may hold at once (bounded by the
speech-recognition capacity and the trunk). A slot is busy from answer to hang-up.
Agent campaigns see the live agent registry instead (`AgentCounts`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.call.state import CallState, Phase
from predictive.model import CallOutcome, DialerState, Policy, Result
from predictive.policies import get_policy
from predictive.workload import Distribution, Workload

DEFAULT_POLICY = "progressive"


def live_workload(slots: int, settings: dict[str, Any]) -> Workload:
    """What a policy factory needs to know about a live campaign. The time
    distributions are starting guesses; policies that learn replace them with what
    they observe."""
    return Workload(
        name="live", agents=slots, hours=24, days=1,
        answer_steps=((0, float(settings.get("answer_probability_guess", 0.3))),),
        dial_seconds=Distribution("exponential", float(settings.get("ring_seconds_guess", 20))),
        talk_seconds=Distribution("exponential", float(settings.get("talk_seconds_guess", 90))),
        wrap_seconds=Distribution("constant", float(settings.get("wrap_seconds_guess", 0))),
        drop_seconds=float(settings.get("drop_seconds", 2.0)),
        abandon_cap=float(settings.get("abandon_cap", 0.03)),
        amd_false_positive=0.0, seed=0)


def policy_for(campaign_settings: dict[str, Any], slots: int) -> Policy:
    """The campaign's pacing policy by name (`{"pacing": "huilong"}`), progressive by
    default; an unknown name is a KeyError listing the known ones."""
    name = str(campaign_settings.get("pacing", DEFAULT_POLICY))
    return get_policy(name)(live_workload(slots, campaign_settings))


@dataclass(frozen=True, slots=True)
class AgentCounts:
    """The live agents as pacing sees them (in_call: reserved for or on a call;
    wrap_up_s: the wrap-up each connected call costs its agent after hang-up)."""

    logged_in: int
    ready: int
    in_call: int
    wrap_up: int
    wrap_up_s: float = 0.0


class LiveState:
    """Builds the policy's view of one campaign's calls, and its outcomes."""

    def __init__(self, slots: int, agents: Callable[[], AgentCounts] | None = None) -> None:
        self.slots = slots
        self._agents = agents
        self._started = time.monotonic()

    def snapshot(self, calls: list[CallState]) -> DialerState:
        talking = sum(1 for c in calls if c.phase in (Phase.ANSWERED, Phase.HANGING_UP)
                      and c.answered_at is not None)
        ringing = sum(1 for c in calls if c.phase in (Phase.INTENT, Phase.ORIGINATING,
                                                      Phase.RINGING))
        if self._agents is not None:
            agents = self._agents()
            return DialerState(
                now=time.monotonic() - self._started, agents_logged_in=agents.logged_in,
                agents_ready=agents.ready, agents_in_call=agents.in_call,
                agents_wrap_up=agents.wrap_up, calls_ringing=ringing,
                calls_waiting=max(0, talking - agents.in_call),
                calls_connected=min(talking, agents.in_call),
                hour_of_day=datetime.now(UTC).hour)
        return DialerState(
            now=time.monotonic() - self._started, agents_logged_in=self.slots,
            agents_ready=max(0, self.slots - talking), agents_in_call=talking,
            agents_wrap_up=0, calls_ringing=ringing, calls_waiting=0,
            calls_connected=talking, hour_of_day=datetime.now(UTC).hour)

    def outcome(self, call: CallState, flow_result: str | None = None) -> CallOutcome:
        start = call.originated_at
        end = call.ended_at or datetime.now(UTC)
        verdict = call.answered_at or end
        ring_s = (verdict - start).total_seconds() if start else 0.0
        answered = call.answered_at is not None
        wrap_s = self._agents().wrap_up_s if self._agents is not None else 0.0
        if answered and flow_result == "machine":
            return CallOutcome(at=time.monotonic() - self._started, result=Result.MACHINE,
                               ring_s=ring_s, hour_of_day=verdict.astimezone(UTC).hour)
        if answered and flow_result == "abandoned":
            return CallOutcome(at=time.monotonic() - self._started, result=Result.ABANDONED,
                               ring_s=ring_s, hour_of_day=verdict.astimezone(UTC).hour)
        return CallOutcome(
            at=time.monotonic() - self._started,
            result=Result.CONNECTED if answered else Result.NO_ANSWER, ring_s=ring_s,
            hour_of_day=verdict.astimezone(UTC).hour,
            talk_s=(end - call.answered_at).total_seconds() if call.answered_at else None,
            wrap_s=wrap_s if answered else None)
