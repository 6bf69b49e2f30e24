"""The ARI websocket dies mid-call: the daemon reconnects, reconciles its calls with
the channels Asterisk still has, and leaves no attempt open."""

from __future__ import annotations

from urllib.parse import urlsplit

from engine.lab.carrier import Network, Pause, Scenario
from tests.integration.labkit import (
    CuttableProxy,
    load_campaign,
    running_daemon,
    wait_all_final,
    wait_answered,
    wait_until,
)


async def test_websocket_cut_mid_call_reconnects_and_reconciles(lab, settings, pool):
    """Steps: two debtors answer; one hangs up after ~1 s, the other after ~10 s. Once
    both are talking, every connection between the daemon and ARI is cut (a proxy in
    between) and new ones are refused until the short call has ended in Asterisk —
    so its ChannelDestroyed is never seen — then connections are allowed again.
    Expected: the daemon reconnects (a second connection), reconciliation closes the
    vanished call as answered with no cause, the surviving call is re-adopted and ends
    normally with cause 16 from its own event, and no attempt is left open."""
    short = Scenario("8613900000201", Network.ANSWER, ring_s=0.5, script=(Pause(1),), hold_s=0)
    long = Scenario("8613900000202", Network.ANSWER, ring_s=0.5, script=(Pause(10),), hold_s=0)
    lab.carrier.apply([short, long])
    port = urlsplit(settings.ari.url).port or 8088
    proxy = CuttableProxy(port)
    await proxy.start()
    settings.ari.url = f"http://127.0.0.1:{proxy.port}/"
    loaded = await load_campaign(pool, settings, [short, long], name="ws-cut")
    try:
        async with running_daemon(settings) as daemon:
            await wait_answered(pool, loaded.campaign_id, 2)
            proxy.cut()
            await wait_until(lambda: _not_connected(daemon), timeout=10,
                             what="the daemon to notice the cut")
            short_attempt = await pool.fetchval(
                "SELECT a.id::text FROM attempts a JOIN debtors d ON d.id = a.debtor_id "
                "WHERE d.external_id = $1", f"T-{short.number}")
            await wait_until(lambda: _channel_gone(lab.pbx, short_attempt), timeout=15,
                             what="the short call to end inside Asterisk")
            assert daemon.registry.get(short_attempt) is not None  # still believed live
            proxy.restore()
            attempts = await wait_all_final(pool, loaded.campaign_id, 2, timeout=30)
            assert daemon.ari.connects >= 2
    finally:
        await proxy.close()

    vanished, survivor = attempts[short.number], attempts[long.number]
    assert vanished.disposition == "answered"
    assert vanished.hangup_cause is None
    assert "vanished" in (vanished.error or "")
    assert (survivor.disposition, survivor.hangup_cause) == ("answered", 16)
    assert survivor.error is None


async def _not_connected(daemon) -> bool:
    return not daemon.ari.is_connected


async def _channel_gone(pbx, channel_id: str) -> bool:
    return channel_id not in pbx.cli("core show channels concise")
