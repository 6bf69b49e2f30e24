"""Retries and re-queued work against a real PostgreSQL (no Asterisk): a finished attempt
closes its target or sends it back by the campaign's retry rules; due callbacks and broken
promises become targets again (db/requeue.py), which the lease only hands out when due."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from db.campaigns import CampaignRepository
from db.crypto import load_or_create_keyfile
from db.debtors import DebtInput, DebtorRepository
from db.followup import settle_promises
from db.requeue import CALLBACK_PRIORITY, requeue_due
from db.targets import TargetRepository

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@dataclass(frozen=True, slots=True)
class Debtor:
    id: int
    phones: list[int]


async def add_debtor(pool: asyncpg.Pool, tmp_path, external_id: str, phones: int = 2) -> Debtor:
    repo = DebtorRepository(pool, load_or_create_keyfile(tmp_path / "keys.json"))
    debtor_id = await repo.upsert_debtor(
        external_id=external_id, name="测试",
        phones=[f"+86138{abs(hash(external_id)) % 10**5:05d}{i:03d}" for i in range(phones)],
        timezone="Asia/Shanghai",
        debts=[DebtInput(external_id, Decimal("500.00"), Decimal("500.00"), overdue_days=10)])
    return Debtor(debtor_id, [p.id for p in await repo.phones_of(debtor_id)])


async def add_attempt(pool: asyncpg.Pool, campaign_id: int, debtor: Debtor, phone_id: int,
                      at: datetime, disposition: str, **flags: object) -> uuid.UUID:
    attempt_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO attempts (id, campaign_id, debtor_id, phone_id, state, disposition,"
        " created_at, originated_at, ended_at, machine, abandoned, right_party)"
        " VALUES ($1, $2, $3, $4, 'final', $5, $6::timestamptz, $6, $6 + interval '30 s',"
        " $7, $8, $9)",
        attempt_id, campaign_id, debtor.id, phone_id, disposition, at,
        bool(flags.get("machine", False)), bool(flags.get("abandoned", False)),
        flags.get("right_party"))
    return attempt_id


async def dialled(pool: asyncpg.Pool, campaign_id: int, debtor: Debtor, at: datetime,
                  disposition: str, **flags: object) -> None:
    """What the runner leaves behind: the target dialling, linked to a final attempt."""
    phone_id = await pool.fetchval("SELECT phone_id FROM campaign_targets WHERE campaign_id = $1"
                                   " AND debtor_id = $2", campaign_id, debtor.id)
    attempt_id = await add_attempt(pool, campaign_id, debtor, phone_id, at, disposition, **flags)
    await pool.execute("UPDATE campaign_targets SET status = 'dialling', attempt_id = $3"
                       " WHERE campaign_id = $1 AND debtor_id = $2",
                       campaign_id, debtor.id, attempt_id)


async def target(pool: asyncpg.Pool, campaign_id: int, debtor: Debtor) -> asyncpg.Record:
    return await pool.fetchrow(
        "SELECT status, next_allowed_at, phone_id, tries, reason, attempt_id, priority"
        " FROM campaign_targets WHERE campaign_id = $1 AND debtor_id = $2",
        campaign_id, debtor.id)


async def campaign(pool: asyncpg.Pool, name: str, settings: dict[str, object],
                   *debtors: Debtor) -> int:
    campaign_id = await CampaignRepository(pool).create(name, "hold", settings)
    for debtor in debtors:
        await TargetRepository(pool).add(campaign_id, debtor.id, debtor.phones[0])
    return campaign_id


async def test_retries_follow_the_rules_per_outcome(db_pool, tmp_path) -> None:
    """Steps: a campaign with busy (10 min, max 1) and wrong-party (next number) rules and
    one without rules; attempts end busy, busy again, and answered by the wrong person.
    Expected: the first busy → pending 10 min later on the same number (tries 1, reason
    retry, no attempt linked); the second busy → done (max 1); the wrong party → pending at
    once on the debtor's second number; without rules a busy target is simply done."""
    first, second, third = [await add_debtor(db_pool, tmp_path, f"R-{i}") for i in range(3)]
    rules = {"retry": {"busy": {"delay_min": 10, "max": 1},
                       "wrong_party": {"next_phone": True}}}
    with_rules = await campaign(db_pool, "rules", rules, first, second)
    without = await campaign(db_pool, "plain", {}, third)
    targets = TargetRepository(db_pool)

    await dialled(db_pool, with_rules, first, NOW, "busy")
    await dialled(db_pool, with_rules, second, NOW, "answered", right_party=False)
    await dialled(db_pool, without, third, NOW, "busy")
    assert await targets.settle() == 3
    row = await target(db_pool, with_rules, first)
    assert (row["status"], row["next_allowed_at"], row["phone_id"], row["tries"],
            row["reason"], row["attempt_id"]) == (
        "pending", NOW + timedelta(minutes=10), first.phones[0], 1, "retry", None)
    row = await target(db_pool, with_rules, second)
    assert (row["status"], row["next_allowed_at"], row["phone_id"]) == (
        "pending", NOW, second.phones[1])
    assert (await target(db_pool, without, third))["status"] == "done"
    # Not before its time: the lease (the database's clock, now > NOW) may take it, but a
    # retry set in the future is not leased.
    await db_pool.execute("UPDATE campaign_targets SET next_allowed_at = now() + interval '1 h'"
                          " WHERE campaign_id = $1 AND debtor_id = $2", with_rules, first.id)
    leased = await targets.lease(with_rules, 10, "w")
    assert [t.debtor_id for t in leased] == [second.id]
    assert leased[0].phone_id == second.phones[1]

    await db_pool.execute("UPDATE campaign_targets SET next_allowed_at = NULL"
                          " WHERE campaign_id = $1 AND debtor_id = $2", with_rules, first.id)
    await dialled(db_pool, with_rules, first, NOW + timedelta(minutes=10), "busy")
    assert await targets.settle() == 1
    row = await target(db_pool, with_rules, first)
    assert (row["status"], row["tries"]) == ("done", 2)
    assert await targets.settle() == 0


async def add_callback(pool: asyncpg.Pool, debtor: Debtor, attempt_id: uuid.UUID,
                       due: datetime) -> int:
    return int(await pool.fetchval(
        "INSERT INTO callbacks (debtor_id, attempt_id, due_at, source)"
        " VALUES ($1, $2, $3, 'bot') RETURNING id", debtor.id, attempt_id, due))


async def test_a_callback_returns_to_its_campaign_at_the_time_asked(db_pool, tmp_path) -> None:
    """Steps: a finished campaign whose only call asked for a callback tomorrow 19:00
    (Shanghai), on the debtor's second number; re-queue twice.
    Expected: the target is pending again on that number, not before 19:00, ahead of the
    campaign's other work; the campaign runs again; the callback is queued once."""
    debtor = await add_debtor(db_pool, tmp_path, "C-1")
    campaign_id = await campaign(db_pool, "cb", {}, debtor)
    attempt_id = await add_attempt(db_pool, campaign_id, debtor, debtor.phones[1], NOW,
                                   "answered", right_party=True)
    await db_pool.execute("UPDATE campaign_targets SET status = 'done', attempt_id = $1",
                          attempt_id)
    await db_pool.execute("UPDATE campaigns SET status = 'finished' WHERE id = $1", campaign_id)
    due = datetime.combine(date(2026, 12, 2), time(19), SHANGHAI)
    callback_id = await add_callback(db_pool, debtor, attempt_id, due)

    report = await requeue_due(db_pool, NOW)
    assert (report.callbacks, report.followups, report.busy) == (1, 0, 0)
    row = await target(db_pool, campaign_id, debtor)
    assert (row["status"], row["next_allowed_at"], row["phone_id"], row["reason"],
            row["priority"]) == ("pending", due, debtor.phones[1], "callback", CALLBACK_PRIORITY)
    assert await db_pool.fetchval("SELECT status FROM campaigns WHERE id = $1",
                                  campaign_id) == "running"
    assert tuple(await db_pool.fetchrow(
        "SELECT status, queued_campaign_id FROM callbacks WHERE id = $1", callback_id)) == (
        "queued", campaign_id)
    assert await requeue_due(db_pool, NOW) == type(report)()
    assert await TargetRepository(db_pool).lease(campaign_id, 5, "w") == []  # due tomorrow


async def test_a_callback_waits_while_the_debtor_is_on_a_call(db_pool, tmp_path) -> None:
    debtor = await add_debtor(db_pool, tmp_path, "C-2")
    campaign_id = await campaign(db_pool, "busy", {}, debtor)
    attempt_id = await add_attempt(db_pool, campaign_id, debtor, debtor.phones[0], NOW,
                                   "answered")
    await add_callback(db_pool, debtor, attempt_id, NOW + timedelta(hours=1))
    await db_pool.execute("UPDATE campaign_targets SET status = 'dialling'")
    report = await requeue_due(db_pool, NOW)
    assert (report.callbacks, report.busy) == (0, 1)
    assert await db_pool.fetchval("SELECT status FROM callbacks") == "open"


async def promise_in(pool: asyncpg.Pool, campaign_id: int, debtor: Debtor, due: date,
                     amount: str = "100.00") -> int:
    made = datetime.combine(due - timedelta(days=5), time(10), SHANGHAI)
    attempt_id = await add_attempt(pool, campaign_id, debtor, debtor.phones[0], made,
                                   "answered", right_party=True)
    return int(await pool.fetchval(
        "INSERT INTO promises (debtor_id, attempt_id, amount, currency, due_date, follow_up_at,"
        " created_at) VALUES ($1, $2, $3, 'CNY', $4, $5, $6) RETURNING id", debtor.id,
        attempt_id, Decimal(amount), due, datetime.combine(due, time(20), SHANGHAI), made))


@pytest.mark.parametrize("ladder", [True, False])
async def test_broken_promises_climb_the_campaigns_ladder(db_pool, tmp_path,
                                                          ladder: bool) -> None:
    """Steps: promises made in a bot campaign whose `on_broken` is [bot reminders, agents];
    three promises broken one after the other (settled, then re-queued each time).
    Expected: the first goes to the reminder campaign, the second and third to the agent
    campaign (the last rung repeats), each as a pending target due now, reason
    broken_promise. Without a ladder they go back to the campaign they were made in."""
    debtor = await add_debtor(db_pool, tmp_path, "B-1")
    reminders = await campaign(db_pool, "reminders", {})
    agents = await campaign(db_pool, "agents", {"agents": True})
    settings = {"on_broken": [reminders, agents]} if ladder else {}
    origin = await campaign(db_pool, "bot", settings, debtor)
    places = []
    for week in range(3):
        due = date(2026, 11, 2) + timedelta(weeks=week)
        await promise_in(db_pool, origin, debtor, due)
        settled = await settle_promises(db_pool, grace_days=1, as_of=due + timedelta(days=2),
                                        now=NOW)
        assert settled.broken == 1
        report = await requeue_due(db_pool, NOW)
        assert (report.followups, report.unrouted) == (1, 0)
        places.append(await db_pool.fetchval(
            "SELECT queued_campaign_id FROM followups ORDER BY id DESC LIMIT 1"))
        # The re-queued call happened and found nobody: the target is done again.
        await db_pool.execute("UPDATE campaign_targets SET status = 'done' WHERE debtor_id = $1",
                              debtor.id)
    assert places == ([reminders, agents, agents] if ladder else [origin] * 3)
    row = await target(db_pool, places[-1], debtor)
    assert (row["status"], row["reason"], row["next_allowed_at"]) == (
        "done", "broken_promise", NOW)


async def test_a_partly_kept_promise_is_followed_up(db_pool, tmp_path) -> None:
    """Steps: 100 promised, 40 paid by the date; settle; re-queue.
    Expected: partly kept; the debtor is pending again in the campaign (reason partly_kept)."""
    from db.payments import NewPayment, PaymentRepository

    debtor = await add_debtor(db_pool, tmp_path, "P-1")
    origin = await campaign(db_pool, "partly", {}, debtor)
    await db_pool.execute("UPDATE campaign_targets SET status = 'done'")
    due = date(2026, 11, 20)
    await promise_in(db_pool, origin, debtor, due)
    await PaymentRepository(db_pool).record_batch([NewPayment(
        "PAY-1", "P-1", Decimal("40.00"), "CNY",
        datetime.combine(due, time(9), SHANGHAI), None)])
    settled = await settle_promises(db_pool, grace_days=0, as_of=due + timedelta(days=1),
                                    now=NOW)
    assert settled.partly_kept == 1
    assert (await requeue_due(db_pool, NOW)).followups == 1
    row = await target(db_pool, origin, debtor)
    assert (row["status"], row["reason"]) == ("pending", "partly_kept")


async def test_a_reminder_call_before_the_promised_date(db_pool, tmp_path) -> None:
    """Steps: a bot campaign whose `remind_in` is a reminder campaign; three debtors
    promised in it: one due tomorrow (Shanghai), one due tomorrow but already paid, one
    due in a week; re-queue now, again, then on the due date.
    Expected: now only the first is queued in the reminder campaign (reason reminder,
    one `reminder` follow-up); again: nothing; the week-away promise is queued once its
    day before comes; the paid one never."""
    from db.payments import NewPayment, PaymentRepository
    from db.requeue import ReminderTiming

    soon, paid, later = [await add_debtor(db_pool, tmp_path, f"M-{i}") for i in range(3)]
    reminders = await campaign(db_pool, "reminders", {})
    origin = await campaign(db_pool, "bot", {"remind_in": reminders})
    today = NOW.astimezone(SHANGHAI).date()
    for debtor, due in ((soon, today + timedelta(days=1)), (paid, today + timedelta(days=1)),
                        (later, today + timedelta(days=7))):
        await promise_in(db_pool, origin, debtor, due)
    await PaymentRepository(db_pool).record_batch([NewPayment(
        "PAY-M1", "M-1", Decimal("100.00"), "CNY", NOW - timedelta(hours=1), None)])
    timing = ReminderTiming(days_before=1, grace_days=2)

    first = await requeue_due(db_pool, NOW, timing)
    assert (first.reminders, first.callbacks, first.followups) == (1, 0, 0)
    row = await target(db_pool, reminders, soon)
    assert (row["status"], row["reason"], row["next_allowed_at"]) == ("pending", "reminder", NOW)
    assert await target(db_pool, reminders, paid) is None
    assert (await requeue_due(db_pool, NOW, timing)).reminders == 0
    assert await db_pool.fetchval("SELECT count(*) FROM followups WHERE kind = 'reminder'") == 1

    a_week_on = NOW + timedelta(days=6)
    assert (await requeue_due(db_pool, a_week_on, timing)).reminders == 1
    assert (await target(db_pool, reminders, later))["reason"] == "reminder"
    assert await target(db_pool, reminders, paid) is None
