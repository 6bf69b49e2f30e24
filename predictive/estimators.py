"""Online estimators of a campaign's call statistics, fed by `CallOutcome`s.

All O(1) per outcome and per query: a policy can keep them inside its tick.

- `RunningMoments`: Welford's mean and variance.
- `AnswerRate`: P(live answer) per hour of day, shrunk toward the campaign mean with a
  beta prior whose strength is estimated from the spread between hours (empirical Bayes,
  method of moments) and bounded to [`min_strength`, `max_strength`].
- `CampaignEstimators`: answer rate, ring time (dial to verdict, overall and for live
  answers), talk and wrap-up times, the rate at which a busy agent becomes free, and the
  abandon counts, all from one `observe(outcome)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from predictive.model import CallOutcome, Result

LIVE_RESULTS = frozenset({Result.CONNECTED, Result.ABANDONED, Result.AMD_FALSE_POSITIVE})


@dataclass(slots=True)
class RunningMoments:
    """Welford's running mean and (unbiased) variance of a stream of numbers."""

    n: int = 0
    mean: float = 0.0
    _m2: float = 0.0

    def push(self, x: float) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self._m2 += delta * (x - self.mean)

    @property
    def variance(self) -> float:
        return self._m2 / (self.n - 1) if self.n > 1 else 0.0

    @property
    def sd(self) -> float:
        return math.sqrt(self.variance)

    def mean_or(self, prior: float) -> float:
        """The mean, or `prior` before any observation."""
        return self.mean if self.n else prior


@dataclass(slots=True)
class AnswerRate:
    """P(a dial reaches a live person) by hour of day.

    Campaign mean: (live + a0) / (dials + a0 + b0), a weak Beta(a0, b0) prior around
    `prior_mean`. Hour h: (live_h + k·mean) / (dials_h + k), where the prior strength k is
    the method-of-moments estimate mean·(1 − mean)/τ² − 1 from the between-hour variance
    τ² (hours with at least `min_hour_dials` dials), clamped to [min, max]."""

    prior_mean: float = 0.25
    prior_weight: float = 4.0
    min_strength: float = 10.0
    max_strength: float = 2_000.0
    min_hour_dials: int = 50
    dials: int = 0
    live: int = 0
    by_hour: dict[int, list[int]] = field(default_factory=dict)  # hour → [dials, live]
    _strength: float | None = None

    def push(self, hour: int, live: bool) -> None:
        self.dials += 1
        self.live += live
        counts = self.by_hour.setdefault(hour, [0, 0])
        counts[0] += 1
        counts[1] += live
        self._strength = None

    @property
    def mean(self) -> float:
        return ((self.live + self.prior_mean * self.prior_weight)
                / (self.dials + self.prior_weight))

    @property
    def strength(self) -> float:
        """The prior strength k (in dials) that an hour is shrunk with."""
        if self._strength is None:
            self._strength = self._estimate_strength()
        return self._strength

    def _estimate_strength(self) -> float:
        p = self.mean
        rates = [(lv / d, d) for d, lv in self.by_hour.values() if d >= self.min_hour_dials]
        if len(rates) < 2:
            return self.max_strength
        # between-hour variance of the true rates: observed spread minus binomial noise
        spread = sum((r - p) ** 2 for r, _ in rates) / (len(rates) - 1)
        noise = sum(p * (1 - p) / d for _, d in rates) / len(rates)
        tau2 = spread - noise
        if tau2 <= 0:
            return self.max_strength
        k = p * (1 - p) / tau2 - 1
        return min(max(k, self.min_strength), self.max_strength)

    def at(self, hour: int) -> float:
        """The shrunk answer probability for `hour`."""
        d, lv = self.by_hour.get(hour, (0, 0))
        k = self.strength
        return (lv + k * self.mean) / (d + k)


@dataclass(slots=True)
class CampaignEstimators:
    """Everything a predictive policy needs to know about the calls, learnt online.

    `prior_*`: values used before the first observation (seconds)."""

    prior_ring_s: float = 20.0
    prior_talk_s: float = 120.0
    prior_wrap_s: float = 30.0
    answer: AnswerRate = field(default_factory=AnswerRate)
    ring: RunningMoments = field(default_factory=RunningMoments)
    ring_live: RunningMoments = field(default_factory=RunningMoments)
    talk: RunningMoments = field(default_factory=RunningMoments)
    wrap: RunningMoments = field(default_factory=RunningMoments)
    handle: RunningMoments = field(default_factory=RunningMoments)
    outcomes: int = 0
    abandoned: int = 0
    amd_false_positives: int = 0

    def observe(self, outcome: CallOutcome) -> None:
        live = outcome.result in LIVE_RESULTS
        self.outcomes += 1
        self.answer.push(outcome.hour_of_day, live)
        self.ring.push(outcome.ring_s)
        if live:
            self.ring_live.push(outcome.ring_s)
        self.abandoned += outcome.result is Result.ABANDONED
        self.amd_false_positives += outcome.result is Result.AMD_FALSE_POSITIVE
        if outcome.talk_s is not None:
            self.talk.push(outcome.talk_s)
        if outcome.wrap_s is not None:
            self.wrap.push(outcome.wrap_s)
        if outcome.talk_s is not None and outcome.wrap_s is not None:
            self.handle.push(outcome.talk_s + outcome.wrap_s)

    @property
    def live_answers(self) -> int:
        return self.answer.live

    def answer_probability(self, hour: int) -> float:
        return self.answer.at(hour)

    @property
    def ring_mean(self) -> float:
        """Mean seconds from dial to verdict (answer or give-up)."""
        return self.ring.mean_or(self.prior_ring_s)

    @property
    def talk_mean(self) -> float:
        return self.talk.mean_or(self.prior_talk_s)

    @property
    def wrap_mean(self) -> float:
        return self.wrap.mean_or(self.prior_wrap_s)

    @property
    def handle_mean(self) -> float:
        """Mean seconds an agent is busy per connected call (talk + wrap-up)."""
        return self.handle.mean_or(self.prior_talk_s + self.prior_wrap_s)

    @property
    def release_rate(self) -> float:
        """Per second, the rate at which one busy agent becomes free (1 / handle mean)."""
        return 1.0 / max(self.handle_mean, 1e-9)

    def free_within(self, busy: int, horizon_s: float) -> float:
        """Expected busy agents free within `horizon_s` (exponential approximation)."""
        return busy * -math.expm1(-self.release_rate * max(horizon_s, 0.0))
