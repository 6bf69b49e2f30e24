"""Integration fixtures: the real lab (PBX + carrier Asterisk running our configs), a
PostgreSQL database per test, and the checks Asterisk's own test suite makes after
every test: no channel left in either instance, no attempt left in a non-final state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from db.pool import create_pool
from engine.lab.lab import Lab, write_lab_config
from engine.lab.postgres import PrivateCluster
from engine.settings import Settings, load_settings
from tests.integration.conftest_db import *  # noqa: F403 - the PostgreSQL fixtures
from tests.integration.conftest_db import _scratch_database, free_tcp_port

PROJECT_DIR = Path(__file__).resolve().parents[2]
SETTLE_TIMEOUT_S = 10.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def lab_session(pg_cluster: PrivateCluster) -> Iterator[Lab]:
    """The lab, up for the whole session; its database is the test cluster."""
    config = write_lab_config(PROJECT_DIR / ".state")
    settings = load_settings(config, database={"url": pg_cluster.dsn})
    lab = Lab(settings)
    lab.up()
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture
def lab(lab_session: Lab) -> Iterator[Lab]:
    """The lab, checked clean after the test: zero channels in both instances."""
    yield lab_session
    for instance in (lab_session.pbx, lab_session.carrier_instance):
        if instance.pid() is None:
            instance.start()  # a test stopped it; the next one needs it
        _wait_no_channels(instance)


def _wait_no_channels(instance) -> None:
    import time

    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    count = instance.channel_count()
    while count and time.monotonic() < deadline:
        time.sleep(0.1)
        count = instance.channel_count()
    if count:
        listing = instance.cli("core show channels concise")
        raise AssertionError(f"{count} channels left in Asterisk '{instance.name}' after the "
                             f"test:\n{listing}")


@pytest.fixture
async def call_db(pg_cluster: PrivateCluster,
                  pg_template: str) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    """(DSN, pool) of a fresh migrated database; after the test, no attempt may be
    left in a non-final state."""
    async with _scratch_database(pg_cluster, template=pg_template) as dsn:
        pool = await create_pool(dsn, min_size=1, max_size=4)
        try:
            yield dsn, pool
            open_attempts = await pool.fetch(
                "SELECT id, state FROM attempts WHERE state <> 'final'")
            assert not open_attempts, f"attempts left non-final: {open_attempts}"
        finally:
            async with asyncio.timeout(10):
                await pool.close()


@pytest.fixture
def settings(lab: Lab, call_db: tuple[str, asyncpg.Pool]) -> Settings:
    """Daemon settings for this test: the lab's credentials, this test's database, an
    HTTP port of its own, quick liveness checks."""
    dsn, _ = call_db
    base = lab.settings
    return load_settings(
        PROJECT_DIR / ".state" / "huilong.toml",
        database={"url": dsn},
        http={"port": free_tcp_port()},
        ari={"liveness_interval_s": 0.5, "reconnect_max_backoff_s": 1.0,
             "password": base.ari.password.get_secret_value()},
        lifecycle={"drain_timeout_s": 20},
    )


@pytest.fixture
def pool(call_db: tuple[str, asyncpg.Pool]) -> asyncpg.Pool:
    return call_db[1]
