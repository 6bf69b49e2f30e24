"""A throwaway PostgreSQL for benchmarks: a private cluster in a temporary folder (never
an operator's database: benchmarks create and fill tables freely)."""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from engine.lab.postgres import PrivateCluster

THROWAWAY = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
             "shared_buffers": "512MB", "max_wal_size": "4GB"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def bench_database() -> AsyncIterator[str]:
    """Start a private cluster, yield the DSN of its `huilong` database, stop it."""
    with tempfile.TemporaryDirectory(prefix="huilong-bench-") as tmp:
        cluster = PrivateCluster(Path(tmp) / "data", port=_free_port(), settings=THROWAWAY)
        await asyncio.to_thread(cluster.ensure_initialised)
        await asyncio.to_thread(cluster.start)
        try:
            await asyncio.to_thread(cluster.create_database)
            yield cluster.dsn
        finally:
            await asyncio.to_thread(cluster.stop)
