"""The VICIdial baseline reproduces AST_VDauto_dial / AST_VDadapt step by step."""

from __future__ import annotations

from dataclasses import replace

import pytest

from predictive.model import CallOutcome, DialerState, Result
from predictive.policies.vicidial import (
    G_GRID,
    LMAX_GRID,
    VicidialAdaptive,
    tune_vicidial,
    vicidial_default,
    vicidial_tuned,
)
from predictive.workload import Distribution, Workload


def state(now: float, ready: int = 0, in_call: int = 0, wrap: int = 0, ringing: int = 0,
          waiting: int = 0, logged_in: int = 10) -> DialerState:
    return DialerState(now=now, agents_logged_in=logged_in, agents_ready=ready,
                       agents_in_call=in_call, agents_wrap_up=wrap, calls_ringing=ringing,
                       calls_waiting=waiting, calls_connected=in_call)


def run(policy: VicidialAdaptive, until: float, **counts: int) -> list[int]:
    """Feed the same state every 0.5 s from 0 up to (excluding) `until`."""
    out, t = [], 0.0
    while t < until - 1e-9:
        out.append(policy.dials(state(t, **counts)))
        t += policy.tick_s
    return out


def outcome(at: float, result: Result) -> CallOutcome:
    return CallOutcome(at=at, result=result, ring_s=10.0, hour_of_day=10)


def test_dial_round_every_2_5_s() -> None:
    """Steps: L = 1; 3 ready, 2 in call, 1 in wrap-up (paused), 1 ringing, 1 waiting.
    Expected: round(1 × 5) − (1 + 1 + 2) = 1 at t = 0, nothing at 0.5–2.0, again at 2.5;
    with L = 1.5: round(7.5) = 8 (half up) − 4 = 4; never negative."""
    p = VicidialAdaptive()
    counts = {"ready": 3, "in_call": 2, "wrap": 1, "ringing": 1, "waiting": 1}
    assert [p.dials(state(t / 2, **counts)) for t in range(6)] == [1, 0, 0, 0, 0, 1]
    p.level = 1.5
    assert p.dials(state(5.0, **counts)) == 4
    assert p.dials(state(7.5, ringing=9)) == 0


def test_adapt_raises_level_by_idle_share() -> None:
    """Steps: 4 of 10 agents ready, nothing waiting, for 15 s of 0.5-s ticks; then at
    15 s the adapt step. Expected: L stays 1 until 15 s, then m = (4 − 0 + 0)/10 = 0.4 and
    L = 1 × (1 + 0.4) = 1.4; the next 15 s (same state) L = 1.4 × 1.4 = 1.96."""
    p = VicidialAdaptive()
    run(p, 15.0, ready=4)
    assert p.level == 1.0
    p.dials(state(15.0, ready=4))
    assert p.level == pytest.approx(1.4)
    for k in range(31, 61):
        p.dials(state(k / 2, ready=4))
    assert p.level == pytest.approx(1.96)


def test_adapt_uses_the_last_15_samples_and_intensity() -> None:
    """Steps: I = 20, L = 2. 1-s samples: ready 8 for t = 0–14, then ready 0 with 2 calls
    waiting for t = 15–29 (n = 10). Expected at 15 s: m = 0.8, L = 2(1 + 0.8·1.2) = 3.92
    clamped to Lmax 3; at 30 s (samples 16–30 all ready 0, waiting 2): m = −0.2,
    L = 3(1 − 0.2·|0.2 − 1|) = 2.52. With G = −2 and all ready: m = (10 − 2)/10."""
    p = VicidialAdaptive(intensity=20.0, level=2.0)
    run(p, 15.0, ready=8)
    p.dials(state(15.0, ready=0, waiting=2))
    assert p.level == 3.0
    for k in range(31, 61):
        p.dials(state(k / 2, ready=0, waiting=2))
    assert p.level == pytest.approx(3.0 * (1 - 0.2 * 0.8))
    g = VicidialAdaptive(target_diff=-2.0, max_level=10.0)
    run(g, 15.0, ready=10)
    g.dials(state(15.0, ready=10))
    assert g.level == pytest.approx(1.8)


def test_level_clamped_to_one_and_lmax() -> None:
    """Steps: all agents idle for a minute (m = 1 each step) with Lmax 2.4; then a queue
    of waiting calls with no one ready. Expected: 1 → 2 → 2.4 (clamp) ...; then down to
    exactly 1, never below."""
    p = VicidialAdaptive(max_level=2.4)
    run(p, 15.0, ready=10)
    p.dials(state(15.0, ready=10))
    assert p.level == 2.0
    for k in range(31, 61):
        p.dials(state(k / 2, ready=10))
    assert p.level == 2.4
    for k in range(61, 240):
        p.dials(state(k / 2, waiting=10))
    assert p.level == 1.0


def test_daily_drop_cap_halves_every_15_s_while_over() -> None:
    """Steps: L = 3 with idle agents (the m rule would raise it); 51 calls today of which
    40 no answer, 9 connected, 2 dropped (2/11 = 18 % > 3 %). Expected: each adapt step
    halves L instead of raising it. At 50 calls (not over 50) the m rule applies first
    (3 → 4.5); then 4.5 → 2.25 → 1.125; the counters reset on the next day."""
    p = VicidialAdaptive(level=3.0, max_level=5.0)
    results = [Result.NO_ANSWER] * 40 + [Result.CONNECTED] * 9 + [Result.ABANDONED]
    for r in results:
        p.observe(outcome(1.0, r))
    run(p, 15.0, ready=5)
    p.dials(state(15.0, ready=5))
    assert p.level == pytest.approx(3.0 * 1.5)  # 50 calls: not yet over 50
    p.observe(outcome(15.2, Result.ABANDONED))
    assert p.over_daily_cap()
    for k in range(31, 61):
        p.dials(state(k / 2, ready=5))
    assert p.level == pytest.approx(2.25)
    for k in range(61, 91):
        p.dials(state(k / 2, ready=5))
    assert p.level == pytest.approx(1.125)
    p.dials(state(86_400.0, ready=5))
    assert (p.calls_today, p.drops_today, p.humans_today) == (0, 0, 0)
    assert not p.over_daily_cap()


def test_last_minute_flood_halves_level() -> None:
    """Steps: drop cap 100 % (the daily rule off); 21 calls in the last minute: 10
    connected, 11 dropped (> 50 %). Expected: the adapt step halves L (2 → 1); calls older
    than 60 s do not count: the same outcomes 61.5 s before an adapt leave L to the m rule."""
    p = VicidialAdaptive(level=2.0, drop_cap=1.0)
    for r in [Result.CONNECTED] * 10 + [Result.ABANDONED] * 11:
        p.observe(outcome(10.0, r))
    run(p, 15.0)
    p.dials(state(15.0))
    assert p.level == 1.0
    old = VicidialAdaptive(level=2.0, drop_cap=1.0)
    for r in [Result.CONNECTED] * 10 + [Result.ABANDONED] * 11:
        old.observe(outcome(53.5, r))
    for k in range(200, 231):  # 100 s … 115 s: the adapt at 115 s sees nothing after 55 s
        old.dials(state(k / 2))
    assert not old.minute_flooded()
    assert old.level == 2.0  # m = (0 − 0 + 0)/10 = 0: unchanged


def test_amd_false_positives_are_machines_to_vicidial() -> None:
    """Steps: observe AMD false positives and machines. Expected: neither a drop nor a
    human answer (VICIdial cannot tell them apart)."""
    p = VicidialAdaptive()
    p.observe(outcome(1.0, Result.AMD_FALSE_POSITIVE))
    p.observe(outcome(1.0, Result.MACHINE))
    assert (p.calls_today, p.drops_today, p.humans_today) == (2, 0, 0)


def tiny() -> Workload:
    return Workload(
        name="tiny", agents=6, hours=1, days=1, answer_steps=((0, 0.2),),
        dial_seconds=Distribution("exponential", 20.0),
        talk_seconds=Distribution("exponential", 90.0),
        wrap_seconds=Distribution("constant", 20.0), drop_seconds=2.0, abandon_cap=0.03,
        amd_false_positive=0.0, seed=5)


def test_defaults_and_tuned_grid() -> None:
    """Steps: vicidial_default and vicidial_tuned on a small workload. Expected: default
    I = 0, G = 0, Lmax 3 and the campaign's cap; tuned picks a grid point, is cached, and
    changes with the workload (a new tuning run)."""
    d = vicidial_default(tiny())
    assert (d.intensity, d.target_diff, d.max_level, d.drop_cap, d.level) == (
        0.0, 0.0, 3.0, 0.03, 1.0)
    assert (d.name, d.tick_s) == ("vicidial_default", 0.5)
    lmax, g = tune_vicidial(tiny())
    assert lmax in LMAX_GRID and g in G_GRID
    t = vicidial_tuned(tiny())
    assert (t.name, t.max_level, t.target_diff) == ("vicidial_tuned", lmax, g)
    assert tune_vicidial(replace(tiny(), abandon_cap=0.5)) is not None
