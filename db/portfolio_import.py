"""The bulk path for importing debtors: encrypt in Python, COPY into temporary staging
tables, then set-based upserts, all inside one transaction.

A debtor row is only rewritten when the keyed hash of its normalised import row differs
from the stored one, so re-importing an unchanged file writes nothing to debtors, phones
or debts; rows whose hash already matches are not even encrypted (`BulkImport.unchanged`).
Imports are serialised by a transaction-scoped advisory lock. Phones missing from a
re-imported row are left in place (past attempts point at them), as
`DebtorRepository.upsert_debtor` does. The CSV carries no principal: a new debt
gets principal = amount_due, and an update leaves the principal as it was.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

import asyncpg

from db.crypto import PiiCipher, mask_phone
from db.debtors import NAME_PURPOSE, PHONE_PURPOSE
from db.pool import transaction

ID_NUMBER_PURPOSE = "debtor.id_number"
ROW_HASH_PURPOSE = "debtor.import_row"
IMPORT_LOCK_KEY = 0x48_75_69_49_6D_70  # "HuiImp"; any constant shared by all importers

_STAGE_DEBTORS = "import_debtors_stage"
_STAGE_PHONES = "import_phones_stage"
_DEBTOR_COLUMNS = (
    "external_id",
    "name_enc",
    "name_key_id",
    "id_number_enc",
    "id_number_key_id",
    "id_number_bidx",
    "timezone",
    "language",
    "region",
    "credit_rating",
    "broken_promises",
    "on_time_ratio",
    "attributes",
    "row_hash",
    "currency",
    "amount_due",
    "overdue_days",
    "due_date",
)
_PHONE_COLUMNS = ("external_id", "rank", "phone_enc", "phone_bidx", "key_id", "masked")

_CREATE_STAGING = f"""
CREATE TEMP TABLE {_STAGE_DEBTORS} (
    external_id text NOT NULL, name_enc bytea NOT NULL, name_key_id text NOT NULL,
    id_number_enc bytea, id_number_key_id text, id_number_bidx bytea,
    timezone text NOT NULL, language text NOT NULL, region text NOT NULL,
    credit_rating text, broken_promises integer NOT NULL, on_time_ratio numeric(4, 3),
    attributes jsonb NOT NULL, row_hash bytea NOT NULL, currency text NOT NULL,
    amount_due numeric(14, 2) NOT NULL, overdue_days integer NOT NULL, due_date date
) ON COMMIT DROP;
CREATE TEMP TABLE {_STAGE_PHONES} (
    external_id text NOT NULL, rank smallint NOT NULL, phone_enc bytea NOT NULL,
    phone_bidx bytea NOT NULL, key_id text NOT NULL, masked text NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE import_changed (
    id bigint NOT NULL, external_id text NOT NULL, inserted boolean NOT NULL
) ON COMMIT DROP;
"""

_UPSERT_DEBTORS = f"""
WITH upserted AS (
    INSERT INTO debtors AS d (
        external_id, name_enc, name_key_id, id_number_enc, id_number_key_id, id_number_bidx,
        timezone, language, region, credit_rating, broken_promises, on_time_ratio,
        attributes, row_hash)
    SELECT external_id, name_enc, name_key_id, id_number_enc, id_number_key_id,
           id_number_bidx, timezone, language, region, credit_rating, broken_promises,
           on_time_ratio, attributes, row_hash
    FROM {_STAGE_DEBTORS}
    ON CONFLICT (external_id) DO UPDATE SET
        name_enc = excluded.name_enc, name_key_id = excluded.name_key_id,
        id_number_enc = excluded.id_number_enc, id_number_key_id = excluded.id_number_key_id,
        id_number_bidx = excluded.id_number_bidx, timezone = excluded.timezone,
        language = excluded.language, region = excluded.region,
        credit_rating = excluded.credit_rating, broken_promises = excluded.broken_promises,
        on_time_ratio = excluded.on_time_ratio, attributes = excluded.attributes,
        row_hash = excluded.row_hash, updated_at = now(), facts_changed_at = now()
    WHERE d.row_hash IS DISTINCT FROM excluded.row_hash
    RETURNING d.id, d.external_id, (d.xmax = 0) AS inserted
)
INSERT INTO import_changed (id, external_id, inserted)
SELECT id, external_id, inserted FROM upserted
"""

# Phones and debts of debtors this batch inserted cannot conflict with anything (their
# debtor ids are new and invisible to other transactions): a plain INSERT, cheaper than
# ON CONFLICT's speculative insertion. Updated debtors take the upserts.
_INSERT_PHONES = f"""
INSERT INTO debtor_phones (debtor_id, phone_enc, phone_bidx, key_id, masked, rank)
SELECT c.id, s.phone_enc, s.phone_bidx, s.key_id, s.masked, s.rank
FROM {_STAGE_PHONES} s JOIN import_changed c USING (external_id)
WHERE c.inserted
"""

_UPSERT_PHONES = f"""
INSERT INTO debtor_phones AS p (debtor_id, phone_enc, phone_bidx, key_id, masked, rank)
SELECT c.id, s.phone_enc, s.phone_bidx, s.key_id, s.masked, s.rank
FROM {_STAGE_PHONES} s JOIN import_changed c USING (external_id)
WHERE NOT c.inserted
ON CONFLICT (debtor_id, phone_bidx) DO UPDATE
SET rank = excluded.rank, masked = excluded.masked
WHERE p.rank IS DISTINCT FROM excluded.rank OR p.masked IS DISTINCT FROM excluded.masked
"""

_INSERT_DEBTS = f"""
INSERT INTO debts
    (debtor_id, account_ref, currency, principal, amount_due, overdue_days, due_date)
SELECT c.id, s.external_id, s.currency, s.amount_due, s.amount_due, s.overdue_days, s.due_date
FROM {_STAGE_DEBTORS} s JOIN import_changed c USING (external_id)
WHERE c.inserted
"""

_UPSERT_DEBTS = f"""
INSERT INTO debts AS t
    (debtor_id, account_ref, currency, principal, amount_due, overdue_days, due_date)
SELECT c.id, s.external_id, s.currency, s.amount_due, s.amount_due, s.overdue_days, s.due_date
FROM {_STAGE_DEBTORS} s JOIN import_changed c USING (external_id)
WHERE NOT c.inserted
ON CONFLICT (debtor_id, account_ref) DO UPDATE
SET currency = excluded.currency, amount_due = excluded.amount_due,
    overdue_days = excluded.overdue_days, due_date = excluded.due_date
WHERE (t.currency, t.amount_due, t.overdue_days, t.due_date)
      IS DISTINCT FROM (excluded.currency, excluded.amount_due, excluded.overdue_days,
                        excluded.due_date)
"""


class ImportRow(Protocol):
    """What the bulk path needs of one validated row (engine.portfolio.validate.DebtorRow)."""

    external_id: str
    name: str
    phone: str
    alt_phones: tuple[str, ...]
    id_number: str | None
    amount_due: Decimal
    currency: str
    overdue_days: int
    due_date: date | None
    credit_rating: str | None
    broken_promises: int
    on_time_ratio: Decimal | None
    timezone: str | None
    language: str | None
    region: str
    attributes: dict[str, str]


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """Rows ready to COPY: personal data already encrypted, indexed and masked."""

    debtors: list[tuple[object, ...]]
    phones: list[tuple[object, ...]]

    def without(self, external_ids: Collection[str]) -> PreparedBatch:
        """The batch minus the rows (and their phones) of these external ids."""
        if not external_ids:
            return self
        return PreparedBatch(
            [row for row in self.debtors if row[0] not in external_ids],
            [row for row in self.phones if row[0] not in external_ids],
        )


@dataclass(slots=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    changed_ids: list[int] = field(default_factory=list)


def row_hash(cipher: PiiCipher, row: ImportRow) -> bytes:
    """Keyed digest of everything the row says: equal rows, equal hash; no key, no guess."""
    return cipher.blind_index(_canonical(row), purpose=ROW_HASH_PURPOSE)


def row_hashes(cipher: PiiCipher, rows: Iterable[ImportRow]) -> list[bytes]:
    """`row_hash` of each row (the same digests, the index key set up once)."""
    index = cipher.indexer(ROW_HASH_PURPOSE)
    return [index(_canonical(row)) for row in rows]


# json.dumps builds a new encoder per call when given options: these are built once.
_CANONICAL_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_ATTRIBUTES_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def _canonical(row: ImportRow) -> str:
    return _CANONICAL_JSON(
        [
            row.external_id,
            row.name,
            [row.phone, *row.alt_phones],
            row.id_number,
            str(row.amount_due),
            row.currency,
            row.overdue_days,
            row.due_date.isoformat() if row.due_date else None,
            row.credit_rating,
            row.broken_promises,
            None if row.on_time_ratio is None else str(row.on_time_ratio),
            row.timezone,
            row.language,
            row.region,
            sorted(row.attributes.items()),
        ]
    )


def prepare_batch(
    cipher: PiiCipher, rows: Iterable[ImportRow], hashes: Iterable[bytes]
) -> PreparedBatch:
    """Encrypt, index and mask a batch of rows (with their `row_hash`es). CPU only:
    callers run it off the event loop."""
    debtors: list[tuple[object, ...]] = []
    phones: list[tuple[object, ...]] = []
    key_id = cipher.active_key_id
    encrypt_name = cipher.encryptor(NAME_PURPOSE)
    encrypt_id = cipher.encryptor(ID_NUMBER_PURPOSE)
    index_id = cipher.indexer(ID_NUMBER_PURPOSE)
    encrypt_phone = cipher.encryptor(PHONE_PURPOSE)
    index_phone = cipher.indexer(PHONE_PURPOSE)
    attributes_json = _ATTRIBUTES_JSON
    add_debtor = debtors.append
    add_phone = phones.append
    for row, digest in zip(rows, hashes, strict=True):
        external_id = row.external_id
        id_number = row.id_number
        if id_number is None:
            id_enc = id_key_id = id_bidx = None
        else:
            id_enc, id_key_id, id_bidx = encrypt_id(id_number), key_id, index_id(id_number)
        add_debtor(
            (
                external_id,
                encrypt_name(row.name),
                key_id,
                id_enc,
                id_key_id,
                id_bidx,
                row.timezone,
                row.language,
                row.region,
                row.credit_rating,
                row.broken_promises,
                row.on_time_ratio,
                attributes_json(row.attributes),
                digest,
                row.currency,
                row.amount_due,
                row.overdue_days,
                row.due_date,
            )
        )
        add_phone(
            (
                external_id,
                1,
                encrypt_phone(row.phone),
                index_phone(row.phone),
                key_id,
                mask_phone(row.phone),
            )
        )
        for rank, phone in enumerate(row.alt_phones, start=2):
            add_phone(
                (
                    external_id,
                    rank,
                    encrypt_phone(phone),
                    index_phone(phone),
                    key_id,
                    mask_phone(phone),
                )
            )
    return PreparedBatch(debtors, phones)


class BulkImport:
    """Staging and upserting inside the one transaction `bulk_import` opened."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self.counts = UpsertCounts()

    async def unchanged(self, external_ids: list[str], hashes: list[bytes]) -> set[str]:
        """The ids among these whose stored row hash equals the given one: those rows need
        no encryption and no write. Counted as unchanged here."""
        records = await self._conn.fetch(
            """
            SELECT d.external_id FROM unnest($1::text[], $2::bytea[]) AS u(external_id, h)
            JOIN debtors d ON d.external_id = u.external_id AND d.row_hash = u.h
            """,
            external_ids,
            hashes,
        )
        self.counts.unchanged += len(records)
        return {record["external_id"] for record in records}

    async def apply(self, batch: PreparedBatch) -> None:
        """COPY one batch into staging and upsert it; counts accumulate in `counts`."""
        if await self.stage(batch):
            await self.upsert(len(batch.debtors))

    async def stage(self, batch: PreparedBatch) -> bool:
        """COPY one batch into the (empty) staging tables; False if it has no rows."""
        if not batch.debtors:
            return False
        conn = self._conn
        await conn.copy_records_to_table(
            _STAGE_DEBTORS, records=batch.debtors, columns=_DEBTOR_COLUMNS
        )
        await conn.copy_records_to_table(
            _STAGE_PHONES, records=batch.phones, columns=_PHONE_COLUMNS
        )
        return True

    async def upsert(self, staged: int) -> None:
        """Upsert the `staged` rows `stage` put in the staging tables, then empty them.
        Server-side work only: the caller may compute meanwhile."""
        conn = self._conn
        await conn.execute(_UPSERT_DEBTORS)
        await conn.execute("ANALYZE import_changed")
        await conn.execute(_INSERT_PHONES)
        await conn.execute(_UPSERT_PHONES)
        await conn.execute(_INSERT_DEBTS)
        await conn.execute(_UPSERT_DEBTS)
        changed = await conn.fetch("SELECT id, inserted FROM import_changed")
        inserted = sum(1 for record in changed if record["inserted"])
        self.counts.inserted += inserted
        self.counts.updated += len(changed) - inserted
        self.counts.unchanged += staged - len(changed)
        self.counts.changed_ids.extend(record["id"] for record in changed)
        await conn.execute(f"TRUNCATE {_STAGE_DEBTORS}, {_STAGE_PHONES}, import_changed")

    async def record_run(
        self,
        *,
        kind: str,
        file_name: str,
        encoding: str | None,
        started_at: datetime,
        rejected: int,
    ) -> int:
        counts = self.counts
        return int(
            await self._conn.fetchval(
                """
                INSERT INTO import_runs (kind, file_name, encoding, started_at, finished_at,
                                         accepted, updated, unchanged, rejected)
                VALUES ($1, $2, $3, $4, clock_timestamp(), $5, $6, $7, $8)
                RETURNING id
                """,
                kind,
                file_name,
                encoding,
                started_at,
                counts.inserted,
                counts.updated,
                counts.unchanged,
                rejected,
            )
        )


@asynccontextmanager
async def bulk_import(pool: asyncpg.Pool) -> AsyncIterator[BulkImport]:
    """One transaction with empty staging tables; it commits when the block succeeds."""
    async with transaction(pool) as conn:
        # One import at a time: a second one waits here (its statement timeout applies).
        # Otherwise two imports touching the same debtors could interleave, and the
        # unchanged-row shortcut could skip a row another import is rewriting.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", IMPORT_LOCK_KEY)
        await conn.execute(_CREATE_STAGING)
        yield BulkImport(conn)


async def record_failed_run(
    pool: asyncpg.Pool, *, kind: str, file_name: str, started_at: datetime, error: str
) -> None:
    """Note a run whose file could not be read at all."""
    async with transaction(pool) as conn:
        await conn.execute(
            """
            INSERT INTO import_runs (kind, file_name, started_at, finished_at, file_error)
            VALUES ($1, $2, $3, clock_timestamp(), $4)
            """,
            kind,
            file_name,
            started_at,
            error,
        )
