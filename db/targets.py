"""Campaign targets: which phones a campaign dials, and how far it got."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from db.pool import connection


@dataclass(frozen=True, slots=True)
class Target:
    id: int
    campaign_id: int
    debtor_id: int
    phone_id: int


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    pending: int
    dialling: int
    done: int

    @property
    def total(self) -> int:
        return self.pending + self.dialling + self.done


class TargetRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def _execute(self, sql: str, *args: object) -> str:
        async with connection(self._pool) as conn:
            return await conn.execute(sql, *args)

    async def _fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        async with connection(self._pool) as conn:
            return await conn.fetch(sql, *args)

    async def _fetchrow(self, sql: str, *args: object) -> asyncpg.Record:
        async with connection(self._pool) as conn:
            return await conn.fetchrow(sql, *args)

    async def add(self, campaign_id: int, debtor_id: int, phone_id: int, priority: int = 0) -> None:
        await self._execute(
            """INSERT INTO campaign_targets (campaign_id, debtor_id, phone_id, priority)
               VALUES ($1, $2, $3, $4) ON CONFLICT (campaign_id, phone_id) DO NOTHING""",
            campaign_id, debtor_id, phone_id, priority)

    async def claim(self, campaign_id: int, limit: int) -> list[Target]:
        """Take up to `limit` pending targets (highest priority first) for dialling."""
        rows = await self._fetch(
            """UPDATE campaign_targets SET status = 'dialling'
               WHERE id IN (SELECT id FROM campaign_targets
                            WHERE campaign_id = $1 AND status = 'pending'
                            ORDER BY priority DESC, id LIMIT $2 FOR UPDATE SKIP LOCKED)
               RETURNING id, campaign_id, debtor_id, phone_id""",
            campaign_id, limit)
        return [Target(**dict(row)) for row in rows]

    async def link_attempt(self, target_id: int, attempt_id: uuid.UUID) -> None:
        await self._execute(
            "UPDATE campaign_targets SET attempt_id = $2 WHERE id = $1", target_id, attempt_id)

    async def release(self, target_id: int) -> None:
        """Give a claimed target back (it was never dialled)."""
        await self._execute(
            "UPDATE campaign_targets SET status = 'pending' WHERE id = $1 AND attempt_id IS NULL",
            target_id)

    async def settle(self) -> int:
        """Mark done every dialling target whose attempt is final; return how many."""
        result = await self._execute(
            """UPDATE campaign_targets t SET status = 'done'
               FROM attempts a
               WHERE t.attempt_id = a.id AND t.status = 'dialling' AND a.state = 'final'""")
        return int(result.split()[-1])

    async def recover_unlinked(self) -> int:
        """After a crash: claimed targets that never got an attempt go back to pending."""
        result = await self._execute(
            "UPDATE campaign_targets SET status = 'pending' "
            "WHERE status = 'dialling' AND attempt_id IS NULL")
        return int(result.split()[-1])

    async def progress(self, campaign_id: int) -> CampaignProgress:
        row = await self._fetchrow(
            """SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
                      count(*) FILTER (WHERE status = 'dialling') AS dialling,
                      count(*) FILTER (WHERE status = 'done') AS done
               FROM campaign_targets WHERE campaign_id = $1""", campaign_id)
        return CampaignProgress(pending=row["pending"], dialling=row["dialling"], done=row["done"])

    async def running_campaign_ids(self) -> list[int]:
        rows = await self._fetch("SELECT id FROM campaigns WHERE status = 'running' ORDER BY id")
        return [row["id"] for row in rows]

    async def finish_campaign(self, campaign_id: int) -> None:
        await self._execute(
            "UPDATE campaigns SET status = 'finished' WHERE id = $1 AND status = 'running'",
            campaign_id)
