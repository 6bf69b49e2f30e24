"""The `huilong` pacing policy: safety rules, fallback, feedback, and the daily cap."""

from __future__ import annotations

import pytest

from predictive.model import CallOutcome, DialerState, Result
from predictive.policies.huilong import HuilongPolicy, make
from predictive.workload import load_workload


def _state(ready: int, in_call: int, wrap: int, ringing: int = 0, waiting: int = 0,
           now: float = 3_600.0) -> DialerState:
    return DialerState(now=now, agents_logged_in=ready + in_call + wrap, agents_ready=ready,
                       agents_in_call=in_call, agents_wrap_up=wrap, calls_ringing=ringing,
                       calls_waiting=waiting, calls_connected=in_call, hour_of_day=10)


def _trained(agents: int = 20) -> HuilongPolicy:
    """A policy that has seen 400 calls: p ≈ 0.3, ring 20 s, talk 120 s, wrap 30 s."""
    policy = HuilongPolicy(agents=agents)
    for i in range(400):
        if i % 10 < 3:
            policy.observe(CallOutcome(at=float(i), result=Result.CONNECTED, ring_s=20.0,
                                       hour_of_day=10, talk_s=120.0, wrap_s=30.0))
        else:
            policy.observe(CallOutcome(at=float(i), result=Result.NO_ANSWER, ring_s=20.0,
                                       hour_of_day=10))
    return policy


def test_no_dials_when_no_agent_is_ready_or_about_to_be() -> None:
    """Steps: a trained policy; all agents in a call that has just started (no wrap-up),
    with a horizon too short for a talk to end — emulated by a one-agent-in-call team of
    20 paused agents — and separately all ready agents already have a waiting call.
    Expected: zero dials in both cases."""
    policy = _trained()
    paused = DialerState(now=3_600.0, agents_logged_in=20, agents_ready=0, agents_in_call=1,
                         agents_wrap_up=0, calls_ringing=0, calls_waiting=0,
                         calls_connected=1, hour_of_day=10)
    assert policy.dials(paused) == 0
    assert policy.dials(_state(ready=2, in_call=3, wrap=0, waiting=2)) == 0


def test_never_more_than_the_lines_per_agent_cap() -> None:
    """Steps: a trained policy facing 20 ready agents and no calls, then with ringing
    calls already at the cap. Expected: ringing + dials ≤ 3 × agents, and no dials at
    the cap."""
    policy = _trained()
    n = policy.dials(_state(ready=20, in_call=0, wrap=0))
    assert 0 < n <= 60
    assert policy.dials(_state(ready=20, in_call=0, wrap=0, ringing=60)) == 0


def test_small_team_falls_back_to_progressive() -> None:
    """Steps: a trained policy with a team of 3 (2 ready, 1 ringing).
    Expected: exactly one dial, one line per ready agent."""
    policy = _trained(agents=3)
    assert policy.dials(_state(ready=2, in_call=1, wrap=0, ringing=1)) == 1


def test_thin_statistics_fall_back_to_progressive() -> None:
    """Steps: a fresh policy (no outcomes) with 20 ready agents and 5 ringing calls.
    Expected: 15 dials (progressive)."""
    policy = HuilongPolicy(agents=20)
    assert policy.dials(_state(ready=20, in_call=0, wrap=0, ringing=5)) == 15


def test_abandon_burst_lowers_aggressiveness() -> None:
    """Steps: a trained policy; note its dials in a mid-day state; then report 40 abandons
    among the next 60 answers and let the feedback run for five minutes of ticks.
    Expected: λ (the price of an abandon) rose and the policy dials no more than before."""
    policy = _trained()
    state = _state(ready=4, in_call=12, wrap=4, ringing=5, now=4_000.0)
    before, lam_before = policy.dials(state), policy.log10_lam
    for i in range(60):
        at = 3_000.0 + i
        if i < 40:
            policy.observe(CallOutcome(at=at, result=Result.ABANDONED, ring_s=20.0,
                                       hour_of_day=10))
        else:
            policy.observe(CallOutcome(at=at + 150.0, result=Result.CONNECTED, ring_s=20.0,
                                       hour_of_day=10, talk_s=120.0, wrap_s=30.0))
    for k in range(6):
        after = policy.dials(_replace_now(state, 4_000.0 + 61.0 * (k + 1)))
    assert policy.log10_lam > lam_before
    assert after <= before


def _replace_now(state: DialerState, now: float) -> DialerState:
    return DialerState(now=now, agents_logged_in=state.agents_logged_in,
                       agents_ready=state.agents_ready, agents_in_call=state.agents_in_call,
                       agents_wrap_up=state.agents_wrap_up, calls_ringing=state.calls_ringing,
                       calls_waiting=state.calls_waiting, calls_connected=state.calls_connected,
                       hour_of_day=state.hour_of_day)


@pytest.mark.parametrize("name", ["B1", "B2"])
def test_daily_abandon_rate_stays_under_the_cap(name: str) -> None:
    """Steps: simulate `huilong` on the shipped workload for 2 days.
    Expected: every day's abandon rate ≤ 3%, and it beats progressive by a clear margin."""
    from predictive.policies import get_policy
    from predictive.simulator import simulate

    workload = load_workload(f"predictive/workloads/{name}.json")
    result = simulate(workload, make, days=2)
    progressive = simulate(workload, get_policy("progressive"), days=2)
    assert all(day.abandon_rate <= 0.03 for day in result.days)
    assert result.metrics.occupancy > progressive.metrics.occupancy + 0.1
