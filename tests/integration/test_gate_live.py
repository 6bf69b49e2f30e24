"""The compliance gate in the live dialer: who is called, who waits, who never is."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from db.campaigns import CampaignRepository
from db.crypto import load_or_create_keyfile
from db.debtors import DebtInput, DebtorRepository
from db.targets import TargetRepository
from engine.demo import zone_at_local_hour
from engine.lab.carrier import Network, Scenario
from tests.integration.labkit import PROJECT_DIR, running_daemon, wait_all_final, wait_until


async def test_gate_dials_daytime_debtors_defers_night_ones_and_blocks_dnc(lab, settings, pool):
    """Steps: a CN-rules campaign (holidays ignored so the test runs any day) with three
    debtors: one where it is 11:00 local, one where it is 03:00 local, one whose number
    is on the global do-not-call list; the daemon runs it; then `huilong explain` for the
    night debtor.
    Expected: only the daytime debtor is called (answered), the gate's decision and its
    inputs kept in that attempt's event log; the night debtor's target
    waits until 08:00 its local time with reason cn.quiet_hours and no attempt; the DNC
    debtor is blocked for good with reason dnc; explain shows the denial and the time."""
    now = datetime.now(UTC)
    people = {"day": ("8613900000501", zone_at_local_hour(11, now)),
              "night": ("8613900000502", zone_at_local_hour(3, now)),
              "dnc": ("8613900000503", zone_at_local_hour(11, now))}
    lab.carrier.apply([Scenario(number, Network.ANSWER, ring_s=0.3, hold_s=0.3)
                       for number, _ in people.values()])
    debtors = DebtorRepository(pool, load_or_create_keyfile(settings.pii.keyfile))
    campaign_id = await CampaignRepository(pool).create(
        "gate", "hold", {"packs": ["CN"], "pack_overrides": {"CN": {"avoid_holidays": False}}})
    targets = TargetRepository(pool)
    ids = {}
    for who, (number, zone) in people.items():
        debtor_id = await debtors.upsert_debtor(
            external_id=f"G-{who}", name="测试", phones=[f"+{number}"], timezone=zone,
            debts=[DebtInput("L", Decimal("10.00"), Decimal("10.00"))])
        phone = (await debtors.phones_of(debtor_id))[0]
        await targets.add(campaign_id, debtor_id, phone.id)
        ids[who] = debtor_id
    list_id = await pool.fetchval("INSERT INTO dnc_lists (name) VALUES ('regulator') RETURNING id")
    await pool.execute("INSERT INTO dnc_entries (list_id, phone_bidx, reason) SELECT $1, "
                       "phone_bidx, 'asked not to be called' FROM debtor_phones "
                       "WHERE debtor_id = $2", list_id, ids["dnc"])
    await CampaignRepository(pool).set_status(campaign_id, "running")

    async def settled() -> bool:
        rows = await pool.fetch("SELECT status FROM campaign_targets WHERE campaign_id = $1 "
                                "AND debtor_id <> $2", campaign_id, ids["day"])
        return sorted(r["status"] for r in rows) == ["blocked", "pending"]

    async with running_daemon(settings):
        attempts = await wait_all_final(pool, campaign_id, 1, timeout=30)
        await wait_until(settled, timeout=15, what="the night and DNC debtors to be decided")
    assert [a.disposition for a in attempts.values()] == ["answered"]
    assert await pool.fetchval("SELECT debtor_id FROM attempts") == ids["day"]
    evidence = json.loads(await pool.fetchval(
        "SELECT detail FROM call_events WHERE kind = 'compliance'"))
    assert evidence["allowed"] is True and evidence["numbers"][0]["allowed"] is True
    assert evidence["inputs"]["packs"] == ["CN"]
    assert evidence["inputs"]["timezones"] == [people["day"][1]]

    rows = {r["debtor_id"]: r for r in await pool.fetch(
        "SELECT debtor_id, status, next_allowed_at, last_decision FROM campaign_targets")}
    night = rows[ids["night"]]
    local = night["next_allowed_at"].astimezone(ZoneInfo(people["night"][1]))
    assert (local.hour, local.minute) == (8, 0)
    assert timedelta(0) < night["next_allowed_at"] - now < timedelta(hours=6)
    assert json.loads(night["last_decision"])["numbers"][0]["reason"] == "cn.quiet_hours"
    blocked = rows[ids["dnc"]]
    assert blocked["status"] == "blocked" and blocked["next_allowed_at"] is None
    assert json.loads(blocked["last_decision"])["numbers"][0]["reason"] == "dnc"

    env = {**os.environ, "HUILONG_CONFIG": str(settings.lab.state_dir / "huilong.toml"),
           "HUILONG_DATABASE__URL": settings.database.url.get_secret_value()}
    shown = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "engine.cli", "explain", "G-night",
                         "--campaign", str(campaign_id)],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "denied (cn.quiet_hours" in shown.stdout
    assert "08:00 local" in shown.stdout
    assert "8613900000502" not in shown.stdout  # masked
