"""Campaigns: a named set of calls with a strategy, a lifecycle status and settings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from db.errors import CampaignNotFound
from db.pool import connection

CAMPAIGN_STATUSES = ("draft", "running", "paused", "finished")


@dataclass(frozen=True, slots=True)
class CampaignRow:
    id: int
    name: str
    strategy: str
    status: str
    settings: dict[str, Any]
    created_at: datetime


class CampaignRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, name: str, strategy: str, settings: dict[str, Any]) -> int:
        """Create a campaign in status 'draft'; a taken name raises IntegrityViolation."""
        async with connection(self._pool) as conn:
            campaign_id = await conn.fetchval(
                "INSERT INTO campaigns (name, strategy, settings) VALUES ($1, $2, $3::jsonb)"
                " RETURNING id",
                name,
                strategy,
                json.dumps(settings, ensure_ascii=False),
            )
        return int(campaign_id)

    async def get(self, campaign_id: int) -> CampaignRow | None:
        async with connection(self._pool) as conn:
            row = await conn.fetchrow(
                "SELECT id, name, strategy, status, settings, created_at FROM campaigns"
                " WHERE id = $1",
                campaign_id,
            )
        if row is None:
            return None
        return CampaignRow(
            id=row["id"],
            name=row["name"],
            strategy=row["strategy"],
            status=row["status"],
            settings=json.loads(row["settings"]),
            created_at=row["created_at"],
        )

    async def set_status(self, campaign_id: int, status: str) -> None:
        if status not in CAMPAIGN_STATUSES:
            raise ValueError(f"status must be one of {CAMPAIGN_STATUSES}, got {status!r}")
        async with connection(self._pool) as conn:
            result = await conn.execute(
                "UPDATE campaigns SET status = $2 WHERE id = $1", campaign_id, status
            )
        if result == "UPDATE 0":
            raise CampaignNotFound(f"campaign {campaign_id} does not exist")
