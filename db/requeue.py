"""Work that comes back: callbacks the debtor asked for and promises that were broken
(or only partly kept) become campaign targets again, so every such call goes through the
lease and the compliance gate like any other (calling hours in the debtor's zone, caps,
lists, opt-outs).

- A callback returns to the campaign of the call where it was asked for, on the number
  that call reached, not before its time (`next_allowed_at` = the time asked) and ahead of
  the campaign's other work (CALLBACK_PRIORITY).
- A broken or partly kept promise goes by the rules of the campaign where it was made:
  its setting `on_broken` is a ladder of campaign ids (e.g. a bot reminder campaign, then an
  agent campaign); the debtor's first re-queued promise goes to the first rung, the next to
  the second, and so on, the last rung repeating. Without `on_broken`, the promise's own
  campaign.
- A reminder call before a promised date: a campaign's setting `remind_in` names the
  campaign (a bot campaign, typically) where the debtors who promised in it are queued
  from `days_before` the due date (ReminderTiming), once per promise, unless the
  payments already cover it.

A debtor already being dialled by that campaign is left for the next round. A finished
campaign that gets work back runs again. Idempotent: each callback and follow-up is queued
once ('queued', with the campaign it went to).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from db.errors import DbError
from db.followup import covered_promises
from db.pool import transaction

log = logging.getLogger(__name__)
CALLBACK_PRIORITY = Decimal(100_000)  # above any segment priority (numeric(10, 4))


@dataclass(frozen=True, slots=True)
class RequeueReport:
    callbacks: int = 0
    followups: int = 0
    busy: int = 0  # left for the next round: the debtor is on a call of that campaign
    unrouted: int = 0  # follow-ups whose ladder names no existing campaign
    reminders: int = 0  # reminder calls queued before a promised date


@dataclass(frozen=True, slots=True)
class ReminderTiming:
    """When reminder calls go out: from `days_before` the due date up to the date itself
    (the debtor's local dates; not on the day the promise was made), unless the payments
    already cover the promise (with `grace_days`, as the settlement counts)."""

    days_before: int = 1
    grace_days: int = 2


async def requeue_due(pool: asyncpg.Pool, now: datetime,
                      reminders: ReminderTiming = ReminderTiming()) -> RequeueReport:
    """Queue every open callback, every open follow-up due by `now`, and the reminder
    calls due now."""
    callbacks = busy = followups = unrouted = 0
    queued_reminders, busy_reminders = await _queue_reminders(pool, now, reminders)
    async with transaction(pool) as conn:
        for row in await conn.fetch(
                """SELECT c.id, c.debtor_id, c.due_at, a.campaign_id, a.phone_id
                   FROM callbacks c JOIN attempts a ON a.id = c.attempt_id
                   WHERE c.status = 'open' AND a.campaign_id IS NOT NULL
                   ORDER BY c.due_at FOR UPDATE OF c SKIP LOCKED"""):
            if await _target(conn, row["campaign_id"], row["debtor_id"], row["phone_id"],
                             row["due_at"], CALLBACK_PRIORITY, "callback"):
                await conn.execute("UPDATE callbacks SET status = 'queued',"
                                   " queued_campaign_id = $2 WHERE id = $1",
                                   row["id"], row["campaign_id"])
                callbacks += 1
            else:
                busy += 1
        for row in await conn.fetch(
                """SELECT f.id, f.debtor_id, f.kind, f.due_at, a.campaign_id, c.settings,
                          coalesce(d.priority, 0) AS priority,
                          (SELECT count(*) FROM followups q WHERE q.debtor_id = f.debtor_id
                             AND q.status = 'queued' AND q.kind <> 'reminder') AS rung
                   FROM followups f
                   JOIN promises p ON p.id = f.promise_id
                   JOIN attempts a ON a.id = p.attempt_id
                   JOIN debtors d ON d.id = f.debtor_id
                   LEFT JOIN campaigns c ON c.id = a.campaign_id
                   WHERE f.status = 'open' AND f.kind IN ('broken_promise', 'partly_kept')
                     AND f.due_at <= $1
                   ORDER BY f.due_at, f.id FOR UPDATE OF f SKIP LOCKED""", now):
            campaign_id = _rung(row["campaign_id"], row["settings"], int(row["rung"]))
            if campaign_id is None or not await conn.fetchval(
                    "SELECT true FROM campaigns WHERE id = $1", campaign_id):
                await conn.execute("UPDATE followups SET status = 'unrouted' WHERE id = $1",
                                   row["id"])
                unrouted += 1
                continue
            phone_id = await conn.fetchval(
                "SELECT id FROM debtor_phones WHERE debtor_id = $1"
                " ORDER BY (owner <> 'self'), rank, id LIMIT 1", row["debtor_id"])
            if await _target(conn, campaign_id, row["debtor_id"], phone_id, now,
                             Decimal(row["priority"]), row["kind"]):
                await conn.execute("UPDATE followups SET status = 'queued',"
                                   " queued_campaign_id = $2 WHERE id = $1",
                                   row["id"], campaign_id)
                followups += 1
            else:
                busy += 1
    return RequeueReport(callbacks, followups, busy + busy_reminders, unrouted,
                         queued_reminders)


async def _queue_reminders(pool: asyncpg.Pool, now: datetime,
                           timing: ReminderTiming) -> tuple[int, int]:
    """Open promises made in a campaign with `remind_in`, due within the reminder days
    in the debtor's zone and not yet covered: the debtor into that campaign, once per
    promise. Returns (queued, left for the next round)."""
    queued = busy = 0
    async with transaction(pool) as conn:
        for row in await conn.fetch(
                """SELECT p.id, p.debtor_id, d.timezone, coalesce(d.priority, 0) AS priority,
                          (c.settings->>'remind_in')::bigint AS remind_in,
                          (($1::timestamptz AT TIME ZONE d.timezone))::date AS today
                   FROM promises p
                   JOIN attempts a ON a.id = p.attempt_id
                   JOIN campaigns c ON c.id = a.campaign_id
                   JOIN debtors d ON d.id = p.debtor_id
                   WHERE p.status = 'open' AND c.settings ? 'remind_in'
                     AND ($1::timestamptz AT TIME ZONE d.timezone)::date
                         BETWEEN p.due_date - $2::int AND p.due_date
                     AND ($1::timestamptz AT TIME ZONE d.timezone)::date
                         > (p.created_at AT TIME ZONE d.timezone)::date
                     AND NOT EXISTS (SELECT 1 FROM followups f
                                     WHERE f.promise_id = p.id AND f.kind = 'reminder')
                   ORDER BY p.debtor_id, p.id
                   FOR UPDATE OF p SKIP LOCKED""", now, timing.days_before):
            covered = await covered_promises(conn, row["debtor_id"], ZoneInfo(row["timezone"]),
                                             row["today"], timing.grace_days)
            if row["id"] in covered or not await conn.fetchval(
                    "SELECT true FROM campaigns WHERE id = $1", row["remind_in"]):
                continue
            phone_id = await conn.fetchval(
                "SELECT id FROM debtor_phones WHERE debtor_id = $1"
                " ORDER BY (owner <> 'self'), rank, id LIMIT 1", row["debtor_id"])
            if not await _target(conn, row["remind_in"], row["debtor_id"], phone_id, now,
                                 Decimal(row["priority"]), "reminder"):
                busy += 1
                continue
            await conn.execute(
                "INSERT INTO followups (debtor_id, promise_id, kind, due_at, status,"
                " queued_campaign_id) VALUES ($1, $2, 'reminder', $3, 'queued', $4)",
                row["debtor_id"], row["id"], now, row["remind_in"])
            queued += 1
    return queued, busy


async def requeue_round(pool: asyncpg.Pool | None, reminders: ReminderTiming,
                        timeout_s: float = 30.0) -> None:
    """The daemon's periodic round: re-queue what is due now; a failure is logged and
    the next round tries again."""
    assert pool is not None
    try:
        async with asyncio.timeout(timeout_s):
            report = await requeue_due(pool, datetime.now(UTC), reminders)
    except (DbError, asyncpg.PostgresError, OSError, TimeoutError) as exc:
        log.warning("re-queueing callbacks and broken promises failed: %s", exc)
        return
    if report.callbacks or report.followups or report.unrouted or report.reminders:
        log.info("re-queued %d callbacks and %d broken promises (%d with no campaign); "
                 "%d reminder calls", report.callbacks, report.followups, report.unrouted,
                 report.reminders)


def _rung(campaign_id: int | None, settings: Any, already_queued: int) -> int | None:
    if campaign_id is None:
        return None
    loaded = json.loads(settings) if isinstance(settings, str) else (settings or {})
    ladder = [int(c) for c in loaded.get("on_broken") or [campaign_id]]
    return ladder[min(already_queued, len(ladder) - 1)]


async def _target(conn: asyncpg.Connection, campaign_id: int, debtor_id: int, phone_id: int,
                  not_before: datetime, priority: Decimal, reason: str) -> bool:
    """Pending again (or new) in the campaign; False while the debtor is being dialled."""
    queued = await conn.fetchval(
        """INSERT INTO campaign_targets (campaign_id, debtor_id, phone_id, priority,
                                         next_allowed_at, reason, requeued_at)
           VALUES ($1, $2, $3, $4, $5, $6, now())
           ON CONFLICT (campaign_id, debtor_id) DO UPDATE
           SET status = 'pending', phone_id = excluded.phone_id,
               priority = excluded.priority,
               next_allowed_at = excluded.next_allowed_at, reason = excluded.reason,
               requeued_at = now(), attempt_id = NULL, last_decision = NULL,
               leased_by = NULL, lease_expires_at = NULL
           WHERE campaign_targets.status <> 'dialling'
           RETURNING id""",
        campaign_id, debtor_id, phone_id, priority, not_before, reason)
    if queued is None:
        return False
    await conn.execute("UPDATE campaigns SET status = 'running'"
                       " WHERE id = $1 AND status = 'finished'", campaign_id)
    return True
