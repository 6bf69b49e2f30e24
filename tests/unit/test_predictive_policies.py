"""The simple policies, the registry and the benchmark CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from predictive import bench
from predictive.model import DialerState
from predictive.policies import get_policy, policy_names, registry
from predictive.policies.basic import FixedRatio, Preview, Progressive
from predictive.workload import load_workload

B1 = Path(__file__).resolve().parents[2] / "predictive" / "workloads" / "B1.json"


def state(now: float = 0.0, ready: int = 0, ringing: int = 0) -> DialerState:
    return DialerState(now=now, agents_logged_in=10, agents_ready=ready, agents_in_call=0,
                       agents_wrap_up=10 - ready, calls_ringing=ringing, calls_waiting=0,
                       calls_connected=0)


def test_progressive_and_fixed_ratio() -> None:
    """Steps: 4 ready, 1 ringing; 0 ready, 3 ringing. Expected: progressive 3 then 0;
    ratio 1.5: round(6) − 1 = 5 then 0; a ratio below 1 is refused."""
    assert Progressive().dials(state(ready=4, ringing=1)) == 3
    assert Progressive().dials(state(ringing=3)) == 0
    assert FixedRatio(1.5).dials(state(ready=4, ringing=1)) == 5
    assert FixedRatio(1.5).dials(state(ringing=3)) == 0
    with pytest.raises(ValueError, match="ratio"):
        FixedRatio(0.5)


def test_preview_waits_for_the_agent_to_read_the_account() -> None:
    """Steps: preview 5 s; 2 agents become free at t = 0, a third at t = 2. Expected: no
    dial before t = 5, two at 5 (ringing then counts them), one at 7."""
    p = Preview(preview_s=5.0)
    seen = [p.dials(state(now=0.0, ready=2)), p.dials(state(now=2.0, ready=3)),
            p.dials(state(now=4.0, ready=3)), p.dials(state(now=5.0, ready=3)),
            p.dials(state(now=6.0, ready=3, ringing=2)),
            p.dials(state(now=7.0, ready=3, ringing=2))]
    assert seen == [0, 0, 0, 2, 0, 1]


def test_registry_has_every_policy() -> None:
    """Steps: list the registry. Expected: the five baselines in order (huilong after them
    when its module exists); every factory builds a policy with a name and a tick; an
    unknown name is a KeyError listing the known ones."""
    names = policy_names()
    assert names[:5] == ["preview", "progressive", "fixed_ratio", "vicidial_default",
                         "vicidial_tuned"]
    assert set(names) <= {*names[:5], "huilong"}
    w = load_workload(B1)
    for name, factory in registry().items():
        if name == "vicidial_tuned":
            continue  # tuning runs 16 simulations; covered in test_predictive_vicidial
        policy = factory(w)
        assert policy.tick_s > 0 and policy.name == name
    with pytest.raises(KeyError, match="progressive"):
        get_policy("nope")


def test_bench_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: `bench --workload B1.json --json --days 1 --policy progressive --policy
    fixed_ratio`. Expected: one JSON object with the issue's keys, one result per policy,
    rates as fractions."""
    assert bench.main(["--workload", str(B1), "--json", "--days", "1",
                       "--policy", "progressive", "--policy", "fixed_ratio"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"workload", "bound", "results"}
    assert out["workload"] == "B1"
    assert out["bound"] is None or set(out["bound"]) == {"occupancy"}
    assert [r["policy"] for r in out["results"]] == ["progressive", "fixed_ratio"]
    for r in out["results"]:
        assert set(r) == {"policy", "occupancy", "abandon_rate", "worst_day_abandon_rate",
                          "talk_minutes_per_agent_hour"}
        assert 0 < r["occupancy"] < 1 and 0 <= r["abandon_rate"] < 1


def test_bench_table_and_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Steps: the table for one policy; a bad workload file. Expected: a header and the
    policy row; the bad file exits with an error naming it."""
    assert bench.main(["--workload", str(B1), "--days", "1", "--policy", "progressive"]) == 0
    out = capsys.readouterr().out
    assert "occupancy" in out and "\nprogressive " in out
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(SystemExit):
        bench.main(["--workload", str(bad)])
    assert "bad.json" in capsys.readouterr().err
