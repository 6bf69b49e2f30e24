"""Debtors, their phones and debts. Names and phones are stored encrypted (see db.crypto)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from db.crypto import PiiCipher, mask_phone
from db.errors import PhoneNotFound
from db.pool import connection, transaction

NAME_PURPOSE = "debtor.name"
PHONE_PURPOSE = "debtor.phone"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_CENT = Decimal("0.01")
# numeric(14,2): twelve digits before the point.
_MAX_AMOUNT = Decimal("999999999999.99")


@dataclass(frozen=True, slots=True)
class DebtInput:
    account_ref: str
    principal: Decimal
    amount_due: Decimal
    overdue_days: int = 0
    due_date: date | None = None
    currency: str = "CNY"

    def __post_init__(self) -> None:
        if not self.account_ref.strip():
            raise ValueError("account_ref must not be empty")
        for field_name in ("principal", "amount_due"):
            _require_money(field_name, getattr(self, field_name))
        if self.overdue_days < 0:
            raise ValueError(f"overdue_days must be >= 0, got {self.overdue_days}")
        if not _CURRENCY.match(self.currency):
            raise ValueError(f"currency must be an ISO 4217 code, got {self.currency!r}")


@dataclass(frozen=True, slots=True)
class PhoneRow:
    id: int
    masked: str
    rank: int


@dataclass(frozen=True, slots=True)
class DebtRow:
    id: int
    account_ref: str
    currency: str
    principal: Decimal
    amount_due: Decimal
    overdue_days: int
    due_date: date | None


class DebtorRepository:
    def __init__(self, pool: asyncpg.Pool, cipher: PiiCipher) -> None:
        self._pool = pool
        self._cipher = cipher

    async def upsert_debtor(
        self,
        *,
        external_id: str,
        name: str,
        phones: list[str],
        timezone: str,
        debts: list[DebtInput],
    ) -> int:
        """Insert or update the debtor keyed by `external_id`; returns its id.

        Listed phones get their list position as rank (1 = dial first); listed debts are
        keyed by account_ref. Phones and debts missing from the lists are left as they are,
        because past attempts point at those phones.
        """
        if not external_id.strip():
            raise ValueError("external_id must not be empty")
        _require_timezone(timezone)
        for position, phone in enumerate(phones, start=1):
            if not _E164.match(phone):
                # The number itself stays out of the message: it would end up in logs.
                raise ValueError(f"phone #{position} ({mask_phone(phone)}) is not E.164")
        name_enc, name_key_id = self._cipher.encrypt(name, purpose=NAME_PURPOSE)
        async with transaction(self._pool) as conn:
            debtor_id = int(
                await conn.fetchval(
                    """
                    INSERT INTO debtors (external_id, name_enc, name_key_id, timezone)
                    VALUES ($1, $2, $3, $4)
                    ON CONFLICT (external_id) DO UPDATE
                    SET name_enc = excluded.name_enc, name_key_id = excluded.name_key_id,
                        timezone = excluded.timezone, updated_at = now(),
                        -- written outside an import: the next import must compare afresh
                        row_hash = NULL, facts_changed_at = now()
                    RETURNING id
                    """,
                    external_id,
                    name_enc,
                    name_key_id,
                    timezone,
                )
            )
            await self._upsert_phones(conn, debtor_id, phones)
            for debt in debts:
                await _upsert_debt(conn, debtor_id, debt)
        return debtor_id

    async def phones_of(self, debtor_id: int) -> list[PhoneRow]:
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "SELECT id, masked, rank FROM debtor_phones WHERE debtor_id = $1 ORDER BY rank, id",
                debtor_id,
            )
        return [PhoneRow(id=row["id"], masked=row["masked"], rank=row["rank"]) for row in rows]

    async def debts_of(self, debtor_id: int) -> list[DebtRow]:
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "SELECT id, account_ref, currency, principal, amount_due, overdue_days, due_date"
                " FROM debts WHERE debtor_id = $1 ORDER BY account_ref",
                debtor_id,
            )
        return [DebtRow(**dict(row)) for row in rows]

    async def dial_number(self, phone_id: int) -> str:
        """The phone's E.164 number, decrypted; only the dialer should need this."""
        async with connection(self._pool) as conn:
            row = await conn.fetchrow(
                "SELECT phone_enc, key_id FROM debtor_phones WHERE id = $1", phone_id
            )
        if row is None:
            raise PhoneNotFound(f"phone {phone_id} does not exist")
        return self._cipher.decrypt(row["phone_enc"], row["key_id"], purpose=PHONE_PURPOSE)

    async def _upsert_phones(
        self, conn: asyncpg.Connection, debtor_id: int, phones: list[str]
    ) -> None:
        seen: set[bytes] = set()
        rank = 0
        for phone in phones:
            blind_index = self._cipher.blind_index(phone, purpose=PHONE_PURPOSE)
            if blind_index in seen:
                continue
            seen.add(blind_index)
            rank += 1
            phone_enc, key_id = self._cipher.encrypt(phone, purpose=PHONE_PURPOSE)
            await conn.execute(
                """
                INSERT INTO debtor_phones
                    (debtor_id, phone_enc, phone_bidx, key_id, masked, rank)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (debtor_id, phone_bidx) DO UPDATE
                SET phone_enc = excluded.phone_enc, key_id = excluded.key_id,
                    masked = excluded.masked, rank = excluded.rank
                """,
                debtor_id,
                phone_enc,
                blind_index,
                key_id,
                mask_phone(phone),
                rank,
            )


async def _upsert_debt(conn: asyncpg.Connection, debtor_id: int, debt: DebtInput) -> None:
    await conn.execute(
        """
        INSERT INTO debts
            (debtor_id, account_ref, currency, principal, amount_due, overdue_days, due_date)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (debtor_id, account_ref) DO UPDATE
        SET currency = excluded.currency, principal = excluded.principal,
            amount_due = excluded.amount_due, overdue_days = excluded.overdue_days,
            due_date = excluded.due_date
        """,
        debtor_id,
        debt.account_ref,
        debt.currency,
        debt.principal,
        debt.amount_due,
        debt.overdue_days,
        debt.due_date,
    )


def _require_money(field_name: str, amount: Decimal) -> None:
    # float is refused outright: 0.1 + 0.2 style errors have no place in a ledger.
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError(f"{field_name} must be a finite Decimal, got {amount!r}")
    if amount < 0 or amount > _MAX_AMOUNT:
        raise ValueError(f"{field_name} must be within 0..{_MAX_AMOUNT}, got {amount}")
    if amount != amount.quantize(_CENT):
        raise ValueError(f"{field_name} has more than 2 decimal places: {amount}")


def _require_timezone(timezone: str) -> None:
    # Calling windows are computed in the debtor's zone: an unknown zone must fail here.
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}") from None
