"""`make bench`: every benchmark, each printing its table beside its baseline.

`python -m tests.bench [NAME ...]` runs the named ones (events, leasing, import, gate,
pacing, bot, pacing_live, analytics, best_time).
"""

from __future__ import annotations

import importlib
import sys

# name → (module with main(argv), the argv it runs with here)
BENCHES: dict[str, tuple[str, list[str]]] = {
    "events": ("tests.bench.bench_events", []),
    "leasing": ("tests.bench.bench_leasing", []),
    "import": ("tests.bench.bench_import", []),
    "gate": ("tests.bench.bench_gate", []),
    "pacing": ("predictive.bench", ["--all"]),
    "bot": ("tests.bench.bench_bot", []),
    "pacing_live": ("tests.bench.bench_pacing_live", []),
    "analytics": ("tests.bench.bench_analytics", []),
    "best_time": ("tests.bench.bench_best_time", []),
}


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHES)}",
              file=sys.stderr)
        return 2
    for name in names or list(BENCHES):
        print(f"\n== {name} ==", flush=True)
        module_name, argv = BENCHES[name]
        importlib.import_module(module_name).main(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
