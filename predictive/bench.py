"""The pacing benchmark: every registered policy on the same random streams, plus the bound.

    python -m predictive.bench --workload predictive/workloads/B1.json [--json] [--days N]
    python -m predictive.bench --all [--json] [--days N]

Per policy: occupancy (talk + wrap over logged-in time), talk minutes per agent-hour,
abandon rate (abandoned / live answers) over the run, on the worst day and in the worst
hour, and lines (calls ringing) per agent. The bound row comes from
`predictive.bound.solve(workload)` when that module exists.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from predictive.policies import registry
from predictive.simulator import RunResult, simulate
from predictive.workload import Workload, load_workload

WORKLOAD_DIR = Path(__file__).resolve().parent / "workloads"


def shipped_workloads() -> list[Path]:
    return sorted(WORKLOAD_DIR.glob("*.json"))


def bound_occupancy(workload: Workload) -> float | None:
    """The bound's occupancy, or None when `predictive.bound` is absent or fails."""
    try:
        bound = importlib.import_module("predictive.bound")
    except ModuleNotFoundError as exc:
        if exc.name != "predictive.bound":
            raise
        return None
    solve = getattr(bound, "solve", None)
    if solve is None:
        return None
    try:
        return float(solve(workload).occupancy)
    except Exception as exc:  # the bench still reports the policies
        print(f"bound unavailable for {workload.name}: {exc!r}", file=sys.stderr)
        return None


def run_workload(workload: Workload, days: int | None = None,
                 policies: Sequence[str] | None = None) -> list[RunResult]:
    """Every selected policy (default: all registered) over the same streams."""
    factories = registry()
    names = list(factories) if policies is None else list(policies)
    unknown = [n for n in names if n not in factories]
    if unknown:
        raise SystemExit(f"unknown policy {unknown[0]!r} (known: {', '.join(factories)})")
    return [simulate(workload, factories[name], days=days) for name in names]


def as_json(workload: Workload, bound: float | None,
            results: Sequence[RunResult]) -> dict[str, Any]:
    """The issue's benchmark object."""
    return {
        "workload": workload.name,
        "bound": None if bound is None else {"occupancy": bound},
        "results": [{
            "policy": r.policy,
            "occupancy": r.metrics.occupancy,
            "abandon_rate": r.metrics.abandon_rate,
            "worst_day_abandon_rate": r.metrics.worst_day_abandon_rate,
            "talk_minutes_per_agent_hour": r.metrics.talk_minutes_per_agent_hour,
        } for r in results],
    }


_HEADER = (f"{'policy':<18}{'occupancy':>10}{'talk min/ag-h':>15}{'abandon':>9}"
           f"{'worst day':>11}{'worst hour':>12}{'lines/agent':>13}")


def as_table(workload: Workload, bound: float | None, results: Sequence[RunResult]) -> str:
    days = len(results[0].days) if results else workload.days
    steps = workload.answer_steps
    p = (f"p {steps[0][1]:.2f}" if len(steps) == 1
         else "p " + " ".join(f"{h}h:{q:.2f}" for h, q in steps))
    lines = [f"{workload.name}: {workload.agents} agents, {p}, {days} days × "
             f"{workload.hours} h, abandon cap {workload.abandon_cap:.1%}", _HEADER]
    if bound is not None:
        lines.append(f"{'bound':<18}{bound:>10.1%}")
    for r in results:
        m = r.metrics
        lines.append(
            f"{r.policy:<18}{m.occupancy:>10.1%}{m.talk_minutes_per_agent_hour:>15.1f}"
            f"{m.abandon_rate:>9.2%}{m.worst_day_abandon_rate:>11.2%}"
            f"{m.worst_hour_abandon_rate:>12.2%}{m.lines_per_agent:>13.2f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m predictive.bench",
                                     description="Benchmark the pacing policies.")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--workload", type=Path, help="a workload JSON file")
    which.add_argument("--all", action="store_true", help="every shipped workload")
    parser.add_argument("--json", action="store_true", help="print the JSON object(s)")
    parser.add_argument("--days", type=int, default=None, help="override the days")
    parser.add_argument("--policy", action="append", default=None,
                        help="only this policy (repeatable)")
    args = parser.parse_args(argv)
    if args.days is not None and args.days < 1:
        parser.error("--days must be ≥ 1")
    paths = shipped_workloads() if args.all else [args.workload]
    try:
        workloads = [load_workload(p) for p in paths]
    except ValueError as exc:
        parser.error(str(exc))
    objects = []
    for workload in workloads:
        results = run_workload(workload, args.days, args.policy)
        bound = bound_occupancy(workload)
        if args.json:
            objects.append(as_json(workload, bound, results))
        else:
            print(as_table(workload, bound, results), end="\n\n", flush=True)
    if args.json:
        print(json.dumps(objects if args.all else objects[0], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
