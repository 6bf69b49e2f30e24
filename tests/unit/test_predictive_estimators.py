"""Online estimators converge on known streams."""

from __future__ import annotations

import numpy as np
import pytest

from predictive.estimators import AnswerRate, CampaignEstimators, RunningMoments
from predictive.model import CallOutcome, Result


def test_welford_matches_numpy() -> None:
    """Steps: push 10 000 lognormal draws. Expected: mean and unbiased variance equal
    numpy's; an empty accumulator reports the prior and zero variance."""
    x = np.random.default_rng(1).lognormal(4.0, 0.5, 10_000)
    m = RunningMoments()
    assert (m.mean_or(7.0), m.variance) == (7.0, 0.0)
    for v in x:
        m.push(float(v))
    assert m.mean == pytest.approx(x.mean())
    assert m.variance == pytest.approx(x.var(ddof=1))


def test_answer_rate_converges_by_hour_and_shrinks_thin_hours() -> None:
    """Steps: 20 000 dials per hour at 9–16 with p from 0.15 to 0.36, plus 20 dials at
    hour 17 that all answered. Expected: every busy hour within 0.01 of its p; the
    campaign mean ≈ the average; hour 17 pulled far below its raw 100 %."""
    rng = np.random.default_rng(2)
    truth = {h: 0.15 + 0.03 * (h - 9) for h in range(9, 17)}
    est = AnswerRate()
    for h, p in truth.items():
        for live in rng.random(20_000) < p:
            est.push(h, bool(live))
    for _ in range(20):
        est.push(17, True)
    for h, p in truth.items():
        assert est.at(h) == pytest.approx(p, abs=0.01)
    assert est.mean == pytest.approx(np.mean(list(truth.values())), abs=0.01)
    assert est.at(17) < 0.6
    assert est.at(3) == pytest.approx(est.mean)  # an unseen hour: the campaign mean


def test_answer_rate_equal_hours_pool_fully() -> None:
    """Steps: the same p = 0.2 in every hour, 300 dials per hour. Expected: the
    between-hour spread is mostly noise, so the prior weighs more than an hour's own 300
    dials and each hour's estimate is close to the pooled mean, not its noisy rate."""
    rng = np.random.default_rng(3)
    est = AnswerRate()
    for h in range(9, 17):
        for live in rng.random(300) < 0.2:
            est.push(h, bool(live))
    assert est.strength > 300
    for h in range(9, 17):
        dials, live = est.by_hour[h]
        assert abs(est.at(h) - est.mean) <= 0.5 * abs(live / dials - est.mean) + 1e-12


def outcome(rng: np.random.Generator, live_p: float) -> CallOutcome:
    ring = float(rng.exponential(20.0))
    if rng.random() >= live_p:
        return CallOutcome(at=0.0, result=Result.NO_ANSWER, ring_s=ring, hour_of_day=10)
    if rng.random() < 0.05:
        return CallOutcome(at=0.0, result=Result.ABANDONED, ring_s=ring, hour_of_day=10)
    return CallOutcome(at=0.0, result=Result.CONNECTED, ring_s=ring, hour_of_day=10,
                       talk_s=float(rng.gamma(4.0, 30.0)), wrap_s=float(rng.exponential(30)))


def test_campaign_estimators_converge() -> None:
    """Steps: 40 000 outcomes: ring ~ exp(20), p 0.25, 5 % of live answers abandoned,
    talk ~ gamma(mean 120, sd 60), wrap ~ exp(30). Expected: ring mean 20, p 0.25, talk
    mean 120 and variance 3 600, wrap mean 30, release rate 1/150 per second, abandon
    counts consistent; priors before any outcome."""
    est = CampaignEstimators()
    assert (est.ring_mean, est.talk_mean, est.wrap_mean) == (20.0, 120.0, 30.0)
    rng = np.random.default_rng(4)
    for _ in range(40_000):
        est.observe(outcome(rng, 0.25))
    assert est.ring_mean == pytest.approx(20.0, rel=0.03)
    assert est.ring_live.mean == pytest.approx(20.0, rel=0.05)
    assert est.answer_probability(10) == pytest.approx(0.25, abs=0.01)
    assert est.talk_mean == pytest.approx(120.0, rel=0.03)
    assert est.talk.variance == pytest.approx(3600.0, rel=0.1)
    assert est.wrap_mean == pytest.approx(30.0, rel=0.05)
    assert est.release_rate == pytest.approx(1 / 150, rel=0.03)
    assert est.abandoned / est.live_answers == pytest.approx(0.05, abs=0.01)
    assert est.free_within(10, 15.0) == pytest.approx(10 * (1 - np.exp(-15 / 150)), rel=0.05)
    assert est.free_within(10, 0.0) == 0.0
