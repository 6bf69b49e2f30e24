"""Real calls through PBX → PJSIP trunk → carrier, one per network behaviour."""

from __future__ import annotations

from datetime import timedelta

from db.attempts import AttemptRepository
from engine.lab.carrier import Network, Pause, Say, Scenario
from tests.integration.labkit import load_campaign, running_daemon, wait_all_final

SCENARIOS = [
    Scenario("8613900000001", Network.ANSWER, ring_s=1, script=(Say("Hello, yes?"),), hold_s=0.5),
    Scenario("8613900000002", Network.BUSY, ring_s=1),
    Scenario("8613900000003", Network.NO_ANSWER, ring_s=2),
    Scenario("8613900000004", Network.CONGESTION, ring_s=0.5),
    Scenario("8613900000005", Network.INVALID),
    Scenario("8613900000006", Network.REJECT, ring_s=0.5),
    # Rings until the dialer gives up: the dialer's own ring timeout (15 s floor).
    Scenario("8613900000007", Network.NO_ANSWER, ring_s=None),
    Scenario("8613900000008", Network.MACHINE, ring_s=1, script=(Pause(0.2),), hold_s=0.5),
]

EXPECTED = {  # number: (disposition, cause)
    "8613900000001": ("answered", 16),
    "8613900000002": ("busy", 17),
    "8613900000003": ("no_answer", 19),
    "8613900000004": ("congestion", 34),
    "8613900000005": ("invalid_number", 1),
    "8613900000006": ("rejected", 21),
    "8613900000007": ("no_answer", 19),
    "8613900000008": ("answered", 16),
}


async def test_each_network_behaviour_gets_its_disposition(lab, settings, pool):
    """Steps: the carrier plays eight debtors (answer, busy, network no-answer, congestion,
    unallocated number, rejected, ringing forever, answering machine); a running campaign
    dials them all through the real daemon.
    Expected: every attempt is final with the disposition and Q.850 cause of its
    behaviour; the ring-forever call is ended by the dialer's ring timeout after at
    least 15 s; answered calls have ordered timestamps and an event log."""
    settings.dial.ring_timeout_s = 15
    lab.carrier.apply(SCENARIOS)
    loaded = await load_campaign(pool, settings, SCENARIOS, name="outcomes")
    async with running_daemon(settings):
        attempts = await wait_all_final(pool, loaded.campaign_id, len(SCENARIOS), timeout=45)

    got = {number: (a.disposition, a.hangup_cause) for number, a in attempts.items()}
    assert got == EXPECTED

    forever = attempts["8613900000007"]
    assert forever.ended_at - forever.originated_at >= timedelta(seconds=15)
    assert forever.answered_at is None

    answered = attempts["8613900000001"]
    assert (answered.originated_at <= answered.ringing_at <= answered.answered_at
            <= answered.ended_at)
    kinds = [e.kind for e in await AttemptRepository(pool).events(answered.id)]
    assert kinds[0] == "intent" and kinds[-1] == "final"
    assert {"originate", "ringing", "answered"} <= set(kinds)

    busy = attempts["8613900000002"]
    assert busy.answered_at is None and busy.ringing_at is not None


async def test_campaign_is_marked_finished(lab, settings, pool):
    """Steps: a campaign of two debtors (answer, busy) runs to the end.
    Expected: both targets done, the campaign's status becomes 'finished'."""
    scenarios = [Scenario("8613900000011", Network.ANSWER, ring_s=0.5, hold_s=0.5),
                 Scenario("8613900000012", Network.BUSY, ring_s=0.5)]
    lab.carrier.apply(scenarios)
    loaded = await load_campaign(pool, settings, scenarios, name="finishes")
    async with running_daemon(settings) as daemon:
        await wait_all_final(pool, loaded.campaign_id, 2)

        async def finished() -> bool:
            status = await pool.fetchval("SELECT status FROM campaigns WHERE id = $1",
                                         loaded.campaign_id)
            return status == "finished"

        from tests.integration.labkit import wait_until
        await wait_until(finished, timeout=10, what="campaign finished")
        assert daemon.health().ok
    done = await pool.fetchval("SELECT count(*) FROM campaign_targets WHERE campaign_id = $1 "
                               "AND status = 'done'", loaded.campaign_id)
    assert done == 2
