"""Eligible-batch selection at scale: lease latency with two concurrent workers.

One campaign of N debtors (default 1,000,000, all pending, random priorities, a tenth
deferred by the gate). Two workers lease batches of 50 in a loop, as two daemons
would, and settle what they leased. Beside it, in the same run and database, the
baseline: the same ordered selection as a plain SELECT with no locking or update —
the floor any leasing scheme pays.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import asyncpg

from db.migrate import migrate
from db.targets import TargetRepository
from tests.bench.postgres import bench_database

BATCH = 50
LEASES_PER_WORKER = 400

_FILL = """
INSERT INTO campaigns (id, name) VALUES (1, 'bench') ON CONFLICT DO NOTHING;
INSERT INTO debtors (id, external_id)
    SELECT g, 'B' || g FROM generate_series(1, $1) g;
INSERT INTO debtor_phones (id, debtor_id, phone_enc, phone_bidx, key_id, masked)
    SELECT g, g, '\\x00', int8send(g), 'k', '+86***' FROM generate_series(1, $1) g;
INSERT INTO campaign_targets (campaign_id, debtor_id, phone_id, priority, next_allowed_at)
    SELECT 1, g, g, (random() * 1000)::numeric(10, 4),
           CASE WHEN g % 10 = 0 THEN now() + interval '1 day' END
    FROM generate_series(1, $1) g;
ANALYZE campaign_targets;
"""

_BASELINE = """
SELECT id, campaign_id, debtor_id, phone_id, priority FROM campaign_targets
WHERE campaign_id = 1 AND status = 'pending'
  AND (next_allowed_at IS NULL OR next_allowed_at <= now())
ORDER BY priority DESC, id LIMIT $1
"""


async def timed(samples: list[float], op: Callable[[], Awaitable[object]]) -> object:
    start = time.perf_counter()
    result = await op()
    samples.append(time.perf_counter() - start)
    return result


async def lease_worker(pool: asyncpg.Pool, name: str, samples: list[float]) -> int:
    repo = TargetRepository(pool)
    leased = 0
    for _ in range(LEASES_PER_WORKER):
        batch = await timed(samples, lambda: repo.lease(1, BATCH, name))
        ids = [t.id for t in batch]  # type: ignore[attr-defined]
        leased += len(ids)
        await pool.execute("UPDATE campaign_targets SET status = 'done' WHERE id = ANY($1)", ids)
    return leased


async def baseline_worker(pool: asyncpg.Pool, samples: list[float]) -> None:
    for _ in range(LEASES_PER_WORKER):
        await timed(samples, lambda: pool.fetch(_BASELINE, BATCH))


def row(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"{name:40} {len(ms):7d} {p50:9.2f} {p99:9.2f} {max(ms):9.2f}"


async def run(debtors: int) -> None:
    async with bench_database() as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn)
            started = time.perf_counter()
            await conn.execute(_FILL.replace("$1", str(int(debtors))))
            fill_s = time.perf_counter() - started
        finally:
            await conn.close()
        pool = await asyncpg.create_pool(dsn, min_size=4, max_size=4)
        try:
            base_a: list[float] = []
            base_b: list[float] = []
            await asyncio.gather(baseline_worker(pool, base_a), baseline_worker(pool, base_b))
            lease_a: list[float] = []
            lease_b: list[float] = []
            got = await asyncio.gather(lease_worker(pool, "a", lease_a),
                                       lease_worker(pool, "b", lease_b))
        finally:
            await pool.close()
    print(f"eligible-batch selection: {debtors:,} debtors in one campaign "
          f"(filled in {fill_s:.1f} s), 2 concurrent workers, batches of {BATCH}")
    print(f"{'selection':40} {'calls':>7} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    print(row("plain SELECT, no lease (baseline)", base_a + base_b))
    print(row("lease: SKIP LOCKED + update (ours)", lease_a + lease_b))
    print(f"leased {sum(got):,} distinct targets; goal p99 <= 20 ms")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--debtors", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    asyncio.run(run(args.debtors))


if __name__ == "__main__":
    main()
