"""Retries and callbacks through the real parts: the daemon dials the carrier's simulated
lines; a busy line is tried again by the campaign's rules, a dead number gives way to the
debtor's next one, and a callback the debtor asked for is dialled again by the daemon's
own re-queue round, each time through the lease and the compliance gate."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from db.crypto import load_or_create_keyfile
from db.debtors import DebtInput, DebtorRepository
from db.targets import TargetRepository
from engine.eligibility import explain_debtor
from engine.lab.carrier import Network, Scenario
from engine.settings import FollowupSettings
from tests.integration.labkit import load_campaign, running_daemon, wait_all_final, wait_until

BUSY, DEAD, SECOND, ANSWERS = "8613600000001", "8613600000002", "8613600000003", "8613600000004"
SCENARIOS = [
    Scenario(BUSY, Network.BUSY, ring_s=0.2),
    Scenario(DEAD, Network.INVALID, ring_s=0.2),
    Scenario(SECOND, Network.ANSWER, ring_s=0.2, hold_s=0.5),
    Scenario(ANSWERS, Network.ANSWER, ring_s=0.2, hold_s=0.5),
]
RULES = {"busy": {"delay_min": 0, "max": 2}, "invalid_number": {"next_phone": True}}


async def test_retries_next_number_and_a_callback(lab, settings, pool):
    """Steps: a campaign with retry rules (busy: at once, at most twice more; invalid
    number: the next number) over three debtors: one always busy, one whose first number
    does not exist and whose second answers, one who answers; then the answering debtor's
    call gets a callback due now.
    Expected: 3 busy attempts of the first debtor, then its target done after 3 tries; the
    second debtor's first attempt invalid_number on its first number, its second answered
    on the second number; the third answered once; after the callback the daemon re-queues
    it (reason callback) and dials that debtor again, and the campaign finishes again."""
    settings.followup = FollowupSettings(requeue_interval_s=1)
    lab.carrier.apply(SCENARIOS)
    loaded = await load_campaign(pool, settings, [SCENARIOS[0], SCENARIOS[3]], name="retry",
                                 options={"retry": RULES}, start=False)
    debtors = DebtorRepository(pool, load_or_create_keyfile(settings.pii.keyfile))
    two_numbers = await debtors.upsert_debtor(
        external_id="T-two", name="测试 用户", phones=[f"+{DEAD}", f"+{SECOND}"],
        timezone="Asia/Shanghai",
        debts=[DebtInput(account_ref="L1", principal=Decimal("100.00"),
                         amount_due=Decimal("100.00"), overdue_days=30)])
    phones = [p.id for p in await debtors.phones_of(two_numbers)]
    await TargetRepository(pool).add(loaded.campaign_id, two_numbers, phones[0])
    await pool.execute("UPDATE campaigns SET status = 'running' WHERE id = $1",
                       loaded.campaign_id)

    async with running_daemon(settings):
        await wait_all_final(pool, loaded.campaign_id, 6, timeout=90)
        await wait_until(lambda: _status(pool, loaded.campaign_id), timeout=30,
                         what="the campaign finished")
        rows = await pool.fetch(
            "SELECT debtor_id, phone_id, disposition FROM attempts WHERE campaign_id = $1"
            " ORDER BY created_at", loaded.campaign_id)
        by_debtor: dict[int, list[tuple[int, str]]] = {}
        for row in rows:
            by_debtor.setdefault(row["debtor_id"], []).append(
                (row["phone_id"], row["disposition"]))
        busy_debtor, answers = loaded.debtor_by_number[BUSY], loaded.debtor_by_number[ANSWERS]
        assert [d for _, d in by_debtor[busy_debtor]] == ["busy"] * 3
        assert by_debtor[two_numbers] == [(phones[0], "invalid_number"),
                                          (phones[1], "answered")]
        assert [d for _, d in by_debtor[answers]] == ["answered"]
        targets = {r["debtor_id"]: (r["status"], r["tries"]) for r in await pool.fetch(
            "SELECT debtor_id, status, tries FROM campaign_targets WHERE campaign_id = $1",
            loaded.campaign_id)}
        assert targets == {busy_debtor: ("done", 3), two_numbers: ("done", 2),
                           answers: ("done", 1)}

        attempt_id = await pool.fetchval(
            "SELECT id FROM attempts WHERE campaign_id = $1 AND debtor_id = $2",
            loaded.campaign_id, answers)
        await pool.execute(
            "INSERT INTO callbacks (debtor_id, attempt_id, due_at, source)"
            " VALUES ($1, $2, $3, 'bot')", answers, attempt_id,
            datetime.now(UTC) - timedelta(seconds=1))
        await wait_all_final(pool, loaded.campaign_id, 7, timeout=60)
        await wait_until(lambda: _status(pool, loaded.campaign_id), timeout=30,
                         what="the campaign finished again")
    assert await pool.fetchval("SELECT status FROM callbacks") == "queued"
    target = await pool.fetchrow("SELECT status, reason, tries FROM campaign_targets"
                                 " WHERE debtor_id = $1", answers)
    assert tuple(target) == ("done", "callback", 2)
    decisions = await pool.fetchval(
        "SELECT count(*) FROM call_events e JOIN attempts a ON a.id = e.attempt_id"
        " WHERE a.debtor_id = $1 AND e.kind = 'compliance'", answers)
    assert decisions == 2  # the gate decided both calls


async def _status(pool, campaign_id: int) -> bool:
    return await pool.fetchval("SELECT status FROM campaigns WHERE id = $1",
                               campaign_id) == "finished"


LATER_A, NOW_B, NOW_C = "8613600000011", "8613600000012", "8613600000013"
ASKED = "8613600000014"  # an `evening` debtor who asked to be called back now


async def _history(pool, settings, segment: str, at: datetime, answered: bool,
                   count: int) -> None:
    """`count` past calls of debtors of `segment` placed at `at`, answered by the debtor
    or not."""
    debtors = DebtorRepository(pool, load_or_create_keyfile(settings.pii.keyfile))
    debtor_id = await debtors.upsert_debtor(
        external_id=f"H-{segment}-{at:%H%M}-{answered}", name="历史", timezone="Asia/Shanghai",
        phones=[f"+86135{int(at.timestamp()) % 10**6:06d}{int(answered)}"],
        debts=[DebtInput(account_ref="L1", principal=Decimal("1.00"),
                         amount_due=Decimal("1.00"), overdue_days=30)])
    await pool.execute("UPDATE debtors SET segment = $2 WHERE id = $1", debtor_id, segment)
    phone_id = (await debtors.phones_of(debtor_id))[0].id
    await pool.execute(
        """INSERT INTO attempts (id, debtor_id, phone_id, state, disposition, created_at,
                                 originated_at, answered_at, ended_at, right_party)
           SELECT gen_random_uuid(), $1, $2, 'final', CASE WHEN $4::boolean THEN 'answered'
                  ELSE 'no_answer' END, $3::timestamptz, $3, CASE WHEN $4 THEN $3 END,
                  $3 + interval '1 min', CASE WHEN $4 THEN true END
           FROM generate_series(1, $5)""", debtor_id, phone_id, at, answered, count)


async def test_best_time_defers_a_debtor_to_their_better_hour(lab, settings, pool):
    """Steps: history of the last weeks: debtors of segment `evening` never answered at
    this hour of the week nor the next, and answered at the hour three hours on; a
    best-time campaign (goal right_party, any hour allowed, one line) over one `evening`
    debtor (highest priority, leased first), an `evening` debtor due for a callback they
    asked for, and two debtors of a segment without history.
    Expected: the first `evening` debtor is not dialled now: its target waits, allowed by
    the gate, until the start of that better hour (the decision says defer, with the
    rates; `huilong explain` says so); the callback is dialled at the time asked, poor
    hour or not; the two others are dialled through the PBX (the line never waits for
    the deferral)."""
    settings.dial.max_concurrent_calls = 1
    now = datetime.now(UTC)
    for weeks in (1, 2):
        base = now - timedelta(weeks=weeks)
        await _history(pool, settings, "evening", base, False, 60)
        await _history(pool, settings, "evening", base + timedelta(hours=1), False, 60)
        await _history(pool, settings, "evening", base + timedelta(hours=3), True, 60)
    scenarios = [Scenario(n, Network.ANSWER, ring_s=0.2, hold_s=0.3)
                 for n in (LATER_A, NOW_B, NOW_C, ASKED)]
    lab.carrier.apply(scenarios)
    loaded = await load_campaign(pool, settings, scenarios, name="best", start=False, options={
        "best_time": {"goal": "right_party", "hours": [0, 24], "horizon_h": 24}})
    later, asked = loaded.debtor_by_number[LATER_A], loaded.debtor_by_number[ASKED]
    await pool.execute("UPDATE debtors SET segment = 'evening' WHERE id = ANY($1)",
                       [later, asked])
    await pool.execute("UPDATE campaign_targets SET priority = 10 WHERE debtor_id = $1", later)
    await pool.execute("UPDATE campaign_targets SET priority = 9, reason = 'callback'"
                       " WHERE debtor_id = $1", asked)
    await pool.execute("UPDATE campaigns SET status = 'running' WHERE id = $1",
                       loaded.campaign_id)
    async with running_daemon(settings):
        await wait_all_final(pool, loaded.campaign_id, 3, timeout=60)
    dialled = {r["debtor_id"] for r in await pool.fetch(
        "SELECT debtor_id FROM attempts WHERE campaign_id = $1", loaded.campaign_id)}
    assert dialled == {loaded.debtor_by_number[NOW_B], loaded.debtor_by_number[NOW_C], asked}
    waiting = await pool.fetchrow(
        "SELECT status, next_allowed_at, last_decision FROM campaign_targets"
        " WHERE debtor_id = $1", later)
    decision = json.loads(waiting["last_decision"])
    assert waiting["status"] == "pending" and decision["allowed"] is True
    assert decision["best_time"]["best_time"] == "defer"
    assert decision["best_time"]["rate_now"] < decision["best_time"]["best_ahead"]
    better = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=3)
    assert waiting["next_allowed_at"] == better
    explained = await explain_debtor(pool, load_or_create_keyfile(settings.pii.keyfile),
                                     f"T-{LATER_A}", campaign_id=loaded.campaign_id)
    assert explained is not None
    text = "\n".join(explained)
    assert "in the list: pending (list), 0 tries, not before" in text
    assert "best time: waits for a better hour (right_party rate" in text


REMINDED = "8613600000021"


async def test_a_reminder_call_goes_out_the_day_before(lab, settings, pool):
    """Steps: a debtor promised (in a campaign whose `remind_in` is a second, empty
    campaign) to pay tomorrow in their zone; the daemon runs.
    Expected: its re-queue round puts the debtor in the reminder campaign, which runs
    again and dials them through the gate and the PBX; the promise has one `reminder`
    follow-up, queued there."""
    settings.followup = FollowupSettings(requeue_interval_s=1)
    scenario = Scenario(REMINDED, Network.ANSWER, ring_s=0.2, hold_s=0.3)
    lab.carrier.apply([scenario])
    reminders = await load_campaign(pool, settings, [], name="reminders")
    origin = await load_campaign(pool, settings, [scenario], name="promised", start=False,
                                 options={"remind_in": reminders.campaign_id})
    debtor_id = origin.debtor_by_number[REMINDED]
    await pool.execute("UPDATE campaign_targets SET status = 'done' WHERE debtor_id = $1",
                       debtor_id)
    phone_id = await pool.fetchval("SELECT phone_id FROM campaign_targets WHERE debtor_id = $1",
                                   debtor_id)
    made = datetime.now(UTC) - timedelta(days=3)
    attempt_id = await pool.fetchval(
        "INSERT INTO attempts (id, campaign_id, debtor_id, phone_id, state, disposition,"
        " created_at, ended_at) VALUES (gen_random_uuid(), $1, $2, $3, 'final', 'answered',"
        " $4, $4) RETURNING id", origin.campaign_id, debtor_id, phone_id, made)
    tomorrow = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)
    await pool.execute(
        "INSERT INTO promises (debtor_id, attempt_id, amount, currency, due_date, follow_up_at,"
        " created_at) VALUES ($1, $2, 100, 'CNY', $3, $4, $4)", debtor_id, attempt_id,
        tomorrow, made)
    async with running_daemon(settings):
        await wait_all_final(pool, reminders.campaign_id, 1, timeout=60)
    assert await pool.fetchval("SELECT debtor_id FROM attempts WHERE campaign_id = $1",
                               reminders.campaign_id) == debtor_id
    assert tuple(await pool.fetchrow(
        "SELECT kind, status, queued_campaign_id FROM followups")) == (
        "reminder", "queued", reminders.campaign_id)
