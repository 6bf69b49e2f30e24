"""`make bench`: the compliance gate — decisions per second on the fast path against the
reference evaluation (every rule over the whole history, again at every instant
`settle` looks at), both measured in this run on the same fixed workload.

The workload is every call the seeded 30-day replay makes for its first DEBTORS
debtors (CN, US with one or two zones, UK; caps, retries at `until`), each with the
history as it was at that moment. Both paths must give identical Decisions: the bench
checks that before timing.

`python -m tests.bench gate` or `python -m tests.bench.bench_gate [--debtors N]`.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable, Sequence
from datetime import datetime

import engine.compliance.replay as replay
from engine.compliance.gate import decide, reference_decide
from engine.compliance.model import (
    CampaignPolicy,
    ContactAttempt,
    DebtorFacts,
    Decision,
    NumberFacts,
)
from engine.compliance.packs import Packs

DEBTORS = 600
ROUNDS = 5

Call = tuple[DebtorFacts, NumberFacts, CampaignPolicy, tuple[ContactAttempt, ...], datetime,
             Packs]
Decide = Callable[[DebtorFacts, NumberFacts, CampaignPolicy, Sequence[ContactAttempt],
                   datetime, Packs], Decision]


def workload(debtors: int) -> list[Call]:
    """The calls the replay makes for debtors 1..`debtors` (seed fixed in ReplayConfig)."""
    calls: list[Call] = []

    def record(debtor: DebtorFacts, number: NumberFacts, policy: CampaignPolicy,
               history: Sequence[ContactAttempt], now: datetime, packs: Packs) -> Decision:
        calls.append((debtor, number, policy, tuple(history), now, packs))
        return decide(debtor, number, policy, history, now, packs)

    original = replay.decide
    replay.decide = record
    try:
        replay.run_replay(replay.ReplayConfig(debtors=debtors))
    finally:
        replay.decide = original
    return calls


def measure(fn: Decide, calls: list[Call]) -> float:
    """Best seconds per decision over ROUNDS rounds (GC off while timing)."""
    best = float("inf")
    for _ in range(ROUNDS):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            for call in calls:
                fn(*call)
            best = min(best, time.perf_counter() - start)
        finally:
            gc.enable()
    return best / len(calls)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_gate", description=__doc__)
    parser.add_argument("--debtors", type=int, default=DEBTORS)
    args = parser.parse_args(argv)
    calls = workload(args.debtors)
    mismatches = sum(1 for call in calls if decide(*call) != reference_decide(*call))
    if mismatches:
        raise SystemExit(f"fast path and reference disagree on {mismatches} decisions")
    histories = sum(len(call[3]) for call in calls) / len(calls)
    print(f"compliance gate: {len(calls):,} decisions of the seeded replay's first "
          f"{args.debtors} debtors (history {histories:.1f} attempts on average), "
          f"best of {ROUNDS} rounds; both paths agree on every decision")
    rows = [("reference (full rescans; baseline)", measure(reference_decide, calls)),
            ("decide (indexed fast path)", measure(decide, calls))]
    base = rows[0][1]
    print(f"{'path':36} {'µs/decision':>12} {'decisions/s':>13} {'speed-up':>9}")
    for name, per_call in rows:
        print(f"{name:36} {per_call * 1e6:12.2f} {1 / per_call:13,.0f} "
              f"{base / per_call:8.1f}×")
    by_region: dict[str, list[Call]] = {}
    for call in calls:
        by_region.setdefault(call[0].region, []).append(call)
    for region, subset in sorted(by_region.items()):
        ref, fast = measure(reference_decide, subset), measure(decide, subset)
        print(f"  {region}: {len(subset):6,} decisions  reference {ref * 1e6:7.2f} µs  "
              f"fast {fast * 1e6:6.2f} µs  ({ref / fast:.1f}×)")


if __name__ == "__main__":
    main()
