"""Leasing call lists: one debtor, one worker — also with two daemons on one campaign."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from db.campaigns import CampaignRepository
from db.crypto import load_or_create_keyfile
from db.debtors import DebtInput, DebtorRepository
from db.targets import TargetRepository
from engine.lab.carrier import Network, Scenario
from engine.settings import load_settings
from tests.integration.conftest_db import free_tcp_port
from tests.integration.labkit import load_campaign, running_daemon, wait_all_final


async def make_targets(pool, tmp_path, count: int) -> int:
    debtors = DebtorRepository(pool, load_or_create_keyfile(tmp_path / "keys.json"))
    targets = TargetRepository(pool)
    campaign_id = await CampaignRepository(pool).create("lease", "hold", {})
    for i in range(count):
        debtor_id = await debtors.upsert_debtor(
            external_id=f"L-{i}", name="测试", phones=[f"+861380000{i:04d}"],
            timezone="Asia/Shanghai", debts=[DebtInput("L", Decimal("1.00"), Decimal("1.00"))])
        phone = (await debtors.phones_of(debtor_id))[0]
        await targets.add(campaign_id, debtor_id, phone.id, priority=i)
    return campaign_id


async def test_concurrent_leases_never_overlap_and_follow_priority(db_pool, tmp_path):
    """Steps: 200 targets; eight workers lease batches of 7 concurrently until none is left.
    Expected: every target leased exactly once; each batch in descending priority."""
    campaign_id = await make_targets(db_pool, tmp_path, 200)
    repo = TargetRepository(db_pool)
    taken: dict[str, list[int]] = {}

    async def worker(name: str) -> None:
        while batch := await repo.lease(campaign_id, 7, name):
            ids = [t.id for t in batch]
            taken.setdefault(name, []).extend(ids)
            priorities = [await db_pool.fetchval(
                "SELECT priority FROM campaign_targets WHERE id = $1", i) for i in ids]
            assert priorities == sorted(priorities, reverse=True)

    await asyncio.gather(*(worker(f"w{n}") for n in range(8)))
    every = [i for ids in taken.values() for i in ids]
    assert len(every) == len(set(every)) == 200
    assert len(taken) > 1


async def test_expired_lease_returns_and_deferred_waits(db_pool, tmp_path):
    """Steps: worker A leases a target with a 0 s lease and dies (no attempt); another
    target is deferred by the gate until tomorrow; a third is blocked for good.
    Expected: worker B leases A's expired target; neither the deferred nor the blocked
    one is leased; the deferred one comes back once its time has come."""
    campaign_id = await make_targets(db_pool, tmp_path, 3)
    repo = TargetRepository(db_pool)
    first, second, third = await repo.lease(campaign_id, 3, "A", lease_s=60)
    await repo.defer(second.id, datetime.now(UTC) + timedelta(days=1), {"reason": "cn.quiet"})
    await repo.defer(third.id, None, {"reason": "dnc"})
    await db_pool.execute("UPDATE campaign_targets SET lease_expires_at = now() - interval '1 s'"
                          " WHERE id = $1", first.id)
    again = await repo.lease(campaign_id, 3, "B")
    assert [t.id for t in again] == [first.id]
    progress = await repo.progress(campaign_id)
    assert (progress.pending, progress.dialling, progress.blocked) == (1, 1, 1)
    await db_pool.execute("UPDATE campaign_targets SET next_allowed_at = now() - interval '1 s'"
                          " WHERE id = $1", second.id)
    assert [t.id for t in await repo.lease(campaign_id, 3, "B")] == [second.id]


async def test_two_daemons_on_one_campaign_never_share_a_debtor(lab, settings, pool):
    """Steps: a campaign of 24 debtors who answer and hang up at once; two daemons
    (their own Stasis apps and HTTP ports, one database) run it together, four calls
    each at a time.
    Expected: 24 attempts, one per debtor; both daemons placed calls."""
    scenarios = [Scenario(f"86139000004{i:02d}", Network.ANSWER, ring_s=0.3, hold_s=0.3)
                 for i in range(24)]
    lab.carrier.apply(scenarios)
    loaded = await load_campaign(pool, settings, scenarios, name="two-daemons")
    settings.dial.max_concurrent_calls = 4
    other = load_settings(settings.lab.state_dir / "huilong.toml",
                          database={"url": settings.database.url.get_secret_value()},
                          http={"port": free_tcp_port()}, ari={"app": "huilong-b"},
                          dial={"max_concurrent_calls": 4})
    async with running_daemon(settings) as a, running_daemon(other) as b:
        await wait_all_final(pool, loaded.campaign_id, 24, timeout=90)
        assert a.worker != b.worker
    per_debtor = await pool.fetch("SELECT debtor_id, count(*) AS n FROM attempts "
                                  "WHERE campaign_id = $1 GROUP BY debtor_id", loaded.campaign_id)
    assert len(per_debtor) == 24 and {r["n"] for r in per_debtor} == {1}
    workers = await pool.fetch("SELECT leased_by, count(*) AS n FROM campaign_targets "
                               "WHERE campaign_id = $1 GROUP BY leased_by", loaded.campaign_id)
    assert len(workers) == 2, workers
