"""`make bench`: every benchmark, each printing its table beside its baseline.

`python -m tests.bench [NAME ...]` runs the named ones (events, leasing, import).
"""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "events": "tests.bench.bench_events",
    "leasing": "tests.bench.bench_leasing",
    "import": "tests.bench.bench_import",
    "gate": "tests.bench.bench_gate",
}


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHES)}",
              file=sys.stderr)
        return 2
    for name in names or list(BENCHES):
        print(f"\n== {name} ==", flush=True)
        module = importlib.import_module(BENCHES[name])
        module.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
