"""The pacing policy in the live dialer is the simulator's policy object."""

from __future__ import annotations

from dataclasses import dataclass, field

from db.campaigns import CampaignRepository
from engine.lab.carrier import Network, Scenario
from engine.pacing import live_workload
from predictive.model import CallOutcome, DialerState, Policy, Result
from predictive.policies import get_policy
from predictive.simulator import simulate
from predictive.workload import load_workload
from tests.integration.labkit import (
    PROJECT_DIR,
    load_campaign,
    running_daemon,
    wait_all_final,
    wait_until,
)


@dataclass
class Recording:
    """A registry policy, with every call to it written down (it still decides)."""

    inner: Policy
    states: list[DialerState] = field(default_factory=list)
    outcomes: list[CallOutcome] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def tick_s(self) -> float:
        return self.inner.tick_s

    def dials(self, state: DialerState) -> int:
        self.states.append(state)
        return self.inner.dials(state)

    def observe(self, outcome: CallOutcome) -> None:
        self.outcomes.append(outcome)
        self.inner.observe(outcome)


async def test_live_runner_and_simulator_call_the_same_policy_object(lab, settings, pool):
    """Steps: take the `fixed_ratio` policy from the registry the simulator uses, have
    the daemon's campaign runner use that very object for a campaign of four debtors
    (two answer, two busy, two call slots), then run the same object in the simulator.
    Expected: live, it was asked with live states (2 slots, never more ringing than it
    allowed) and told every outcome (2 connected with talk time, 2 not answered); the
    simulator then drives the same object further."""
    scenarios = [Scenario("8613900000601", Network.ANSWER, ring_s=0.5, hold_s=1),
                 Scenario("8613900000602", Network.BUSY, ring_s=0.5),
                 Scenario("8613900000603", Network.ANSWER, ring_s=0.5, hold_s=1),
                 Scenario("8613900000604", Network.BUSY, ring_s=0.5)]
    lab.carrier.apply(scenarios)
    loaded = await load_campaign(pool, settings, scenarios, name="pacing", start=False)
    settings.dial.max_concurrent_calls = 2
    policy = Recording(get_policy("fixed_ratio")(live_workload(2, {})))
    async with running_daemon(settings) as daemon:
        daemon.policy_for = lambda campaign_settings, slots: policy
        await CampaignRepository(pool).set_status(loaded.campaign_id, "running")
        await wait_all_final(pool, loaded.campaign_id, 4)

        # The runner tells the policy on its next round after a call ends.
        async def all_told() -> bool:
            return len(policy.outcomes) >= 4

        await wait_until(all_told, timeout=10, what="the policy told of 4 outcomes")
    assert policy.states and {s.agents_logged_in for s in policy.states} == {2}
    assert max(s.calls_ringing + s.calls_connected for s in policy.states) <= 3  # ratio 1.5
    results = sorted(o.result for o in policy.outcomes)
    assert results == sorted([Result.CONNECTED, Result.CONNECTED, Result.NO_ANSWER,
                              Result.NO_ANSWER])
    assert all(o.talk_s and o.talk_s > 0.5 for o in policy.outcomes
               if o.result is Result.CONNECTED)

    live_calls = len(policy.states)
    run = simulate(load_workload(PROJECT_DIR / "predictive/workloads/B3.json"),
                   lambda workload: policy, days=1)
    assert run.metrics.dials > 0 and len(policy.states) > live_calls
