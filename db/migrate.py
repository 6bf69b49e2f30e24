"""Numbered SQL migrations (`NNNN_name.sql` in `db/migrations/`), applied in order.

Each migration runs in its own transaction together with its `schema_migrations` row, under
a transaction-scoped advisory lock, so two migrators started at once apply each file once.
A migration that was applied and then edited is refused: the database would no longer
match what the file says.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg

from db.errors import MigrationError

# Any fixed 64-bit number works; it only has to be the same for every migrator.
MIGRATION_LOCK_KEY = 0x48_75_69_6C_6F_6E_67  # "Huilong"
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    file_name: str
    sql: str
    checksum: str


def load_migrations(source: Traversable | None = None) -> list[Migration]:
    """Read and order the migration files; a stray or duplicate file is an error."""
    folder = source if source is not None else resources.files("db") / "migrations"
    migrations: dict[int, Migration] = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"{entry.name}: migration files must be named NNNN_name.sql")
        version = int(match["version"])
        if version == 0:
            raise MigrationError(f"{entry.name}: versions start at 0001")
        if version in migrations:
            raise MigrationError(
                f"{entry.name}: version {version} is also used by {migrations[version].file_name}"
            )
        raw = entry.read_bytes()
        migrations[version] = Migration(
            version=version,
            name=match["name"],
            file_name=entry.name,
            sql=raw.decode("utf-8"),
            checksum=hashlib.sha256(raw).hexdigest(),
        )
    return [migrations[version] for version in sorted(migrations)]


async def migrate(conn: asyncpg.Connection, *, source: Traversable | None = None) -> list[int]:
    """Apply the pending migrations in order; return the versions this call applied."""
    migrations = load_migrations(source)
    async with conn.transaction():
        await _lock(conn)
        await conn.execute(_CREATE_LEDGER)
        recorded = await _recorded_checksums(conn)
    _check_against_files(recorded, migrations)

    applied: list[int] = []
    for migration in migrations:
        if migration.version in recorded:
            continue
        async with conn.transaction():
            await _lock(conn)
            # Another migrator may have applied it while this one waited for the lock.
            existing = await conn.fetchval(
                "SELECT checksum FROM schema_migrations WHERE version = $1", migration.version
            )
            if existing is not None:
                _check_checksum(migration, existing)
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
        applied.append(migration.version)
    return applied


async def current_version(conn: asyncpg.Connection) -> int:
    """The highest applied migration version; 0 for a database never migrated."""
    if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return 0
    version = await conn.fetchval("SELECT max(version) FROM schema_migrations")
    return int(version or 0)


async def _lock(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)


async def _recorded_checksums(conn: asyncpg.Connection) -> dict[int, str]:
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
    return {int(row["version"]): str(row["checksum"]) for row in rows}


def _check_against_files(recorded: dict[int, str], migrations: list[Migration]) -> None:
    by_version = {migration.version: migration for migration in migrations}
    unknown = sorted(set(recorded) - set(by_version))
    if unknown:
        raise MigrationError(
            f"the database has migrations {unknown} that this code does not know; "
            "it was migrated by a newer release"
        )
    for version, checksum in recorded.items():
        _check_checksum(by_version[version], checksum)


def _check_checksum(migration: Migration, recorded_checksum: str) -> None:
    if migration.checksum != recorded_checksum:
        raise MigrationError(
            f"{migration.file_name} was changed after it was applied "
            f"(recorded sha256 {recorded_checksum[:12]}…, file {migration.checksum[:12]}…); "
            "add a new migration instead of editing an applied one"
        )
