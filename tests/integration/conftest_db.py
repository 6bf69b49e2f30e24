"""PostgreSQL fixtures: one private cluster per session, one fresh database per test.

Import them into a conftest.py (or a test module) with
`from tests.integration.conftest_db import *`; `__all__` lists every fixture needed.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest

from db.migrate import migrate
from db.pool import create_pool
from engine.lab.postgres import PrivateCluster

__all__ = ["db_pool", "empty_db_dsn", "pg_cluster", "pg_template"]

TEMPLATE_DATABASE = "huilong_template"
# A throwaway test cluster does not need to survive a power cut; these make it fast.
# No autovacuum either: its workers belong to the bootstrap superuser, and `huilong` (not
# a superuser) cannot end one, so a DROP DATABASE … WITH (FORCE) at a test's teardown
# failed whenever a worker happened to be vacuuming that test's database.
THROWAWAY_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
                      "autovacuum": "off"}
POOL_CLOSE_TIMEOUT_S = 10.0

T = TypeVar("T")


class _SharedCluster:
    """One cluster per session even if these fixtures are imported in several places
    (each import registers its own session fixture with its own cache)."""

    def __init__(self) -> None:
        self.cluster: PrivateCluster | None = None
        self.users = 0
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    def acquire(self, tmp_path_factory: pytest.TempPathFactory) -> PrivateCluster:
        if self.cluster is None:
            # Not under pytest's numbered temp folders: another pytest run on the same
            # machine prunes the older ones, and would delete this cluster's data under it.
            self._folder = tempfile.TemporaryDirectory(prefix="huilong-test-pg-")
            base_dir = Path(self._folder.name)
            cluster = PrivateCluster(
                base_dir / "data", port=free_tcp_port(), settings=THROWAWAY_SETTINGS
            )
            cluster.ensure_initialised()
            cluster.start()
            self.cluster = cluster
        self.users += 1
        return self.cluster

    def release(self) -> None:
        self.users -= 1
        if self.users == 0 and self.cluster is not None:
            self.cluster.stop()
            self.cluster = None
            if self._folder is not None:
                self._folder.cleanup()
                self._folder = None


_SHARED = _SharedCluster()


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateCluster]:
    """A started private cluster (role and database `huilong`), stopped after the session."""
    cluster = _SHARED.acquire(tmp_path_factory)
    try:
        cluster.create_database()
        yield cluster
    finally:
        _SHARED.release()


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PrivateCluster) -> str:
    """Name of a database migrated to the latest schema, to clone per test."""
    pg_cluster.create_database(TEMPLATE_DATABASE)

    async def migrate_template() -> None:
        conn = await asyncpg.connect(pg_cluster.dsn_for(TEMPLATE_DATABASE))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    _run_in_own_loop(migrate_template)
    return TEMPLATE_DATABASE


@pytest.fixture
async def db_pool(pg_cluster: PrivateCluster, pg_template: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh, migrated database of its own, dropped after the test."""
    async with _scratch_database(pg_cluster, template=pg_template) as dsn:
        pool = await create_pool(dsn, min_size=1, max_size=4)
        try:
            yield pool
        finally:
            await _close_pool(pool)


@pytest.fixture
async def empty_db_dsn(pg_cluster: PrivateCluster) -> AsyncIterator[str]:
    """DSN of a fresh database that was never migrated, dropped after the test."""
    async with _scratch_database(pg_cluster, template="template0") as dsn:
        yield dsn


@asynccontextmanager
async def _scratch_database(cluster: PrivateCluster, *, template: str) -> AsyncIterator[str]:
    name = f"test_{uuid.uuid4().hex[:16]}"
    await _admin(cluster, f"CREATE DATABASE {name} TEMPLATE {template}")
    try:
        yield cluster.dsn_for(name)
    finally:
        await _admin(cluster, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def _admin(cluster: PrivateCluster, statement: str) -> None:
    conn = await asyncpg.connect(cluster.dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _close_pool(pool: asyncpg.Pool) -> None:
    try:
        async with asyncio.timeout(POOL_CLOSE_TIMEOUT_S):
            await pool.close()
    except TimeoutError:
        pool.terminate()
        raise


def _run_in_own_loop(make_coroutine: Callable[[], Awaitable[T]]) -> T:
    # A session fixture must not create or replace the event loop pytest-asyncio manages
    # for the tests, so the one-off async work runs on a loop in a worker thread.
    async def run() -> T:
        return await make_coroutine()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-template") as executor:
        return executor.submit(asyncio.run, run()).result()


def free_tcp_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
