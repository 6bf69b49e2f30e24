"""The asyncpg pool and the seam where asyncpg's errors become `db` errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from db.errors import DatabaseUnavailable, DbError, IntegrityViolation

__all__ = [
    "DatabaseUnavailable",
    "DbError",
    "connection",
    "create_pool",
    "transaction",
]

DEFAULT_STATEMENT_TIMEOUT_S = 30.0
DEFAULT_ACQUIRE_TIMEOUT_S = 10.0
# A session left idle inside a transaction holds row locks (attempt rows, the migration
# lock) and would stall the dialer; the server ends such sessions after this long.
IDLE_IN_TRANSACTION_TIMEOUT_S = 60.0

_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    timeout: float = 10.0,
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT_S,
) -> asyncpg.Pool:
    """Open a pool to `dsn`; `timeout` bounds each connect, `statement_timeout` each query.

    No type codecs are registered: repositories encode jsonb with `json` themselves, so
    they behave the same on any pool or connection handed to them.
    """
    server_settings = {
        "application_name": "huilong",
        "TimeZone": "UTC",
        "statement_timeout": _milliseconds(statement_timeout),
        "idle_in_transaction_session_timeout": _milliseconds(IDLE_IN_TRANSACTION_TIMEOUT_S),
    }
    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            server_settings=server_settings,
        )
    except _UNAVAILABLE_ERRORS as exc:
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
    except (asyncpg.InvalidCatalogNameError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise DatabaseUnavailable(f"PostgreSQL refused the connection: {exc}") from exc
    assert pool is not None  # asyncpg types the awaited pool as optional
    return pool


@asynccontextmanager
async def connection(
    pool: asyncpg.Pool, *, acquire_timeout: float = DEFAULT_ACQUIRE_TIMEOUT_S
) -> AsyncIterator[asyncpg.Connection]:
    """Borrow a connection; lost connections and broken constraints surface as `DbError`s."""
    try:
        async with pool.acquire(timeout=acquire_timeout) as conn:
            yield conn
    except _UNAVAILABLE_ERRORS as exc:
        raise DatabaseUnavailable(f"database connection failed: {exc}") from exc
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityViolation(f"{exc.__class__.__name__}: {exc}") from exc


@asynccontextmanager
async def transaction(
    pool: asyncpg.Pool, *, acquire_timeout: float = DEFAULT_ACQUIRE_TIMEOUT_S
) -> AsyncIterator[asyncpg.Connection]:
    """Borrow a connection with a transaction open; it commits when the block succeeds."""
    async with connection(pool, acquire_timeout=acquire_timeout) as conn, conn.transaction():
        yield conn


def _milliseconds(seconds: float) -> str:
    return str(int(seconds * 1000))
