"""Settling promises and sending reminders against a real PostgreSQL (no Asterisk): the
outcomes, the payments each settled promise took, the debtor's history and segment,
the follow-up queue, idempotence; reminders sent once through a local stand-in for the
SMS gateway, never to a number in clear in the logs."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from pydantic import SecretStr

from db.crypto import PiiCipher, load_or_create_keyfile
from db.debtors import DebtInput, DebtorRepository
from db.followup import settle_promises
from db.payments import NewPayment, PaymentRepository
from db.segments import resegment
from engine.followup.remind import ReminderPolicy, send_reminders
from engine.followup.sms import HttpSmsGateway
from engine.segmentation.rules import load_rules
from tests.sms_stand_in import SmsStandIn, serving

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 6, 1, 4, 0, tzinfo=UTC)  # the run's wall clock
PHONE = "+8613800000001"


@dataclass(frozen=True, slots=True)
class World:
    pool: asyncpg.Pool
    cipher: PiiCipher
    debtor_id: int
    attempt_id: uuid.UUID


async def add_debtor(pool: asyncpg.Pool, cipher: PiiCipher, external_id: str,
                     phones: list[str], timezone: str = "Asia/Shanghai") -> int:
    debtor_id = await DebtorRepository(pool, cipher).upsert_debtor(
        external_id=external_id, name="测试", phones=phones, timezone=timezone,
        debts=[DebtInput(external_id, Decimal("3000.00"), Decimal("3000.00"),
                         overdue_days=20)])
    # The bank's history as the import leaves it: 1 broken promise, 0.900 on time.
    await pool.execute("UPDATE debtors SET broken_promises = 1, on_time_ratio = 0.9"
                       " WHERE id = $1", debtor_id)
    return debtor_id


async def add_attempt(pool: asyncpg.Pool, debtor_id: int) -> uuid.UUID:
    attempt_id = uuid.uuid4()
    phone_id = await pool.fetchval(
        "SELECT id FROM debtor_phones WHERE debtor_id = $1 ORDER BY rank LIMIT 1", debtor_id)
    await pool.execute(
        "INSERT INTO attempts (id, debtor_id, phone_id, state, disposition, ended_at)"
        " VALUES ($1, $2, $3, 'final', 'answered', $4)", attempt_id, debtor_id, phone_id,
        datetime(2024, 4, 20, 6, 0, tzinfo=UTC))
    return attempt_id


async def add_promise(world: World, due: date, amount: str, *,
                      made: datetime = datetime(2024, 4, 20, 6, 0, tzinfo=UTC),
                      debtor_id: int | None = None,
                      attempt_id: uuid.UUID | None = None) -> int:
    return int(await world.pool.fetchval(
        "INSERT INTO promises (debtor_id, attempt_id, amount, currency, due_date,"
        " follow_up_at, created_at) VALUES ($1, $2, $3, 'CNY', $4, $5, $6) RETURNING id",
        debtor_id or world.debtor_id, attempt_id or world.attempt_id, Decimal(amount), due,
        datetime.combine(due, time(20), SHANGHAI), made))


async def pay(world: World, reference: str, amount: str, at: datetime,
              external_id: str = "D-1") -> None:
    result = await PaymentRepository(world.pool).record_batch(
        [NewPayment(reference, external_id, Decimal(amount), "CNY", at, None)])
    assert result.committed


def shanghai(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), SHANGHAI)


@pytest.fixture
async def world(call_db: tuple[str, asyncpg.Pool], tmp_path) -> World:
    _, pool = call_db
    cipher = load_or_create_keyfile(tmp_path / "keys.json")
    debtor_id = await add_debtor(pool, cipher, "D-1", [PHONE])
    return World(pool, cipher, debtor_id, await add_attempt(pool, debtor_id))


async def outcomes(world: World) -> list[tuple[str, Decimal | None, date | None]]:
    rows = await world.pool.fetch(
        "SELECT status, paid_amount, settled_on FROM promises ORDER BY due_date, id")
    return [(r["status"], r["paid_amount"], r["settled_on"]) for r in rows]


async def test_a_plan_settles_kept_partly_and_broken(world: World) -> None:
    """Steps: a plan of 100 due May 1, Jun 1 and Jul 1 (and one of 80 due May 10); one
    payment of 150 on Apr 25; settle as of Jul 5 (grace 2).
    Expected: May 1 kept (100), May 10 partly kept (50), Jun 1 and Jul 1 broken; the
    payment's 150 split 100 + 50 in promise_settlements; 3 follow-up requests (the
    broken ones, kind broken_promise, and the partly kept one, kind partly_kept, all
    open); the debtor's broken_promises 1 → 3 and
    on_time_ratio 1 kept of 4 = 0.250; the segmentation sees the new history."""
    for due, amount in ((date(2024, 5, 1), "100"), (date(2024, 6, 1), "100"),
                        (date(2024, 7, 1), "100"), (date(2024, 5, 10), "80")):
        await add_promise(world, due, amount)
    await pay(world, "P-1", "150.00", shanghai(date(2024, 4, 25)))
    report = await settle_promises(world.pool, grace_days=2, as_of=date(2024, 7, 5), now=NOW)
    assert (report.debtors, report.kept, report.partly_kept, report.broken) == (1, 1, 1, 2)
    assert report.changed_debtor_ids == [world.debtor_id]
    assert await outcomes(world) == [
        ("kept", Decimal("100.00"), date(2024, 4, 25)),
        ("partly_kept", Decimal("50.00"), date(2024, 5, 13)),
        ("broken", Decimal("0.00"), date(2024, 6, 4)),
        ("broken", Decimal("0.00"), date(2024, 7, 4))]
    split = await world.pool.fetch("SELECT amount FROM promise_settlements ORDER BY amount DESC")
    assert [r["amount"] for r in split] == [Decimal("100.00"), Decimal("50.00")]
    followups = await world.pool.fetch("SELECT kind, status, due_at FROM followups")
    assert sorted((f["kind"], f["status"], f["due_at"]) for f in followups) == [
        ("broken_promise", "open", NOW)] * 2 + [("partly_kept", "open", NOW)]
    debtor = await world.pool.fetchrow(
        "SELECT broken_promises, on_time_ratio, facts_changed_at FROM debtors WHERE id = $1",
        world.debtor_id)
    assert (debtor["broken_promises"], debtor["on_time_ratio"]) == (3, Decimal("0.250"))
    assert debtor["facts_changed_at"] == NOW
    rules = load_rules()
    assert await resegment(world.pool, rules.assign, report.changed_debtor_ids) == 1
    segment = await world.pool.fetchval("SELECT segment FROM debtors WHERE id = $1",
                                        world.debtor_id)
    assert segment is not None


async def test_settling_twice_changes_nothing(world: World) -> None:
    """Steps: the plan above settled as of Jul 5, then again (and as of a later date).
    Expected: nothing kept, partly kept or broken the second time; no promise, payment
    split, follow-up or debtor row rewritten (xmin unchanged)."""
    for due, amount in ((date(2024, 5, 1), "100"), (date(2024, 6, 1), "100")):
        await add_promise(world, due, amount)
    await pay(world, "P-1", "150.00", shanghai(date(2024, 4, 25)))
    await settle_promises(world.pool, grace_days=2, as_of=date(2024, 7, 5), now=NOW)

    async def versions() -> list[Any]:
        return [await world.pool.fetch(f"SELECT xmin::text FROM {table} ORDER BY 1")
                for table in ("promises", "promise_settlements", "followups", "debtors")]

    before = await versions()
    for as_of in (date(2024, 7, 5), date(2024, 9, 1)):
        again = await settle_promises(world.pool, grace_days=2, as_of=as_of, now=NOW)
        assert (again.debtors, again.kept, again.partly_kept, again.broken) == (0, 0, 0, 0)
    assert await versions() == before


async def test_open_until_the_grace_ends_and_kept_early(world: World) -> None:
    """Steps: 100 due Jun 10 paid in full on Jun 5; 200 due Jun 10 with 50 paid; settle as
    of Jun 12 (the grace's last day), then Jun 13.
    Expected: on Jun 12 the first is kept (early), the second open and nothing else
    written; on Jun 13 the second is partly kept and followed up for its shortfall (a
    `partly_kept` follow-up, not a broken promise in the debtor's history)."""
    first = await add_promise(world, date(2024, 6, 10), "100")
    second_attempt = await add_attempt(world.pool, world.debtor_id)
    await add_promise(world, date(2024, 6, 10), "200", attempt_id=second_attempt)
    await pay(world, "P-1", "150.00", shanghai(date(2024, 6, 5)))
    report = await settle_promises(world.pool, grace_days=2, as_of=date(2024, 6, 12), now=NOW)
    assert (report.kept, report.partly_kept, report.broken) == (1, 0, 0)
    assert await world.pool.fetchval("SELECT status FROM promises WHERE id = $1",
                                     first) == "kept"
    report = await settle_promises(world.pool, grace_days=2, as_of=date(2024, 6, 13), now=NOW)
    assert (report.kept, report.partly_kept, report.broken) == (0, 1, 0)
    assert [tuple(r) for r in await world.pool.fetch("SELECT kind, status FROM followups")] == [
        ("partly_kept", "open")]
    assert await world.pool.fetchval("SELECT broken_promises FROM debtors WHERE id = $1",
                                     world.debtor_id) == 1  # the imported count, unchanged


async def test_a_payment_is_counted_once_across_runs(world: World) -> None:
    """Steps: 100 due May 1 and a payment of 150 on Apr 25; settle (kept with 100); then a
    new promise of 100 due Jun 1 made on Apr 21; settle as of Jun 5.
    Expected: the new promise gets only the 50 left: partly kept."""
    await add_promise(world, date(2024, 5, 1), "100")
    await pay(world, "P-1", "150.00", shanghai(date(2024, 4, 25)))
    await settle_promises(world.pool, grace_days=2, as_of=date(2024, 5, 5), now=NOW)
    later = await add_attempt(world.pool, world.debtor_id)
    await add_promise(world, date(2024, 6, 1), "100", attempt_id=later,
                      made=datetime(2024, 4, 21, 6, 0, tzinfo=UTC))
    await settle_promises(world.pool, grace_days=2, as_of=date(2024, 6, 5), now=NOW)
    assert [(s, p) for s, p, _ in await outcomes(world)] == [
        ("kept", Decimal("100.00")), ("partly_kept", Decimal("50.00"))]
    assert await world.pool.fetchval("SELECT sum(amount) FROM promise_settlements") == 150


async def test_the_debtors_zone_decides_the_day(world: World) -> None:
    """Steps: 100 due May 1 (grace 2), paid 2024-05-03T17:00Z — May 4, 01:00 in Shanghai;
    settle with the default date: `now` May 5 in the debtor's zone.
    Expected: broken (a day late there), re-queued."""
    await add_promise(world, date(2024, 5, 1), "100")
    await pay(world, "P-1", "100.00", datetime(2024, 5, 3, 17, 0, tzinfo=UTC))
    report = await settle_promises(world.pool, grace_days=2, as_of=None,
                                   now=datetime(2024, 5, 4, 20, 0, tzinfo=UTC))
    assert report.broken == 1


# -- reminders -------------------------------------------------------------------------


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[SmsStandIn, str]]:
    fake = SmsStandIn()
    async with serving(fake) as url:
        yield fake, url


async def remind(world: World, url: str, as_of: date):
    async with HttpSmsGateway(url, SecretStr("t" * 20), timeout_s=2) as sms:
        return await send_reminders(world.pool, world.cipher, sms,
                                    ReminderPolicy(1, 2, "回笼银行"), as_of=as_of, now=NOW)


async def test_a_reminder_goes_once_the_day_before(
        world: World, gateway: tuple[SmsStandIn, str],
        caplog: pytest.LogCaptureFixture) -> None:
    """Steps: 100 due Jun 10 already paid, 1200.50 due Jun 10, 100 due Jun 20; an
    opted-out debtor with 100 due Jun 10; remind as of Jun 8, Jun 9, then Jun 9 again.
    Expected: nothing on Jun 8; on Jun 9 one SMS, to the debtor's own number, in
    Chinese with the amount and date, reference per promise; the paid one skipped; the
    opted-out debtor not contacted; the second run sends nothing; the logs show the
    number masked only."""
    fake, url = gateway
    caplog.set_level(logging.INFO)
    # The same date: the payment goes to the promise made first (lowest id), this one.
    paid = await add_promise(world, date(2024, 6, 10), "100")
    due = await add_promise(world, date(2024, 6, 10), "1200.50",
                            attempt_id=await add_attempt(world.pool, world.debtor_id))
    await add_promise(world, date(2024, 6, 20), "100",
                      attempt_id=await add_attempt(world.pool, world.debtor_id))
    await pay(world, "P-1", "100.00", shanghai(date(2024, 6, 1)))
    other = await add_debtor(world.pool, world.cipher, "D-2", ["+8613800000002"])
    await world.pool.execute("UPDATE debtors SET opted_out = true WHERE id = $1", other)
    await add_promise(world, date(2024, 6, 10), "100", debtor_id=other,
                      attempt_id=await add_attempt(world.pool, other))

    assert (await remind(world, url, date(2024, 6, 8))).sent == 0
    report = await remind(world, url, date(2024, 6, 9))
    assert (report.sent, report.already_paid, report.failed) == (1, 1, 0)
    assert fake.received == [{
        "to": PHONE, "reference": f"huilong-reminder-{due}",
        "text": "【回笼银行】温馨提示：您约定于2024年6月10日还款1,200.50元。"
                "如已还款，请忽略本短信。谢谢！"}]
    assert (await remind(world, url, date(2024, 6, 9))).sent == 0
    assert len(fake.received) == 1
    row = await world.pool.fetchrow("SELECT * FROM promise_reminders")
    assert (row["promise_id"], row["status"], row["sent_at"]) == (due, "sent", NOW)
    assert paid != due
    assert "+86138****0001" in caplog.text and PHONE not in caplog.text


async def test_a_refused_reminder_is_tried_again_an_unanswered_one_is_not(
        world: World, gateway: tuple[SmsStandIn, str]) -> None:
    """Steps: a promise due Jun 10; the gateway answers 503, then 200; remind on Jun 9
    twice. A second debtor without an own number (a third party's only).
    Expected: first run: 1 failed (exit-worthy), 1 without a number; second run: sent
    (tries 2); a third run sends nothing."""
    fake, url = gateway
    fake.statuses = [503]
    await add_promise(world, date(2024, 6, 10), "100")
    lonely = await add_debtor(world.pool, world.cipher, "D-3", ["+8613800000003"])
    await world.pool.execute("UPDATE debtor_phones SET owner = 'third_party'"
                             " WHERE debtor_id = $1", lonely)
    await add_promise(world, date(2024, 6, 10), "100", debtor_id=lonely,
                      attempt_id=await add_attempt(world.pool, lonely))
    first = await remind(world, url, date(2024, 6, 9))
    assert (first.sent, first.failed, first.no_phone) == (0, 1, 1)
    second = await remind(world, url, date(2024, 6, 9))
    assert (second.sent, second.failed, second.no_phone) == (1, 0, 0)
    assert (await remind(world, url, date(2024, 6, 10))).sent == 0
    rows = await world.pool.fetch(
        "SELECT status, tries FROM promise_reminders ORDER BY promise_id")
    assert [(r["status"], r["tries"]) for r in rows] == [("sent", 2), ("no_phone", 1)]
    assert len(fake.received) == 2


async def test_a_reminder_waits_for_the_calling_hours(
        world: World, gateway: tuple[SmsStandIn, str]) -> None:
    """Steps: a promise due Jun 10; remind as of Jun 9 at midnight in Shanghai, then at
    10:00.
    Expected: at midnight the compliance gate says not now (CN calling window): nothing
    sent, nothing claimed, counted as deferred; at 10:00 the SMS goes out."""
    fake, url = gateway
    await add_promise(world, date(2024, 6, 10), "100")
    async with HttpSmsGateway(url, SecretStr("t" * 20), timeout_s=2) as sms:
        night = await send_reminders(world.pool, world.cipher, sms, ReminderPolicy(1, 2),
                                     as_of=date(2024, 6, 9), now=shanghai(date(2024, 6, 9), 0))
        assert (night.sent, night.deferred) == (0, 1)
        assert fake.received == []
        assert await world.pool.fetchval("SELECT count(*) FROM promise_reminders") == 0
        day = await send_reminders(world.pool, world.cipher, sms, ReminderPolicy(1, 2),
                                   as_of=date(2024, 6, 9), now=shanghai(date(2024, 6, 9), 10))
    assert (day.sent, day.deferred) == (1, 0)
    assert [m["to"] for m in fake.received] == [PHONE]
