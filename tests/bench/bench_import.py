"""Import throughput: `import_debtors` against a raw COPY of the same file, same database.

    .venv/bin/python -m tests.bench.bench_import [--rows N] [--seed S]

Generates a seeded CSV of N debtors (default 1,000,000) in a temp dir, then times
1. raw COPY of the file into a bare table with the same columns, all text (the floor:
   no validation, no encryption, no upsert);
2. `import_debtors` (validate, encrypt, COPY to staging, set-based upsert);
3. `import_debtors` again on the same file (every row unchanged).
It needs PostgreSQL: with DATABASE_URL it creates (and drops) a scratch database there,
otherwise it starts a private throwaway cluster (fsync off) in the temp dir.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from db.crypto import PiiCipher, load_or_create_keyfile
from db.debtors import NAME_PURPOSE, PHONE_PURPOSE
from db.migrate import migrate
from db.pool import create_pool
from db.portfolio_import import ID_NUMBER_PURPOSE, ROW_HASH_PURPOSE
from engine.lab.postgres import PrivateCluster
from engine.portfolio.importer import import_debtors
from engine.portfolio.validate import resident_id_check_char
from tests.integration.conftest_db import THROWAWAY_SETTINGS, free_tcp_port

GOAL_RATIO = 0.3
HEADER = [
    "external_id", "name", "phone", "alt_phones", "id_number", "amount_due", "currency",
    "overdue_days", "due_date", "credit_rating", "broken_promises", "on_time_ratio",
    "timezone", "language", "branch",
]  # fmt: skip
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
_MOBILE_PREFIXES = ("138", "139", "150", "151", "186", "187", "135", "136", "158", "188")
_RATINGS = ("A", "B", "C", "D", "")


def generate_csv(path: Path, rows: int, seed: int) -> None:
    """N plausible debtors: valid CN mobiles and resident IDs, a few alt phones."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(rows):
            phone = rng.choice(_MOBILE_PREFIXES) + f"{n:08d}"
            alt = rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
            first17 = f"110105{rng.randrange(1950, 2000)}{rng.randrange(1, 13):02d}" + (
                f"{rng.randrange(1, 29):02d}{rng.randrange(1000):03d}"
            )
            name = rng.choice(_SURNAMES) + "".join(rng.choices(_GIVEN, k=rng.randrange(1, 3)))
            writer.writerow(
                [
                    f"ACC{n:09d}", name, phone, alt if n % 3 == 0 else "",
                    first17 + resident_id_check_char(first17),
                    f"{rng.randrange(100, 50_000_000) / 100:.2f}", "CNY",
                    rng.randrange(0, 720), f"2025-{rng.randrange(1, 13):02d}-15",
                    rng.choice(_RATINGS), rng.randrange(0, 5), f"{rng.random():.3f}", "", "",
                    f"branch-{rng.randrange(40)}",
                ]
            )  # fmt: skip


@asynccontextmanager
async def scratch_database(workdir: Path) -> AsyncIterator[str]:
    """DSN of a fresh migrated database, dropped (or its cluster stopped) afterwards."""
    cluster = None
    admin_dsn = os.environ.get("DATABASE_URL")
    if admin_dsn is None:
        cluster = PrivateCluster(workdir / "pg", port=free_tcp_port(), settings=THROWAWAY_SETTINGS)
        cluster.ensure_initialised()
        cluster.start()
        cluster.create_database()
        admin_dsn = cluster.dsn
    name = f"bench_import_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f"CREATE DATABASE {name}")
        finally:
            await admin.close()
        dsn = _with_database(admin_dsn, name)
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        try:
            yield dsn
        finally:
            if cluster is None:  # a private cluster is thrown away whole
                await _drop_database(admin_dsn, name)
    finally:
        if cluster is not None:
            cluster.stop()


async def _drop_database(admin_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        # An autovacuum worker on the fresh tables cannot be terminated without the
        # pg_signal_backend role: then wait for it rather than fail after the results.
        for attempt in range(30):
            try:
                await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                return
            except asyncpg.InsufficientPrivilegeError:
                if attempt == 29:
                    print(f"warning: could not drop scratch database {name}", file=sys.stderr)
                    return
                await asyncio.sleep(2)
    finally:
        await admin.close()


def _with_database(dsn: str, database: str) -> str:
    base, _, query = dsn.partition("?")
    scheme, _, rest = base.partition("://")
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{database}" + (f"?{query}" if query else "")


async def raw_copy(pool: asyncpg.Pool, path: Path) -> float:
    columns = ", ".join(f"{column} text" for column in HEADER)
    async with pool.acquire() as conn:
        await conn.execute(
            f"DROP TABLE IF EXISTS bare_import; CREATE TABLE bare_import ({columns})"
        )
        start = time.perf_counter()
        await conn.copy_to_table("bare_import", source=path, format="csv", header=True)
        return time.perf_counter() - start


def crypto_floor(cipher: PiiCipher, path: Path) -> float:
    """Seconds one core spends on the encryption and keyed hashing every imported row
    needs (name, ID number, each phone encrypted; ID number and phones blind-indexed;
    the row hash), with nothing else: no parsing, validation or database. It bounds
    the ratio this machine can reach: COPY seconds / (floor seconds / cores)."""
    with path.open(encoding="utf-8", newline="") as handle:
        records = list(csv.DictReader(handle))
    encrypt_name = cipher.encryptor(NAME_PURPOSE)
    encrypt_id = cipher.encryptor(ID_NUMBER_PURPOSE)
    encrypt_phone = cipher.encryptor(PHONE_PURPOSE)
    index_id = cipher.indexer(ID_NUMBER_PURPOSE)
    index_phone = cipher.indexer(PHONE_PURPOSE)
    index_row = cipher.indexer(ROW_HASH_PURPOSE)
    start = time.perf_counter()
    for record in records:
        encrypt_name(record["name"])
        encrypt_id(record["id_number"])
        index_id(record["id_number"])
        for phone in (record["phone"], *filter(None, record["alt_phones"].split(";"))):
            encrypt_phone(phone)
            index_phone(phone)
        index_row(",".join(record.values()))
    return time.perf_counter() - start


async def run(rows: int, seed: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        workdir = Path(tmp)
        csv_path = workdir / "debtors.csv"
        start = time.perf_counter()
        generate_csv(csv_path, rows, seed)
        size_mb = csv_path.stat().st_size / 1e6
        print(f"generated {rows:,} rows ({size_mb:.0f} MB) in {time.perf_counter() - start:.1f} s")
        cipher = load_or_create_keyfile(workdir / "keys.json")
        floor_s = crypto_floor(cipher, csv_path)
        async with scratch_database(workdir) as dsn:
            pool = await create_pool(dsn, min_size=1, max_size=2, statement_timeout=900)
            try:
                copy_s = await raw_copy(pool, csv_path)
                results = [("raw COPY into a bare text table (baseline)", copy_s, "")]
                for label in ("import_debtors, empty database", "import_debtors, same file again"):
                    start = time.perf_counter()
                    report = await import_debtors(
                        pool, cipher, csv_path, encoding=None, rejects_path=None
                    )
                    elapsed = time.perf_counter() - start
                    note = (
                        f"new {report.accepted:,} upd {report.updated:,} "
                        f"same {report.unchanged:,} rej {report.rejected:,}"
                    )
                    results.append((label, elapsed, note))
            finally:
                await pool.close()
    print(f"{'path':44} {'seconds':>8} {'rows/s':>10} {'ratio':>6}  result")
    for label, seconds, note in results:
        ratio = copy_s / seconds
        print(f"{label:44} {seconds:8.2f} {rows / seconds:10,.0f} {ratio:6.2f}  {note}")
    cores = os.cpu_count() or 1
    print(
        f"{'per-row encryption + keyed hashes only, 1 core':44} {floor_s:8.2f} "
        f"{rows / floor_s:10,.0f} {copy_s / floor_s:6.2f}  "
        f"(no parsing, validation or database)"
    )
    print(
        f"ceiling on this machine ({cores} cores, crypto alone, perfectly parallel): "
        f"ratio {copy_s * cores / floor_s:.2f}"
    )
    verdict = "meets" if copy_s / results[1][1] >= GOAL_RATIO else "misses"
    print(f"first import {verdict} the goal ratio >= {GOAL_RATIO} (import rows/s ÷ COPY rows/s)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20261128)
    args = parser.parse_args(argv)
    asyncio.run(run(args.rows, args.seed))


if __name__ == "__main__":
    main(sys.argv[1:])
