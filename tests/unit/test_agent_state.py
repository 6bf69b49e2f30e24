"""Agent states and the choice of agent: only READY agents are offered calls, the one
idle longest first; logouts and pauses during a call wait for its end; an unreachable
phone pauses its agent and its return ends that pause only."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.agents.registry import AgentRegistry
from engine.agents.state import (
    NO_ANSWER,
    PHONE_UNREACHABLE,
    Agent,
    AgentStateError,
    AgentStatus,
    CallEnded,
    Connected,
    LogIn,
    LogOut,
    OfferFailed,
    Pause,
    PhoneReachable,
    Ready,
    apply,
    reserve,
)

S = AgentStatus


def logged_in(agent_id: str = "a1", at: float = 0.0) -> Agent:
    agent = apply(Agent(agent_id), PhoneReachable(True), at)
    return apply(agent, LogIn(), at)


def test_login_with_a_reachable_phone_makes_the_agent_ready_from_then():
    agent = logged_in(at=5.0)
    assert agent.status is S.READY and agent.idle_since == 5.0 and agent.since == 5.0


def test_login_without_a_registered_phone_pauses_until_the_phone_is_back():
    agent = apply(Agent("a1"), LogIn(), 1.0)
    assert agent.status is S.PAUSED and agent.pause_reason == PHONE_UNREACHABLE
    agent = apply(agent, PhoneReachable(True), 4.0)
    assert agent.status is S.READY and agent.idle_since == 4.0


def test_an_unreachable_phone_pauses_a_ready_agent_but_not_a_chosen_pause():
    agent = apply(logged_in(), PhoneReachable(False), 2.0)
    assert agent.status is S.PAUSED and agent.pause_reason == PHONE_UNREACHABLE
    on_break = apply(apply(logged_in(), Pause("lunch"), 1.0), PhoneReachable(False), 2.0)
    back = apply(on_break, PhoneReachable(True), 3.0)
    assert back.status is S.PAUSED and back.pause_reason == "lunch"


def test_a_call_from_offer_to_wrap_up_and_back_to_ready():
    agent = reserve(logged_in(), "c1", 10.0)
    assert agent.status is S.RESERVED and agent.call_id == "c1"
    agent = apply(agent, Connected("c1"), 11.0)
    assert agent.status is S.ON_CALL
    agent = apply(agent, CallEnded("c1", wrap_up_s=30.0), 70.0)
    assert agent.status is S.WRAP_UP and agent.wrap_up_until == 100.0 and agent.call_id is None
    agent = apply(agent, Ready(), 80.0)  # done early
    assert agent.status is S.READY and agent.idle_since == 80.0


def test_logout_and_pause_during_a_call_apply_when_it_ends():
    on_call = apply(reserve(logged_in(), "c1", 1.0), Connected("c1"), 2.0)
    leaving = apply(on_call, LogOut(), 3.0)
    assert leaving.status is S.ON_CALL  # the call is not cut
    assert apply(leaving, CallEnded("c1", 30.0), 9.0).status is S.OFFLINE
    pausing = apply(on_call, Pause("coaching"), 3.0)
    after = apply(pausing, CallEnded("c1", 30.0), 9.0)
    assert after.status is S.PAUSED and after.pause_reason == "coaching"
    # "Ready" during the call cancels the pending pause.
    assert apply(apply(pausing, Ready(), 4.0), CallEnded("c1", 0), 9.0).status is S.READY


def test_a_missed_offer_pauses_the_agent_but_a_vanished_debtor_does_not():
    reserved = reserve(logged_in(at=1.0), "c1", 5.0)
    missed = apply(reserved, OfferFailed("c1", agent_missed=True), 20.0)
    assert missed.status is S.PAUSED and missed.pause_reason == NO_ANSWER
    gone = apply(reserved, OfferFailed("c1", agent_missed=False), 6.0)
    assert gone.status is S.READY and gone.idle_since == 1.0  # keeps their place


@pytest.mark.parametrize("event", [Connected("c2"), CallEnded("c1", 0)])
def test_events_for_another_call_or_state_are_refused_by_name(event):
    reserved = reserve(logged_in(), "c1", 1.0)
    with pytest.raises(AgentStateError, match="agent a1"):
        apply(reserved, event, 2.0)


def test_only_a_ready_agent_is_reserved():
    for agent in (Agent("a1"), apply(logged_in(), Pause("break"), 1.0)):
        with pytest.raises(AgentStateError, match="only a ready agent"):
            reserve(agent, "c1", 2.0)


def test_pause_needs_a_reason_and_a_login():
    with pytest.raises(AgentStateError, match="needs a reason"):
        apply(logged_in(), Pause("  "), 1.0)
    with pytest.raises(AgentStateError, match="not logged in"):
        apply(Agent("a1"), Pause("break"), 1.0)


def test_the_longest_idle_ready_agent_gets_the_call():
    registry = AgentRegistry(["a", "b", "c"])
    for agent_id, at in (("b", 1.0), ("a", 2.0), ("c", 3.0)):
        registry.handle(agent_id, PhoneReachable(True), at)
        registry.handle(agent_id, LogIn(), at)
    registry.handle("b", Pause("break"), 4.0)
    first = registry.reserve_longest_idle("c1", 5.0)
    second = registry.reserve_longest_idle("c2", 5.0)
    assert (first and first.agent_id, second and second.agent_id) == ("a", "c")
    assert registry.reserve_longest_idle("c3", 5.0) is None  # b is paused
    assert registry.holding("c2") == second


def test_wrap_up_ends_on_the_clock_and_says_when():
    registry = AgentRegistry(["a"])
    registry.handle("a", PhoneReachable(True), 0.0)
    registry.handle("a", LogIn(), 0.0)
    registry.reserve_longest_idle("c1", 1.0)
    registry.handle("a", Connected("c1"), 2.0)
    registry.handle("a", CallEnded("c1", wrap_up_s=10.0), 5.0)
    assert registry.next_deadline() == 15.0
    assert registry.tick(14.9) == [] and registry.ready(14.9) == 0
    changed = registry.tick(15.0)
    assert [a.status for a in changed] == [S.READY] and changed[0].idle_since == 15.0
    assert registry.next_deadline() is None


def test_an_agent_on_a_call_cannot_be_removed():
    registry = AgentRegistry(["a"])
    registry.handle("a", PhoneReachable(True), 0.0)
    registry.handle("a", LogIn(), 0.0)
    registry.reserve_longest_idle("c1", 1.0)
    with pytest.raises(AgentStateError, match="after the call"):
        registry.remove("a")
    with pytest.raises(AgentStateError, match="no agent 'zz'"):
        registry.get("zz")


EVENTS = st.one_of(
    st.just(LogIn()), st.just(LogOut()), st.just(Ready()), st.just(Pause("break")),
    st.builds(PhoneReachable, st.booleans()),
    st.just("reserve"), st.just("connect"), st.just("end"), st.just("miss"), st.just("gone"),
    st.just("tick"),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), EVENTS), max_size=60))
def test_no_sequence_of_events_offers_a_call_to_an_agent_who_is_not_ready_and_reachable(steps):
    registry = AgentRegistry(["a", "b", "c"])
    now = 0.0
    calls = 0
    for agent_id, event in steps:
        now += 1.0
        agent = registry.get(agent_id)
        if event == "reserve":
            calls += 1
            before = {a.agent_id: a for a in registry.agents()}
            chosen = registry.reserve_longest_idle(f"c{calls}", now)
            if chosen is not None:
                was = before[chosen.agent_id]
                assert was.status in (S.READY, S.WRAP_UP) and was.reachable
            continue
        if event == "tick":
            for changed in registry.tick(now + 60):
                assert changed.status is not S.READY or changed.reachable
            continue
        if event in ("connect", "end", "miss", "gone"):
            if agent.call_id is None:
                continue
            wanted = {"connect": S.RESERVED, "miss": S.RESERVED, "gone": S.RESERVED,
                      "end": S.ON_CALL}[event]
            if agent.status is not wanted:
                continue
            call_event = {"connect": Connected(agent.call_id),
                          "miss": OfferFailed(agent.call_id, agent_missed=True),
                          "gone": OfferFailed(agent.call_id, agent_missed=False),
                          "end": CallEnded(agent.call_id, wrap_up_s=5.0)}[event]
            registry.handle(agent_id, call_event, now)
            after = registry.get(agent_id)
            assert after.status is not S.READY or after.reachable
            continue
        with contextlib.suppress(AgentStateError):  # e.g. a pause before logging in
            registry.handle(agent_id, event, now)
        after = registry.get(agent_id)
        if after.status is S.READY:
            assert after.reachable and after.idle_since is not None
        if after.status is S.OFFLINE:
            assert after.call_id is None
