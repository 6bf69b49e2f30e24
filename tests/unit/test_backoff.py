"""Reconnect backoff: capped exponential with jitter in [d/2, d]."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

import pytest

from engine.ari.supervisor import backoff_delays


class EdgeRandom(random.Random):
    """uniform() returns its upper (or lower) bound, to read the envelope exactly."""

    def __init__(self, upper: bool) -> None:
        super().__init__(0)
        self.upper = upper

    def uniform(self, a: float, b: float) -> float:
        return b if self.upper else a


def take(n: int, delays: Iterator[float]) -> list[float]:
    return list(itertools.islice(delays, n))


def test_envelope_doubles_from_base_up_to_cap() -> None:
    """Steps: draw 9 delays with cap 10 s, uniform pinned to its upper bound.
    Expected: 0.25, 0.5, 1, 2, 4, 8, then 10 for ever."""
    delays = take(9, backoff_delays(10.0, rng=EdgeRandom(upper=True)))
    assert delays == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_lower_bound_is_half_the_envelope() -> None:
    """Steps: same, uniform pinned to its lower bound. Expected: half of each envelope."""
    delays = take(8, backoff_delays(10.0, rng=EdgeRandom(upper=False)))
    assert delays == [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_custom_base() -> None:
    """Steps: base 1 s, cap 3 s, upper bound. Expected: 1, 2, 3, 3."""
    assert take(4, backoff_delays(3.0, base_s=1.0, rng=EdgeRandom(upper=True))) == [1, 2, 3, 3]


@pytest.mark.parametrize("seed", range(5))
def test_random_delays_stay_within_their_envelope(seed: int) -> None:
    """Steps: draw 40 delays with a seeded generator, cap 10 s.
    Expected: the n-th delay lies in [d/2, d] for d = min(10, 0.25·2^n); never above the cap."""
    delays = take(40, backoff_delays(10.0, rng=random.Random(seed)))
    for n, delay in enumerate(delays):
        envelope = min(10.0, 0.25 * 2**n)
        assert envelope / 2 <= delay <= envelope
    assert max(delays) <= 10.0


def test_jitter_spreads_reconnects() -> None:
    """Steps: the 8th delay from 50 differently seeded generators (all at the cap).
    Expected: not all equal — many daemons do not reconnect in lockstep."""
    eighth = {take(8, backoff_delays(10.0, rng=random.Random(seed)))[-1] for seed in range(50)}
    assert len(eighth) > 40


def test_same_seed_same_sequence() -> None:
    """Steps: two generators with the same seed. Expected: identical sequences."""
    a = take(10, backoff_delays(5.0, rng=random.Random(7)))
    b = take(10, backoff_delays(5.0, rng=random.Random(7)))
    assert a == b


def test_cap_below_base_still_caps_the_first_delay() -> None:
    """Steps: cap 0.1 s (below the 0.25 s base), upper bound.
    Expected: no delay above the cap — 'capped' holds from the first draw."""
    delays = take(3, backoff_delays(0.1, rng=EdgeRandom(upper=True)))
    assert max(delays) <= 0.1
