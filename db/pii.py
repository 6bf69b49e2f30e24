"""Operations on personal data at rest: key rotation and audited reveal.

Encrypted columns (blob, key id, purpose):
- debtors.name_enc / name_key_id (debtor.name)
- debtors.id_number_enc / id_number_key_id (debtor.id_number)
- debtor_phones.phone_enc / key_id (debtor.phone)
Blind indexes use the separate index key, which rotation does not change, so lookups and
dedupe keep working across a rotation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import asyncpg

from db.crypto import PiiCipher, add_active_key
from db.debtors import NAME_PURPOSE, PHONE_PURPOSE
from db.errors import DbError
from db.pool import transaction
from db.portfolio_import import ID_NUMBER_PURPOSE

__all__ = ["PiiNotFound", "add_active_key", "reveal", "rotate_keys"]

log = logging.getLogger(__name__)

ROTATE_BATCH_ROWS = 1000
RevealField = Literal["name", "phone", "id_number"]


class PiiNotFound(DbError):
    """The debtor does not exist, or holds no value for the requested field."""


@dataclass(frozen=True, slots=True)
class _Column:
    table: str
    blob: str
    key_id: str
    purpose: str


_ENCRYPTED_COLUMNS = (
    _Column("debtors", "name_enc", "name_key_id", NAME_PURPOSE),
    _Column("debtors", "id_number_enc", "id_number_key_id", ID_NUMBER_PURPOSE),
    _Column("debtor_phones", "phone_enc", "key_id", PHONE_PURPOSE),
)


async def rotate_keys(
    pool: asyncpg.Pool, cipher: PiiCipher, *, batch_size: int = ROTATE_BATCH_ROWS
) -> int:
    """Re-encrypt every value not under the active key; returns how many were rewritten.

    Each batch is its own transaction (rows locked, decrypted, re-encrypted, written), so
    a long rotation never holds locks for long, and an interrupted one resumes where it
    stopped: running it again only touches what is still under an old key.
    """
    active = cipher.active_key_id
    total = 0
    for column in _ENCRYPTED_COLUMNS:
        select = (
            f"SELECT id, {column.blob} AS blob, {column.key_id} AS key_id FROM {column.table}"
            f" WHERE {column.key_id} <> $1 AND id > $2 ORDER BY id LIMIT $3"
            " FOR UPDATE"
        )
        update = (
            f"UPDATE {column.table} AS t SET {column.blob} = v.blob, {column.key_id} = $3"
            f" FROM unnest($1::bigint[], $2::bytea[]) AS v(id, blob) WHERE t.id = v.id"
        )
        last_id = 0
        while True:
            async with transaction(pool) as conn:
                rows = await conn.fetch(select, active, last_id, batch_size)
                if not rows:
                    break
                ids, blobs = [], []
                for row in rows:
                    plaintext = cipher.decrypt(row["blob"], row["key_id"], purpose=column.purpose)
                    blob, key_id = cipher.encrypt(plaintext, purpose=column.purpose)
                    assert key_id == active
                    ids.append(row["id"])
                    blobs.append(blob)
                await conn.execute(update, ids, blobs, active)
            last_id = ids[-1]
            total += len(ids)
        log.info("key rotation: %s.%s done", column.table, column.blob)
    return total


async def reveal(
    pool: asyncpg.Pool,
    cipher: PiiCipher,
    *,
    debtor_id: int,
    field: RevealField,
    actor: str,
    reason: str,
    phone_id: int | None = None,
) -> str:
    """Decrypt one personal value and audit the read (who, what, when, why) atomically.

    `phone` means the debtor's first-ranked phone unless `phone_id` names one of theirs.
    """
    if not actor.strip():
        raise ValueError("actor must name who reads the value")
    if not reason.strip():
        raise ValueError("reason must say why the value is read")
    async with transaction(pool) as conn:
        if field == "name":
            row = await conn.fetchrow(
                "SELECT name_enc AS blob, name_key_id AS key_id FROM debtors WHERE id = $1",
                debtor_id,
            )
            purpose, subject = NAME_PURPOSE, f"debtor:{debtor_id}"
        elif field == "id_number":
            row = await conn.fetchrow(
                "SELECT id_number_enc AS blob, id_number_key_id AS key_id"
                " FROM debtors WHERE id = $1",
                debtor_id,
            )
            purpose, subject = ID_NUMBER_PURPOSE, f"debtor:{debtor_id}"
        elif field == "phone":
            row = await conn.fetchrow(
                "SELECT id, phone_enc AS blob, key_id FROM debtor_phones"
                " WHERE debtor_id = $1 AND ($2::bigint IS NULL OR id = $2)"
                " ORDER BY rank, id LIMIT 1",
                debtor_id,
                phone_id,
            )
            purpose = PHONE_PURPOSE
            subject = f"debtor:{debtor_id}" + (f"/phone:{row['id']}" if row else "")
        else:
            raise ValueError(f"field must be name, phone or id_number, got {field!r}")
        if row is None or row["blob"] is None:
            raise PiiNotFound(f"debtor {debtor_id} has no {field} to reveal")
        plaintext = cipher.decrypt(row["blob"], row["key_id"], purpose=purpose)
        await conn.execute(
            "INSERT INTO pii_audit (actor, action, subject, field, reason)"
            " VALUES ($1, 'reveal', $2, $3, $4)",
            actor.strip(),
            subject,
            field,
            reason.strip(),
        )
    return plaintext
