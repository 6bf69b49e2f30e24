"""The discrete-event simulator: deterministic, conserving, and right on closed forms."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from predictive.model import CallOutcome, DialerState, Result
from predictive.policies.basic import FixedRatio, Progressive
from predictive.simulator import CallStream, simulate
from predictive.workload import Distribution, Workload

EXP = "exponential"


def workload(**changes: object) -> Workload:
    base = Workload(
        name="T", agents=10, hours=2, days=2, answer_steps=((0, 0.3),),
        dial_seconds=Distribution(EXP, 20.0), talk_seconds=Distribution("lognormal", 120, 60),
        wrap_seconds=Distribution("constant", 30.0), drop_seconds=2.0, abandon_cap=0.03,
        amd_false_positive=0.0, seed=11)
    return replace(base, **changes)  # type: ignore[arg-type]


@dataclass
class Recorder:
    """Wraps a policy; keeps every state it was shown and every outcome it learnt."""

    inner: Progressive | FixedRatio
    name: str = "recorder"
    states: list[DialerState] = field(default_factory=list)
    outcomes: list[CallOutcome] = field(default_factory=list)
    asked: int = 0
    tick_s: float = 1.0

    def __post_init__(self) -> None:
        self.tick_s = self.inner.tick_s

    def dials(self, state: DialerState) -> int:
        self.states.append(state)
        n = self.inner.dials(state)
        self.asked += n
        return n

    def observe(self, outcome: CallOutcome) -> None:
        self.outcomes.append(outcome)

    def factory(self, _: Workload) -> Recorder:
        return self


def test_same_seed_same_result_other_seed_other_result() -> None:
    """Steps: run fixed_ratio twice on one workload, once with another seed.
    Expected: identical tallies for the same seed; different dial counts otherwise."""
    w = workload()
    a, b = simulate(w, lambda _: FixedRatio(2.0)), simulate(w, lambda _: FixedRatio(2.0))
    assert a == b
    c = simulate(replace(w, seed=12), lambda _: FixedRatio(2.0))
    assert c.total.dials != a.total.dials


def test_every_dial_ends_in_one_outcome_and_agent_time_adds_up() -> None:
    """Steps: over-dial (ratio 3, drop 2 s, 5 % AMD errors, 20 % machines) for two days,
    recording what the policy sees. Expected: each dial reported exactly once; the
    tallies match the reports; ready + talk + wrap = logged-in time = agents × hours
    per day and per hour; talk/wrap only on connected calls; the states are consistent."""
    w = workload(amd_false_positive=0.05, machine_probability=0.2)
    rec = Recorder(FixedRatio(3.0))
    r = simulate(w, lambda _: rec)
    assert r.total.dials == rec.asked == len(rec.outcomes) == r.total.outcomes
    counts = {res: sum(o.result is res for o in rec.outcomes) for res in Result}
    t = r.total
    assert counts == {Result.NO_ANSWER: t.no_answers, Result.MACHINE: t.machines,
                      Result.CONNECTED: t.connected, Result.ABANDONED: t.abandoned,
                      Result.AMD_FALSE_POSITIVE: t.amd_false_positives}
    assert min(counts.values()) > 0
    for day in r.days:
        assert day.logged_in_s == pytest.approx(w.agents * w.hours * 3600)
        assert day.ready_s + day.talk_s + day.wrap_s == pytest.approx(day.logged_in_s)
    for hour in r.hours[0]:
        assert hour.ready_s + hour.talk_s + hour.wrap_s == pytest.approx(3600 * w.agents)
    for o in rec.outcomes:
        assert (o.talk_s is not None) == (o.result is Result.CONNECTED) == (o.wrap_s is not None)
    for s in rec.states:
        assert s.agents_ready + s.agents_in_call + s.agents_wrap_up == s.agents_logged_in
        assert s.calls_connected == s.agents_in_call
        assert s.calls_waiting == 0 or s.agents_ready == 0
        assert s.hour_of_day in (9, 10)
    assert rec.states[-1].now > 86_400  # day two continues the same policy's clock


def test_amd_false_positives_count_against_the_budget_when_configured() -> None:
    """Steps: progressive (no abandons of its own) with 10 % AMD false positives, counted
    and not counted. Expected: abandon rate ≈ 10 % when counted, 0 when not."""
    w = workload(amd_false_positive=0.1)
    counted = simulate(w, lambda _: Progressive()).metrics
    assert counted.abandon_rate == pytest.approx(0.1, abs=0.03)
    ignored = simulate(replace(w, amd_counts_as_abandoned=False), lambda _: Progressive())
    assert ignored.metrics.abandon_rate == 0.0


def test_common_random_numbers_across_policies() -> None:
    """Steps: draw the first 5 000 calls of day 1 twice; run two different policies.
    Expected: the same attributes by call index; each policy's n-th call rang for the same
    time (their ring times are a prefix of the same sequence)."""
    w = workload()
    s1, s2 = CallStream(w, 1), CallStream(w, 1)
    assert [s1[i] for i in range(5000)] == [s2[i] for i in range(5000)]
    assert CallStream(w, 0)[0] != s1[0]
    rings = []
    for policy in (Progressive(), FixedRatio(2.5)):
        rec = Recorder(policy)
        simulate(w, rec.factory, days=1)
        rings.append(sorted(o.ring_s for o in rec.outcomes))
    stream = CallStream(w, 0)
    for ring in rings:
        assert sorted(stream[i][0] for i in range(len(ring))) == pytest.approx(ring)


def test_drop_time_zero_abandons_every_answer_without_a_ready_agent() -> None:
    """Steps: one agent, drop 0 s, ratio 3. Expected: abandons occur; abandoned calls are
    reported at their answer time (ring end) + 0."""
    rec = Recorder(FixedRatio(3.0))
    r = simulate(workload(agents=1, drop_seconds=0.0), lambda _: rec, days=1)
    assert r.total.abandoned > 0
    assert r.metrics.worst_hour_abandon_rate >= r.metrics.abandon_rate > 0


def test_progressive_matches_closed_form_on_exponential_workload() -> None:
    """Steps: progressive, 20 agents, all-exponential times (dial 20 s, talk 120 s,
    wrap 30 s), p 0.3, 5 days × 8 h. Each agent cycles: dial until a live answer, then
    H = talk + wrap. Expected: occupancy = H / (H + D'/p) within 1 point, with
    D' = D + tick/2 (a ready agent waits half a tick on average for the next dial round);
    no abandons; lines per agent = (D/p) / (H + D/p) share of time ringing."""
    w = workload(agents=20, hours=8, days=5, talk_seconds=Distribution(EXP, 120.0),
                 wrap_seconds=Distribution(EXP, 30.0))
    m = simulate(w, lambda _: Progressive()).metrics
    h, d = 150.0, 20.0 + 0.5
    assert m.occupancy == pytest.approx(h / (h + d / 0.3), abs=0.01)
    assert m.abandon_rate == 0.0
    assert m.lines_per_agent == pytest.approx((20.0 / 0.3) / (h + d / 0.3), abs=0.01)
    assert m.talk_minutes_per_agent_hour == pytest.approx(
        60 * m.occupancy * 120 / 150, rel=0.03)


def test_fifty_agents_day_is_fast() -> None:
    """Steps: fixed ratio on a 50-agent 8-hour day. Expected: a handful of seconds at most
    (checked loosely: it finishes and places tens of thousands of dials)."""
    w = workload(agents=50, hours=8, days=1)
    r = simulate(w, lambda _: FixedRatio(1.5))
    assert r.total.dials > 10_000
    assert len(r.hours[0]) == 8


def test_bad_policy_tick_and_days_rejected() -> None:
    """Steps: a policy with tick_s 0; days 0. Expected: ValueError."""
    with pytest.raises(ValueError, match="tick_s"):
        simulate(workload(), lambda _: Progressive(tick_s=0.0))
    with pytest.raises(ValueError, match="days"):
        simulate(workload(), lambda _: Progressive(), days=0)
