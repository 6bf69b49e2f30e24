"""Campaign workloads for the simulator: a frozen description loaded from JSON.

A workload names the team (agents logged in for `hours` a day, `days` days from
`start_hour`), the answer probability (one number, or `[hour, p]` steps through the day),
the time distributions (ring, talk, wrap-up) and the compliance terms (drop time, abandon
cap, answering-machine-detection errors). Distributions are sampled with a numpy
`Generator`; lognormal and gamma are parameterised by mean and standard deviation.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

DISTRIBUTIONS = ("constant", "exponential", "lognormal", "gamma")


@dataclass(frozen=True, slots=True)
class Distribution:
    """A non-negative duration distribution in seconds."""

    dist: str
    mean: float
    sd: float = 0.0

    def __post_init__(self) -> None:
        if self.dist not in DISTRIBUTIONS:
            raise ValueError(f"unknown distribution {self.dist!r} (one of {DISTRIBUTIONS})")
        if not math.isfinite(self.mean) or self.mean < 0:
            raise ValueError(f"mean must be a finite number ≥ 0, got {self.mean!r}")
        if self.dist != "constant" and self.mean <= 0:
            raise ValueError(f"{self.dist} needs mean > 0, got {self.mean!r}")
        if self.dist in ("lognormal", "gamma") and (not math.isfinite(self.sd) or self.sd <= 0):
            raise ValueError(f"{self.dist} needs sd > 0, got {self.sd!r}")

    @property
    def variance(self) -> float:
        if self.dist == "constant":
            return 0.0
        if self.dist == "exponential":
            return self.mean * self.mean
        return self.sd * self.sd

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        """`size` independent draws."""
        if self.dist == "constant":
            return np.full(size, self.mean, dtype=np.float64)
        if self.dist == "exponential":
            return rng.exponential(self.mean, size)
        if self.dist == "lognormal":
            sigma2 = math.log1p((self.sd / self.mean) ** 2)
            mu = math.log(self.mean) - sigma2 / 2
            return rng.lognormal(mu, math.sqrt(sigma2), size)
        shape = (self.mean / self.sd) ** 2
        return rng.gamma(shape, self.sd * self.sd / self.mean, size)


@dataclass(frozen=True, slots=True)
class Workload:
    """One simulated campaign. `answer_steps`: `(hour_of_day, p)` steps, sorted; the
    probability at an hour is that of the last step at or before it (the first step's
    before it)."""

    name: str
    agents: int
    hours: int
    days: int
    answer_steps: tuple[tuple[int, float], ...]
    dial_seconds: Distribution
    talk_seconds: Distribution
    wrap_seconds: Distribution
    drop_seconds: float
    abandon_cap: float
    amd_false_positive: float
    seed: int
    start_hour: int = 9
    machine_probability: float = 0.0
    amd_counts_as_abandoned: bool = True

    def answer_probability(self, hour_of_day: int) -> float:
        """P(a live person answers) for a call placed in `hour_of_day`."""
        p = self.answer_steps[0][1]
        for hour, step_p in self.answer_steps:
            if hour > hour_of_day:
                break
            p = step_p
        return p

    @property
    def mean_answer_probability(self) -> float:
        """The mean over the campaign's working hours."""
        hours = range(self.start_hour, self.start_hour + self.hours)
        return sum(self.answer_probability(h) for h in hours) / self.hours


def load_workload(path: str | Path) -> Workload:
    """Read and validate a workload JSON file; a `ValueError` names the file and key."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read workload: {exc}") from exc
    return parse_workload(raw, source=str(path))


_KNOWN_KEYS = {
    "name", "agents", "hours", "days", "answer_probability", "dial_seconds", "talk_seconds",
    "wrap_seconds", "drop_seconds", "abandon_cap", "amd_false_positive", "seed", "start_hour",
    "machine_probability", "amd_counts_as_abandoned", "description",
}


def parse_workload(raw: Any, source: str = "<workload>") -> Workload:
    """Validate a decoded JSON object into a `Workload`."""
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: a workload is a JSON object")
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise ValueError(f"{source}: unknown key {unknown[0]!r}")
    r = _Reader(raw, source)
    name = r.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{source}: key 'name': expected a non-empty string")
    start_hour = r.integer("start_hour", 9, low=0, high=23)
    hours = r.integer("hours", None, low=1, high=24 - start_hour)
    return Workload(
        name=name,
        agents=r.integer("agents", None, low=1, high=100_000),
        hours=hours,
        days=r.integer("days", None, low=1, high=10_000),
        answer_steps=r.answer_steps("answer_probability"),
        dial_seconds=r.distribution("dial_seconds"),
        talk_seconds=r.distribution("talk_seconds"),
        wrap_seconds=r.distribution("wrap_seconds"),
        drop_seconds=r.number("drop_seconds", None, low=0.0, high=3600.0),
        abandon_cap=r.number("abandon_cap", None, low=0.0, high=1.0),
        amd_false_positive=r.number("amd_false_positive", 0.0, low=0.0, high=1.0),
        seed=r.integer("seed", None, low=0, high=2**63 - 1),
        start_hour=start_hour,
        machine_probability=r.number("machine_probability", 0.0, low=0.0, high=1.0),
        amd_counts_as_abandoned=r.boolean("amd_counts_as_abandoned", True),
    )


class _Reader:
    """Typed access to the raw JSON object with errors that name the file and key."""

    def __init__(self, raw: dict[str, Any], source: str) -> None:
        self._raw = raw
        self._source = source

    def fail(self, key: str, what: str) -> ValueError:
        return ValueError(f"{self._source}: key {key!r}: {what}")

    def get(self, key: str, default: Any = None, required: bool = True) -> Any:
        if key not in self._raw:
            if default is None and required:
                raise self.fail(key, "missing")
            return default
        return self._raw[key]

    def number(self, key: str, default: float | None, low: float, high: float) -> float:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"expected a number, got {value!r}")
        if not math.isfinite(value) or not low <= value <= high:
            raise self.fail(key, f"expected a number in [{low}, {high}], got {value!r}")
        return float(value)

    def integer(self, key: str, default: int | None, low: int, high: int) -> int:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, got {value!r}")
        if not low <= value <= high:
            raise self.fail(key, f"expected an integer in [{low}, {high}], got {value!r}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default, required=False)
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value

    def answer_steps(self, key: str) -> tuple[tuple[int, float], ...]:
        value = self.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            p = self.number(key, None, low=0.0, high=1.0)
            return ((0, p),)
        if not isinstance(value, list) or not value:
            raise self.fail(key, "expected a probability or a non-empty list of [hour, p]")
        steps: list[tuple[int, float]] = []
        for item in value:
            ok = (isinstance(item, list) and len(item) == 2
                  and isinstance(item[0], int) and not isinstance(item[0], bool)
                  and isinstance(item[1], int | float) and not isinstance(item[1], bool))
            if not ok or not 0 <= item[0] <= 23 or not 0.0 <= item[1] <= 1.0:
                raise self.fail(key, f"expected [hour 0-23, p in [0, 1]], got {item!r}")
            steps.append((item[0], float(item[1])))
        hours = [h for h, _ in steps]
        if hours != sorted(set(hours)):
            raise self.fail(key, "hours must be strictly increasing")
        return tuple(steps)

    def distribution(self, key: str) -> Distribution:
        value = self.get(key)
        if not isinstance(value, dict):
            raise self.fail(key, "expected {dist, mean[, sd]}")
        extra = sorted(set(value) - {"dist", "mean", "sd"})
        if extra:
            raise self.fail(key, f"unknown field {extra[0]!r}")
        dist, mean, sd = value.get("dist"), value.get("mean"), value.get("sd", 0.0)
        if not isinstance(dist, str):
            raise self.fail(key, f"'dist' must be one of {DISTRIBUTIONS}")
        for field, number in (("mean", mean), ("sd", sd)):
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise self.fail(key, f"{field!r} must be a number, got {number!r}")
        assert isinstance(mean, int | float) and isinstance(sd, int | float)
        try:
            return Distribution(dist, float(mean), float(sd))
        except ValueError as exc:
            raise self.fail(key, str(exc)) from exc
