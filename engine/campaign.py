"""The campaign runner: lease the next debtors of a campaign, ask the compliance gate
which number (if any) may be called now, dial, and keep at most `concurrency` calls up.

Leases make several daemons sharing a database safe: a debtor is leased to one worker,
and a lease that expires without an attempt (its daemon died) returns to the pool.
A denied debtor goes back with the time the gate says it becomes allowed (or is
blocked for good), and the decision is kept on its target for `huilong explain`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from db.targets import Target, TargetRepository
from engine.dialer import Dialer, DialRequest
from engine.pacing import AgentCounts, LiveState
from engine.session import CallRegistry, CallSession
from predictive.best_time import CallPlan
from predictive.model import Policy
from predictive.policies.basic import Progressive

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Eligibility:
    """The gate's answer for one debtor now: the number to dial, or when to come back."""

    phone_id: int | None
    until: datetime | None = None
    decision: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.phone_id is not None


CheckEligibility = Callable[[Target], Awaitable[Eligibility]]
# Best time to call (engine/best_time_planner.py): debtor id → dial now or a better hour.
PlanCall = Callable[[int], Awaitable[CallPlan]]
MAX_LINES_PER_SLOT = 3


class CampaignRunner:
    """Each tick the pacing policy (the same object the simulator runs) says how many
    calls to place from the live state; finished calls are reported back to it."""

    def __init__(self, campaign_id: int, dialer: Dialer, targets: TargetRepository,
                 registry: CallRegistry, slots: int, may_dial: Callable[[], bool],
                 check: CheckEligibility, worker: str, policy: Policy | None = None,
                 lease_s: float = 120.0, script: str | None = None,
                 agents: Callable[[], AgentCounts] | None = None, amd: bool = False,
                 plan: PlanCall | None = None) -> None:
        self.campaign_id = campaign_id
        self._dialer = dialer
        self._targets = targets
        self._registry = registry
        self._slots = slots
        self._may_dial = may_dial
        self._check = check
        self._worker = worker
        self._lease_s = lease_s
        self._script = script
        self.policy: Policy = policy if policy is not None else Progressive()
        self._live = LiveState(slots, agents)
        self._to_agents = agents is not None
        self._amd = amd
        self._mine: dict[str, CallSession] = {}
        self.plan = plan
        self._spare = 0  # other ready debtors that could take a line this tick

    async def run(self) -> None:
        """Return when every target is done or blocked, or when dialling stops."""
        while True:
            await self._targets.settle()
            self._report_finished()
            wanted = self.policy.dials(self._live.snapshot(
                [s.state for s in self._mine.values()]))
            # Never more lines than the slots allow, whatever a policy asks for.
            wanted = min(wanted, MAX_LINES_PER_SLOT * self._slots - len(self._mine))
            if self._may_dial() and wanted > 0:
                ready = (await self._targets.ready_count(self.campaign_id)
                         if self.plan is not None else 0)
                leased = await self._targets.lease(self.campaign_id, wanted, self._worker,
                                                   self._lease_s)
                self._spare = ready - len(leased)
                for target in leased:
                    await self._consider(target)
            progress = await self._targets.progress(self.campaign_id)
            if progress.pending == 0 and progress.dialling == 0:
                return
            if not self._may_dial() and not self._mine:
                return
            await self._dialer.wait_for_a_call_to_end(timeout=self.policy.tick_s)

    def _report_finished(self) -> None:
        for call_id, session in list(self._mine.items()):
            if session.finished.is_set():
                del self._mine[call_id]
                self.policy.observe(self._live.outcome(session.state, session.flow_result))

    async def _consider(self, target: Target) -> None:
        try:
            eligibility = await self._check(target)
        except Exception:
            await self._targets.release(target.id)
            raise
        if not eligibility.allowed:
            await self._targets.defer(target.id, eligibility.until, eligibility.decision)
            return
        phone_id = eligibility.phone_id
        assert phone_id is not None
        if self.plan is not None and self._spare > 0 and target.reason != "callback":
            # Soft: wait for the debtor's better hour only while someone else can take
            # the line now, so the lines never idle for it. A callback is at the time the
            # debtor asked for: never moved.
            plan = await self.plan(target.debtor_id)
            if not plan.dial_now:
                self._spare -= 1
                await self._targets.defer(target.id, plan.until, {
                    **eligibility.decision, "best_time": plan.as_record()})
                return

        async def link(attempt_id: uuid.UUID) -> None:
            await self._targets.link_attempt(target.id, attempt_id, phone_id,
                                             eligibility.decision)
            # The gate's decision and its inputs stay with the attempt, as evidence.
            await self._dialer.record(attempt_id, "compliance", eligibility.decision)

        try:
            session = await self._dialer.dial(
                DialRequest(target.debtor_id, phone_id, target.campaign_id, self._script,
                            agents=self._to_agents, amd=self._amd),
                prepare=link)
        except Exception:
            await self._targets.release(target.id)
            raise
        self._mine[session.id] = session


async def always_first_number(target: Target) -> Eligibility:
    """No gate: dial the target's number (tests of the telephony alone)."""
    return Eligibility(phone_id=target.phone_id, decision={"allowed": True, "gate": "none"})
