"""Campaign targets: which phones a campaign dials, and how far it got."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from db.pool import connection, transaction
from engine.retry import Done, FinishedAttempt, RetryRules, RetryRulesError, TryAgain, next_step

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Target:
    id: int
    campaign_id: int
    debtor_id: int
    phone_id: int
    priority: Decimal = Decimal(0)
    reason: str = "list"  # why it is on the list: list, retry, callback, broken_promise, …


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    pending: int
    dialling: int
    done: int
    blocked: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.dialling + self.done + self.blocked


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

    async def add(self, campaign_id: int, debtor_id: int, phone_id: int,
                  priority: Decimal | int = 0) -> None:
        await self._execute(
            """INSERT INTO campaign_targets (campaign_id, debtor_id, phone_id, priority)
               VALUES ($1, $2, $3, $4) ON CONFLICT (campaign_id, debtor_id) DO NOTHING""",
            campaign_id, debtor_id, phone_id, priority)

    async def add_segments(self, campaign_id: int, segments: Sequence[str]) -> int:
        """Target every debtor of these segments (their first own number), in priority order."""
        status = await self._execute(
            """INSERT INTO campaign_targets (campaign_id, debtor_id, phone_id, priority)
               SELECT $1, d.id, p.id, coalesce(d.priority, 0)
               FROM debtors d
               JOIN LATERAL (SELECT id FROM debtor_phones
                             WHERE debtor_id = d.id ORDER BY (owner <> 'self'), rank, id
                             LIMIT 1) p ON true
               WHERE d.segment = ANY($2::text[])
               ON CONFLICT (campaign_id, debtor_id) DO NOTHING""",
            campaign_id, list(segments))
        return int(status.split()[-1])

    async def lease(self, campaign_id: int, limit: int, worker: str,
                    lease_s: float = 120.0) -> list[Target]:
        """Lease up to `limit` ready targets (highest priority first) to `worker`.

        SKIP LOCKED lets several daemons lease from one campaign at once without waiting
        on or sharing a row (one row per debtor); a lease that expired without an
        attempt (its daemon died) is taken again."""
        # Two index-backed branches rather than one OR, so each uses its partial index.
        rows = await self._fetch(
            """WITH expired AS (
                   SELECT id FROM campaign_targets
                   WHERE campaign_id = $1 AND status = 'dialling' AND attempt_id IS NULL
                     AND lease_expires_at < now()
                   LIMIT $2 FOR UPDATE SKIP LOCKED),
               ready AS (
                   SELECT id FROM campaign_targets
                   WHERE campaign_id = $1 AND status = 'pending'
                     AND (next_allowed_at IS NULL OR next_allowed_at <= now())
                   ORDER BY priority DESC, id LIMIT $2 FOR UPDATE SKIP LOCKED)
               UPDATE campaign_targets
               SET status = 'dialling', leased_by = $3,
                   lease_expires_at = now() + make_interval(secs => $4)
               WHERE id IN (SELECT id FROM expired UNION ALL
                            (SELECT id FROM ready) LIMIT $2)
               RETURNING id, campaign_id, debtor_id, phone_id, priority, reason""",
            campaign_id, limit, worker, lease_s)
        # RETURNING does not keep the subquery's order.
        targets = [Target(**dict(row)) for row in rows]
        return sorted(targets, key=lambda t: (-t.priority, t.id))

    async def ready_count(self, campaign_id: int) -> int:
        """Pending targets whose time has come (what a lease could take now)."""
        async with connection(self._pool) as conn:
            return int(await conn.fetchval(
                "SELECT count(*) FROM campaign_targets WHERE campaign_id = $1"
                " AND status = 'pending' AND (next_allowed_at IS NULL OR next_allowed_at <= now())",
                campaign_id))

    async def defer(self, target_id: int, until: datetime | None, decision: dict[str, Any]) -> None:
        """The gate said not now: back to pending until `until` (None: blocked for good)."""
        await self._execute(
            """UPDATE campaign_targets
               SET status = CASE WHEN $2::timestamptz IS NULL THEN 'blocked' ELSE 'pending' END,
                   next_allowed_at = $2, last_decision = $3::jsonb,
                   leased_by = NULL, lease_expires_at = NULL
               WHERE id = $1 AND attempt_id IS NULL""",
            target_id, until, json.dumps(decision, ensure_ascii=False))

    async def link_attempt(self, target_id: int, attempt_id: uuid.UUID, phone_id: int,
                           decision: dict[str, Any] | None = None) -> None:
        await self._execute(
            """UPDATE campaign_targets SET attempt_id = $2, phone_id = $3, last_decision = $4::jsonb
               WHERE id = $1""",
            target_id, attempt_id, phone_id, json.dumps(decision or {}, ensure_ascii=False))

    async def release(self, target_id: int) -> None:
        """Give a claimed target back (it was never dialled)."""
        await self._execute(
            "UPDATE campaign_targets SET status = 'pending', leased_by = NULL, "
            "lease_expires_at = NULL WHERE id = $1 AND attempt_id IS NULL",
            target_id)

    async def settle(self) -> int:
        """Close every dialling target whose attempt is final: 'done', or back to
        'pending' for another try when the campaign's retry rules say so
        (engine/retry.py). Returns how many were closed or re-queued."""
        async with transaction(self._pool) as conn:
            rows = await conn.fetch(
                """SELECT t.id, t.campaign_id, t.debtor_id, t.phone_id, t.attempt_id,
                          c.settings, d.timezone, a.disposition, a.machine, a.abandoned,
                          a.right_party, coalesce(a.originated_at, a.created_at) AS at
                   FROM campaign_targets t
                   JOIN attempts a ON a.id = t.attempt_id
                   JOIN campaigns c ON c.id = t.campaign_id
                   JOIN debtors d ON d.id = t.debtor_id
                   WHERE t.status = 'dialling' AND a.state = 'final'
                   FOR UPDATE OF t SKIP LOCKED""")
            done: list[int] = []
            for row in rows:
                step = await _retry_step(conn, row)
                if isinstance(step, TryAgain):
                    await conn.execute(
                        """UPDATE campaign_targets
                           SET status = 'pending', next_allowed_at = $2, phone_id = $3,
                               attempt_id = NULL, tries = tries + 1, reason = 'retry',
                               requeued_at = now(), leased_by = NULL, lease_expires_at = NULL
                           WHERE id = $1""", row["id"], step.at, step.phone_id)
                else:
                    done.append(row["id"])
            if done:
                await conn.execute(
                    "UPDATE campaign_targets SET status = 'done', tries = tries + 1"
                    " WHERE id = ANY($1::bigint[])", done)
        return len(rows)

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
                      count(*) FILTER (WHERE status = 'done') AS done,
                      count(*) FILTER (WHERE status = 'blocked') AS blocked
               FROM campaign_targets WHERE campaign_id = $1""", campaign_id)
        return CampaignProgress(pending=row["pending"], dialling=row["dialling"], done=row["done"],
                                blocked=row["blocked"])

    async def campaign_settings(self, campaign_id: int) -> dict[str, Any]:
        row = await self._fetchrow("SELECT settings FROM campaigns WHERE id = $1", campaign_id)
        return {} if row is None else dict(json.loads(row["settings"]))

    async def running_campaign_ids(self) -> list[int]:
        rows = await self._fetch("SELECT id FROM campaigns WHERE status = 'running' ORDER BY id")
        return [row["id"] for row in rows]

    async def finish_campaign(self, campaign_id: int) -> None:
        await self._execute(
            "UPDATE campaigns SET status = 'finished' WHERE id = $1 AND status = 'running'",
            campaign_id)


async def _retry_step(conn: asyncpg.Connection, row: asyncpg.Record) -> Done | TryAgain:
    settings = json.loads(row["settings"]) if isinstance(row["settings"], str) else row["settings"]
    try:
        rules = RetryRules.parse((settings or {}).get("retry"))
    except RetryRulesError as exc:  # checked at `campaign create`; an edited row is not
        log.error("campaign %d: %s; no retries", row["campaign_id"], exc)
        return Done("bad rules")
    if not rules.outcomes:
        return Done("no retry rules")
    last = _finished(row)
    if last.outcome is None or last.outcome not in rules.outcomes:
        return Done("no retry")
    earlier = [_finished(r) for r in await conn.fetch(
        """SELECT disposition, machine, abandoned, right_party,
                  coalesce(originated_at, created_at) AS at
           FROM attempts WHERE campaign_id = $1 AND debtor_id = $2 AND id <> $3
             AND state = 'final'""", row["campaign_id"], row["debtor_id"], row["attempt_id"])]
    phones = [r["id"] for r in await conn.fetch(
        "SELECT id FROM debtor_phones WHERE debtor_id = $1 ORDER BY (owner <> 'self'), rank, id",
        row["debtor_id"])]
    return next_step(rules, last, earlier, phone_id=row["phone_id"], phones=phones,
                     zone=row["timezone"])


def _finished(row: asyncpg.Record) -> FinishedAttempt:
    return FinishedAttempt(row["at"], row["disposition"], machine=row["machine"],
                           abandoned=row["abandoned"], right_party=row["right_party"])
