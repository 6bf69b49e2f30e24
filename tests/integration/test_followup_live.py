"""The daemon's follow-up endpoints on the lab: the core bank's payments webhook and the
supervisor's campaign report, after a real campaign through the PBX and the carrier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
from pydantic import SecretStr

from engine.lab.carrier import Network, Scenario
from tests.integration.labkit import (
    add_agents,
    basic_auth,
    load_campaign,
    remove_agents,
    running_daemon,
    wait_all_final,
)

TOKEN = "core-bank-webhook-secret-0001"
SUPERVISOR, SUPERVISOR_PASSWORD = "1900", "supervisor-secret"


async def test_payments_reach_the_daemon_and_the_report_matches_the_tables(lab, settings, pool):
    """Steps: a campaign of three debtors (one answers and talks 1 s, one is busy, one
    does not answer) runs in the daemon; the bank posts a payment for the debtor who
    answered, then posts it again; a supervisor asks for the report of today.
    Expected: the webhook needs its token (401 without), records the payment once (201,
    then 200 "duplicate"); the report's attempts, answers and talk time equal a recount
    from the attempts table, and a plain request without credentials is refused."""
    settings.payments.webhook_token = SecretStr(TOKEN)
    await add_agents(settings, pool, (SUPERVISOR,), SUPERVISOR_PASSWORD, role="supervisor")
    scenarios = [Scenario("8613900777001", Network.ANSWER, ring_s=0.3, hold_s=1.0),
                 Scenario("8613900777002", Network.BUSY, ring_s=0.3),
                 Scenario("8613900777003", Network.NO_ANSWER, ring_s=0.5)]
    lab.carrier.apply(scenarios)
    try:
        async with running_daemon(settings) as daemon, aiohttp.ClientSession(
                f"http://127.0.0.1:{daemon.http_port}") as http:
            loaded = await load_campaign(pool, settings, scenarios, name="followup-live")
            await wait_all_final(pool, loaded.campaign_id, 3, timeout=60)
            payment = {"reference": "BANK-0001", "external_id": "T-8613900777001",
                       "amount": "120.50", "currency": "CNY",
                       "paid_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}
            async with http.post("/payments", json=payment) as reply:
                assert reply.status == 401
            bearer = {"Authorization": f"Bearer {TOKEN}"}
            async with http.post("/payments", json=payment, headers=bearer) as reply:
                assert reply.status == 201, await reply.text()
            async with http.post("/payments", json=payment, headers=bearer) as reply:
                assert reply.status == 200 and "duplicate" in await reply.text()

            query = f"/api/report?campaign={loaded.campaign_id}"
            async with http.get(query) as reply:
                assert reply.status == 401
            async with http.get(query, headers=basic_auth(SUPERVISOR,
                                                          SUPERVISOR_PASSWORD)) as reply:
                assert reply.status == 200, await reply.text()
                report = await reply.json()
    finally:
        await remove_agents(settings, pool)

    stored = await pool.fetch("SELECT amount, source FROM payments WHERE reference = 'BANK-0001'")
    assert [(str(r["amount"]), r["source"]) for r in stored] == [("120.50", "api")]
    recount = await pool.fetchrow(
        "SELECT count(*) AS attempts, count(answered_at) AS answered,"
        " sum(extract(epoch FROM ended_at - answered_at)) AS talk_s"
        " FROM attempts WHERE campaign_id = $1", loaded.campaign_id)
    figures = report["campaigns"][0]
    assert figures["campaign_id"] == loaded.campaign_id
    assert (figures["attempts"], figures["answered"]) == (3, 1) == (
        recount["attempts"], recount["answered"])
    assert abs(figures["average_talk_s"] - float(recount["talk_s"])) < 0.01
