"""The bound (`predictive.bound`): closed forms, monotonicity, and no policy beating it."""

from __future__ import annotations

import dataclasses
import math

import pytest

from predictive.bound import Chain, Params, evaluate, greedy, optimise, solve
from predictive.workload import Distribution, Workload


def _workload(agents: int = 6, p: float = 0.3, cap: float = 0.03, drop: float = 2.0,
              dial: float = 20.0, talk: float = 120.0, wrap: float = 30.0) -> Workload:
    return Workload(
        name="test", agents=agents, hours=8, days=1, answer_steps=((0, p),),
        dial_seconds=Distribution("exponential", dial),
        talk_seconds=Distribution("exponential", talk),
        wrap_seconds=Distribution("exponential", wrap),
        drop_seconds=drop, abandon_cap=cap, amd_false_positive=0.0, seed=1)


def _erlang_b(servers: int, load: float) -> float:
    b = 1.0
    for n in range(1, servers + 1):
        b = load * b / (n + load * b)
    return b


def test_no_abandons_allowed_is_progressive() -> None:
    """Steps: solve with cap 0 and no drop grace (one phase).
    Expected: occupancy equals progressive's closed form H / (H + D/p)."""
    w = _workload(agents=4, cap=0.0, drop=0.0)
    bound = solve(w, phases=1)
    h, d, p = 150.0, 20.0, 0.3
    assert bound.occupancy == pytest.approx(h / (h + d / p), abs=3e-3)
    assert bound.abandon_rate <= 1e-6


def test_bound_beats_progressive_and_blind_dialer() -> None:
    """Steps: solve a 6-agent workload at cap 3%; compute progressive's occupancy and the
    Erlang-B blind dialer (Poisson answers, loss system) at the load whose blocking is 3%.
    Expected: the bound is above both and below 1."""
    w = _workload()
    bound = solve(w)
    h, d, p = 150.0, 20.0, 0.3
    progressive = h / (h + d / p)
    lo, hi = 0.0, 6.0
    for _ in range(60):  # the offered load (erlangs) with Erlang-B blocking = cap
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _erlang_b(6, mid) < 0.03 else (lo, mid)
    blind = lo * (1 - _erlang_b(6, lo)) / 6
    assert progressive < bound.occupancy < 1.0
    assert blind < bound.occupancy
    assert bound.abandon_rate == pytest.approx(0.03, abs=2e-3)


def test_fixed_policy_matches_erlang_b_blocking() -> None:
    """Steps: a policy that never dials from states where a call is in flight, evaluated
    on the chain with one line and zero drop grace, i.e. an M/M/N/N loss system fed by a
    single line that is immediately replaced: answers arrive as a Poisson stream of rate
    p/D. Expected: the abandon rate equals Erlang-B blocking B(N, (p/D)·H) (one phase)."""
    params = Params(agents=3, answer_probability=0.3, dial_s=20.0, talk_s=100.0, wrap_s=50.0,
                    drop_s=0.0, abandon_cap=0.03, max_lines=1, phases=1)
    chain = Chain(params)
    hold_one = greedy(chain, 0.0, optimise(chain, 0.0)[0]) * 0 + 1  # always one line
    ev, _ = evaluate(chain, hold_one, tolerance=1e-10)
    load = 0.3 / 20.0 * 150.0
    assert ev.abandon_rate == pytest.approx(_erlang_b(3, load), rel=1e-3)
    assert ev.occupancy == pytest.approx(load * (1 - _erlang_b(3, load)) / 3, rel=1e-3)


def test_monotonic_in_answer_probability_and_cap() -> None:
    """Steps: solve at p 0.1/0.2/0.3 and at caps 1%/3%/6%.
    Expected: occupancy does not decrease as p or the cap grows."""
    by_p = [solve(_workload(p=p), phases=1).occupancy for p in (0.1, 0.2, 0.3)]
    by_cap = [solve(_workload(cap=c), phases=1).occupancy for c in (0.01, 0.03, 0.06)]
    assert by_p == sorted(by_p)
    assert by_cap == sorted(by_cap)


def test_hourly_answer_probability_is_time_weighted() -> None:
    """Steps: a day half at p 0.2 and half at 0.3 versus each constant day.
    Expected: the bound lies between the two constant-p bounds."""
    w = dataclasses.replace(_workload(), answer_steps=((9, 0.2), (13, 0.3)), start_hour=9)
    low = solve(_workload(p=0.2), phases=1).occupancy
    high = solve(_workload(p=0.3), phases=1).occupancy
    mixed = solve(w, phases=1).occupancy
    assert low - 1e-3 <= mixed <= high + 1e-3


def test_fast_for_fifty_agents() -> None:
    """Steps: solve a 50-agent workload (B4's shape).
    Expected: a sensible figure; the whole test stays well inside the unit budget."""
    w = _workload(agents=50, p=0.2, talk=180.0)
    bound = solve(w)
    assert 0.9 < bound.occupancy < 1.0
    assert math.isfinite(bound.multiplier)


def test_no_simulated_policy_beats_the_bound_on_exponential_times() -> None:
    """Steps: simulate progressive and huilong for 2 days on an all-exponential 8-agent
    workload; solve the bound at each policy's measured abandon rate (plus noise).
    Expected: no policy's occupancy exceeds that bound by more than 1.5 points."""
    from predictive.policies import get_policy
    from predictive.simulator import simulate

    w = dataclasses.replace(_workload(agents=8), days=2)
    for name in ("progressive", "huilong"):
        result = simulate(w, get_policy(name))
        measured = result.metrics.abandon_rate
        bound = solve(dataclasses.replace(w, abandon_cap=min(1.0, measured + 0.005)))
        assert result.metrics.occupancy <= bound.occupancy + 0.015, name
