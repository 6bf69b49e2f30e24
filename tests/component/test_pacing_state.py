"""The live dialer's view for the pacing policy, built from call states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.call.state import CallState, Phase
from engine.pacing import AgentCounts, LiveState, policy_for
from predictive.model import Result
from predictive.policies.basic import Progressive

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def call(phase: Phase, *, answered: bool = False, ended: bool = False) -> CallState:
    return CallState(attempt_id="x", phase=phase, originated_at=T0,
                     answered_at=T0 + timedelta(seconds=4) if answered else None,
                     ended_at=T0 + timedelta(seconds=64) if ended else None)


def test_snapshot_counts_slots_ringing_and_talking():
    """Steps: 5 slots; calls: one being originated, one ringing, two answered (one of
    them being hung up), one hanging up before any answer.
    Expected: 2 in call, 3 ready, 2 ringing, nothing waiting or in wrap-up."""
    state = LiveState(5).snapshot([
        call(Phase.ORIGINATING), call(Phase.RINGING), call(Phase.ANSWERED, answered=True),
        call(Phase.HANGING_UP, answered=True), call(Phase.HANGING_UP)])
    assert (state.agents_logged_in, state.agents_ready, state.agents_in_call) == (5, 3, 2)
    assert (state.calls_ringing, state.calls_waiting, state.calls_connected) == (2, 0, 2)
    assert Progressive().dials(state) == 1


def test_outcomes_carry_ring_and_talk_time():
    """Steps: an answered call that talked 60 s, and a call that was never answered.
    Expected: CONNECTED with ring 4 s and talk 60 s; NO_ANSWER with ring = time to end."""
    live = LiveState(1)
    connected = live.outcome(call(Phase.FINAL, answered=True, ended=True))
    assert (connected.result, connected.ring_s, connected.talk_s) == (Result.CONNECTED, 4.0,
                                                                      60.0)
    missed = live.outcome(call(Phase.FINAL, ended=True))
    assert (missed.result, missed.ring_s, missed.talk_s) == (Result.NO_ANSWER, 64.0, None)


def test_agent_campaigns_see_the_live_agents_and_their_abandons():
    """Steps: an agent campaign's state with 4 agents logged in (1 ready, 2 on or
    reserved for calls, 1 in wrap-up), three answered calls (one still waiting for an
    agent) and one ringing; then an answered call its flow abandoned, one its machine
    check hung up, and one connected.
    Expected: the policy sees the agents as they are, 1 call waiting and 2 connected;
    the abandoned call is reported ABANDONED, without talk time, the machine MACHINE;
    the connected one with
    the agents' wrap-up time."""
    live = LiveState(10, lambda: AgentCounts(logged_in=4, ready=1, in_call=2, wrap_up=1,
                                             wrap_up_s=7.5))
    state = live.snapshot([call(Phase.ANSWERED, answered=True)] * 3 + [call(Phase.RINGING)])
    assert (state.agents_logged_in, state.agents_ready, state.agents_in_call,
            state.agents_wrap_up, state.agents_paused) == (4, 1, 2, 1, 0)
    assert (state.calls_ringing, state.calls_waiting, state.calls_connected) == (1, 1, 2)
    dropped = live.outcome(call(Phase.FINAL, answered=True, ended=True), "abandoned")
    assert (dropped.result, dropped.ring_s, dropped.talk_s) == (Result.ABANDONED, 4.0, None)
    machine = live.outcome(call(Phase.FINAL, answered=True, ended=True), "machine")
    assert (machine.result, machine.talk_s) == (Result.MACHINE, None)
    talked = live.outcome(call(Phase.FINAL, answered=True, ended=True))
    assert (talked.result, talked.talk_s, talked.wrap_s) == (Result.CONNECTED, 60.0, 7.5)


def test_policy_by_campaign_setting():
    """Steps: no setting, 'fixed_ratio', and a name that does not exist.
    Expected: progressive by default, the named registry policy, a KeyError naming the
    known policies."""
    assert policy_for({}, 3).name == "progressive"
    assert policy_for({"pacing": "fixed_ratio"}, 3).name == "fixed_ratio"
    with pytest.raises(KeyError, match=r"known: .*progressive"):
        policy_for({"pacing": "psychic"}, 3)
