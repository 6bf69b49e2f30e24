"""What the compliance gate needs about one debtor, read in three queries: the debtor
and its numbers, its do-not-call listings, and its recent attempts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from db.pool import connection

# Longest look-back any rule needs (US: 7 days; CN: days without contact), with room.
HISTORY_DAYS = 35


@dataclass(frozen=True, slots=True)
class PhoneRecord:
    id: int
    key: str  # hex of the blind index: the gate's number key
    owner: str
    masked: str
    enc: bytes
    key_id: str


@dataclass(frozen=True, slots=True)
class Listing:
    list_name: str  # "global" for lists without a campaign
    phone_key: str | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    at: datetime
    phone_key: str
    placed: bool
    answered: bool
    right_party: bool
    conversation_s: float
    abandoned: bool
    machine: bool
    automated: bool
    third_party_refused: bool


@dataclass(frozen=True, slots=True)
class DebtorRecord:
    id: int
    external_id: str
    timezone: str
    region: str
    opted_out: bool
    cease: bool
    attorney: bool
    consent_until: datetime | None
    inconvenient: list[dict[str, Any]]
    segment: str | None
    strategy: str | None
    priority: Any
    phones: tuple[PhoneRecord, ...]
    listings: tuple[Listing, ...]
    history: tuple[AttemptRecord, ...]


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    id: int
    settings: dict[str, Any]
    list_names: frozenset[str]


async def debtor_id_for(pool: asyncpg.Pool, external_id: str) -> int | None:
    async with connection(pool) as conn:
        value = await conn.fetchval("SELECT id FROM debtors WHERE external_id = $1", external_id)
    return None if value is None else int(value)


async def load_debtor(pool: asyncpg.Pool, debtor_id: int, campaign_id: int | None,
                      now: datetime) -> DebtorRecord | None:
    async with connection(pool) as conn:
        row = await conn.fetchrow(
            """SELECT id, external_id, timezone, region, opted_out, cease, attorney,
                      consent_until, inconvenient, segment, strategy, priority
               FROM debtors WHERE id = $1""", debtor_id)
        if row is None:
            return None
        phones = await conn.fetch(
            """SELECT id, phone_bidx, owner, masked, phone_enc, key_id FROM debtor_phones
               WHERE debtor_id = $1 ORDER BY (owner <> 'self'), rank, id""", debtor_id)
        listings = await conn.fetch(
            """SELECT CASE WHEN l.campaign_id IS NULL THEN 'global' ELSE l.name END AS list_name,
                      e.phone_bidx, e.expires_at
               FROM dnc_entries e JOIN dnc_lists l ON l.id = e.list_id
               WHERE (l.campaign_id IS NULL OR l.campaign_id = $2)
                 AND (e.debtor_id = $1 OR e.phone_bidx IN
                      (SELECT phone_bidx FROM debtor_phones WHERE debtor_id = $1))""",
            debtor_id, campaign_id)
        attempts = await conn.fetch(
            """SELECT coalesce(a.originated_at, a.created_at) AS at, p.phone_bidx,
                      a.originated_at IS NOT NULL AS placed,
                      a.answered_at IS NOT NULL AND NOT a.machine AS answered,
                      coalesce(a.right_party, a.answered_at IS NOT NULL AND NOT a.machine)
                          AS right_party,
                      coalesce(extract(epoch FROM a.ended_at - a.answered_at), 0)::float8
                          AS conversation_s,
                      a.abandoned, a.machine, a.automated, a.third_party_refused
               FROM attempts a JOIN debtor_phones p ON p.id = a.phone_id
               WHERE a.debtor_id = $1 AND a.created_at >= $2
               ORDER BY a.created_at""",
            debtor_id, now - timedelta(days=HISTORY_DAYS))
    return DebtorRecord(
        id=row["id"], external_id=row["external_id"], timezone=row["timezone"],
        region=row["region"] or "CN", opted_out=row["opted_out"], cease=row["cease"],
        attorney=row["attorney"], consent_until=row["consent_until"],
        inconvenient=json.loads(row["inconvenient"] or "[]"), segment=row["segment"],
        strategy=row["strategy"], priority=row["priority"],
        phones=tuple(PhoneRecord(p["id"], bytes(p["phone_bidx"]).hex(), p["owner"], p["masked"],
                                 bytes(p["phone_enc"]), p["key_id"]) for p in phones),
        listings=tuple(Listing(r["list_name"],
                               None if r["phone_bidx"] is None else bytes(r["phone_bidx"]).hex(),
                               r["expires_at"]) for r in listings),
        history=tuple(AttemptRecord(
            at=a["at"], phone_key=bytes(a["phone_bidx"]).hex(), placed=a["placed"],
            answered=a["answered"], right_party=a["right_party"],
            conversation_s=a["conversation_s"], abandoned=a["abandoned"], machine=a["machine"],
            automated=a["automated"], third_party_refused=a["third_party_refused"])
            for a in attempts),
    )


async def load_campaign(pool: asyncpg.Pool, campaign_id: int | None) -> CampaignRecord | None:
    if campaign_id is None:
        return None
    async with connection(pool) as conn:
        row = await conn.fetchrow("SELECT id, settings FROM campaigns WHERE id = $1", campaign_id)
        if row is None:
            return None
        names = await conn.fetch("SELECT name FROM dnc_lists WHERE campaign_id = $1", campaign_id)
    return CampaignRecord(row["id"], json.loads(row["settings"]),
                          frozenset(r["name"] for r in names))
