"""Retries and callbacks through the real parts: the daemon dials the carrier's simulated
lines; a busy line is tried again by the campaign's rules, a dead number gives way to the
debtor's next one, and a callback the debtor asked for is dialled again by the daemon's
own re-queue round, each time through the lease and the compliance gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from db.crypto import load_or_create_keyfile
from db.debtors import DebtInput, DebtorRepository
from db.targets import TargetRepository
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
