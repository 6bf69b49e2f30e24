"""Workload files: the shipped benchmarks load; bad input fails with the file and key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from predictive.workload import Distribution, load_workload, parse_workload

WORKLOADS = Path(__file__).resolve().parents[2] / "predictive" / "workloads"

VALID: dict[str, Any] = {
    "name": "T", "agents": 5, "hours": 2, "days": 1, "answer_probability": 0.3,
    "dial_seconds": {"dist": "exponential", "mean": 20},
    "talk_seconds": {"dist": "lognormal", "mean": 120, "sd": 60},
    "wrap_seconds": {"dist": "constant", "mean": 30},
    "drop_seconds": 2, "abandon_cap": 0.03, "amd_false_positive": 0.0, "seed": 1,
}


def test_shipped_workloads_load() -> None:
    """Steps: load B1–B4 and B5_hourly. Expected: the figures of the issue."""
    b = {p.stem: load_workload(p) for p in WORKLOADS.glob("*.json")}
    assert set(b) == {"B1", "B2", "B3", "B4", "B5_hourly"}
    assert (b["B1"].agents, b["B1"].answer_probability(12), b["B1"].talk_seconds.mean) == (
        20, 0.3, 120)
    assert (b["B2"].answer_probability(9), b["B2"].dial_seconds.mean) == (0.1, 25)
    assert (b["B3"].agents, b["B4"].agents, b["B4"].talk_seconds.mean) == (10, 50, 180)
    assert b["B5_hourly"].answer_probability(9) < b["B5_hourly"].answer_probability(16)
    for w in b.values():
        assert (w.hours, w.days, w.drop_seconds, w.abandon_cap) == (8, 5, 2.0, 0.03)


def test_answer_probability_steps() -> None:
    """Steps: steps [[9, .1], [12, .2], [15, .4]]. Expected: before 9 the first step, then
    each step holds until the next; the mean is over the working hours."""
    w = parse_workload({**VALID, "answer_probability": [[9, 0.1], [12, 0.2], [15, 0.4]],
                        "hours": 8})
    assert [w.answer_probability(h) for h in (7, 9, 11, 12, 14, 15, 23)] == [
        0.1, 0.1, 0.1, 0.2, 0.2, 0.4, 0.4]
    assert w.mean_answer_probability == pytest.approx((3 * 0.1 + 3 * 0.2 + 2 * 0.4) / 8)
    assert (w.start_hour, w.machine_probability, w.amd_counts_as_abandoned) == (9, 0.0, True)


@pytest.mark.parametrize(("dist", "sd"), [("exponential", 0.0), ("lognormal", 60.0),
                                          ("gamma", 60.0), ("constant", 0.0)])
def test_distributions_match_mean_and_sd(dist: str, sd: float) -> None:
    """Steps: draw 200 000 times from each family with mean 120. Expected: the sample mean
    and sd within 2 % of the parameters (exponential sd = mean, constant sd = 0)."""
    d = Distribution(dist, 120.0, sd)
    x = d.sample(np.random.default_rng(7), 200_000)
    assert x.mean() == pytest.approx(120.0, rel=0.02)
    assert x.std() == pytest.approx(d.variance ** 0.5, rel=0.02, abs=1e-9)
    assert (x >= 0).all()


@pytest.mark.parametrize(("patch", "key"), [
    ({"agents": 0}, "agents"),
    ({"agents": 2.5}, "agents"),
    ({"answer_probability": 1.5}, "answer_probability"),
    ({"answer_probability": [[12, 0.2], [9, 0.1]]}, "answer_probability"),
    ({"answer_probability": [[9]]}, "answer_probability"),
    ({"answer_probability": "high"}, "answer_probability"),
    ({"talk_seconds": {"dist": "weibull", "mean": 1}}, "talk_seconds"),
    ({"talk_seconds": {"dist": "lognormal", "mean": 120}}, "talk_seconds"),
    ({"dial_seconds": {"dist": "exponential", "mean": -1}}, "dial_seconds"),
    ({"wrap_seconds": {"dist": "constant", "mean": "30"}}, "wrap_seconds"),
    ({"abandon_cap": 3}, "abandon_cap"),
    ({"drop_seconds": True}, "drop_seconds"),
    ({"start_hour": 20, "hours": 8}, "hours"),
    ({"amd_counts_as_abandoned": "yes"}, "amd_counts_as_abandoned"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_values_name_file_and_key(tmp_path: Path, patch: dict[str, Any], key: str) -> None:
    """Steps: write a workload with one bad value, load it. Expected: ValueError whose
    message names the file and the key."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**VALID, **patch}))
    with pytest.raises(ValueError, match=rf"bad\.json: .*'{key}'"):
        load_workload(path)


def test_missing_key_and_bad_json(tmp_path: Path) -> None:
    """Steps: a workload without `seed`; a file that is not JSON; a JSON list.
    Expected: ValueErrors naming the file (and `seed` for the first)."""
    path = tmp_path / "w.json"
    path.write_text(json.dumps({k: v for k, v in VALID.items() if k != "seed"}))
    with pytest.raises(ValueError, match=r"w\.json: key 'seed': missing"):
        load_workload(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"w\.json: cannot read"):
        load_workload(path)
    path.write_text("[]")
    with pytest.raises(ValueError, match=r"w\.json: a workload is a JSON object"):
        load_workload(path)
    with pytest.raises(ValueError, match=r"missing\.json: cannot read"):
        load_workload(tmp_path / "missing.json")
