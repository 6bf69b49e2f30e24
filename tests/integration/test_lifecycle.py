"""The daemon as systemd runs it: drain on SIGTERM, forced exit on a second signal,
recovery of calls left behind, degraded health while Asterisk is away."""

from __future__ import annotations

import signal

import aiohttp

from db.attempts import AttemptRepository
from engine.lab.carrier import Network, Pause, Scenario
from tests.integration.labkit import (
    DaemonProcess,
    attempts_of,
    load_campaign,
    running_daemon,
    wait_all_final,
    wait_answered,
    wait_until,
)


def daemon_env(settings, drain_s: float) -> dict[str, str]:
    return {
        "HUILONG_CONFIG": str(settings.lab.state_dir / "huilong.toml"),
        "HUILONG_DATABASE__URL": settings.database.url.get_secret_value(),
        "HUILONG_HTTP__PORT": str(settings.http.port),
        "HUILONG_LIFECYCLE__DRAIN_TIMEOUT_S": str(drain_s),
        "HUILONG_ARI__LIVENESS_INTERVAL_S": "0.5",
        "HUILONG_ARI__RECONNECT_MAX_BACKOFF_S": "1",
    }


def talking(numbers: list[str], seconds: float) -> list[Scenario]:
    return [Scenario(n, Network.ANSWER, ring_s=0.5, script=(Pause(seconds),), hold_s=0)
            for n in numbers]


async def calls_in_progress(lab, settings, pool, numbers: list[str], *, talk_s: float,
                            drain_s: float, name: str) -> tuple[DaemonProcess, int]:
    """`huilong run` as a process, with every number answered and talking."""
    scenarios = talking(numbers, talk_s)
    lab.carrier.apply(scenarios)
    loaded = await load_campaign(pool, settings, scenarios, name=name)
    daemon = DaemonProcess(daemon_env(settings, drain_s=drain_s))
    daemon.start()
    try:
        await wait_answered(pool, loaded.campaign_id, len(numbers))
    except BaseException:
        daemon.kill()
        raise
    return daemon, loaded.campaign_id


async def test_sigterm_drains_live_calls_then_exits_zero(lab, settings, pool):
    """Steps: `huilong run` as a process; two debtors answer and talk for 4 s; SIGTERM
    while both are talking (drain limit 20 s).
    Expected: the daemon places no new call, lets both calls finish on their own
    (answered, cause 16, no hangup from us), then exits 0."""
    daemon, campaign_id = await calls_in_progress(
        lab, settings, pool, ["8613900000301", "8613900000302"], talk_s=4, drain_s=20,
        name="drain")
    code, output = await daemon.stop(signal.SIGTERM, timeout=30)
    assert code == 0, output
    assert "draining" in output
    attempts = await attempts_of(pool, campaign_id)
    assert {(a.disposition, a.hangup_cause) for a in attempts.values()} == {("answered", 16)}
    for attempt in attempts.values():
        kinds = [e.kind for e in await AttemptRepository(pool).events(attempt.id)]
        assert "hangup_requested" not in kinds


async def test_drain_limit_hangs_up_what_is_left(lab, settings, pool):
    """Steps: one debtor answers and would talk for a minute; SIGTERM with a 1 s drain.
    Expected: after the drain limit the daemon hangs the call up itself (the attempt's
    log says why: shutdown), records it as answered, and exits 0."""
    daemon, campaign_id = await calls_in_progress(
        lab, settings, pool, ["8613900000311"], talk_s=60, drain_s=1, name="drain-limit")
    code, output = await daemon.stop(signal.SIGTERM, timeout=30)
    assert code == 0, output
    attempt = (await attempts_of(pool, campaign_id))["8613900000311"]
    assert attempt.disposition == "answered"
    events = await AttemptRepository(pool).events(attempt.id)
    assert [e.detail for e in events if e.kind == "hangup_requested"] == [{"reason": "shutdown"}]


async def test_second_signal_forces_exit_and_restart_recovers_the_calls(lab, settings, pool):
    """Steps: a call is up; SIGTERM (drain limit 60 s) then SIGINT at once; then the
    daemon is started again.
    Expected: the second signal ends the process at once with exit 1, leaving the call
    up and its attempt open; the restarted daemon finds the orphan, hangs its channel
    up and closes the attempt (answered, 'engine restarted')."""
    daemon, campaign_id = await calls_in_progress(
        lab, settings, pool, ["8613900000321"], talk_s=60, drain_s=60, name="forced")
    try:
        daemon.signal(signal.SIGTERM)
        await wait_until(lambda: _contains(daemon, "draining"), timeout=10,
                         what="the daemon to start draining")
        daemon.signal(signal.SIGINT)
        code, output = await daemon.wait(timeout=15)
    finally:
        daemon.kill()
    assert code == 1, output
    open_attempt = (await attempts_of(pool, campaign_id))["8613900000321"]
    assert open_attempt.state != "final"
    assert lab.pbx.channel_count() >= 1

    async with running_daemon(settings):
        attempts = await wait_all_final(pool, campaign_id, 1, timeout=20)
    attempt = attempts["8613900000321"]
    assert attempt.disposition == "answered"
    assert "restarted" in attempt.error


async def test_without_asterisk_health_is_degraded_and_recovers(lab, settings, pool):
    """Steps: the PBX is stopped; `huilong run` starts; then the PBX starts again.
    Expected: /healthz answers 503 naming ARI (and AMI) as down while the database is
    up; the daemon keeps retrying and /healthz turns 200 once Asterisk is back;
    SIGTERM then ends it with exit 0."""
    lab.pbx.stop()
    daemon = DaemonProcess(daemon_env(settings, drain_s=5))
    daemon.start()
    url = f"http://127.0.0.1:{settings.http.port}/healthz"
    try:
        async with aiohttp.ClientSession() as http:
            # Once the database is open (it opens first), ARI is still down.
            first = await _wait_health(http, url, lambda status, body: body["database"])
            assert first[0] == 503
            assert first[1]["ari"] is False and first[1]["database"] is True
            assert "ari" in first[1]["details"]
            lab.pbx.start()
            _, body = await _wait_health(http, url, lambda status, body: status == 200,
                                              timeout=30)
            assert body["ari"] and body["ami"] and body["database"]
        daemon.signal(signal.SIGTERM)
        code, output = await daemon.wait(timeout=20)
    finally:
        daemon.kill()
        if lab.pbx.pid() is None:
            lab.pbx.start()
    assert code == 0, output
    assert output.count("ARI connection down") >= 2  # it retried


async def _wait_health(http, url, accept, timeout: float = 20):
    result: list[tuple[int, dict]] = []

    async def probe() -> bool:
        try:
            async with http.get(url) as response:
                body = await response.json()
                if accept(response.status, body):
                    result.append((response.status, body))
                    return True
        except aiohttp.ClientError:
            pass
        return False

    await wait_until(probe, timeout=timeout, what=f"{url} to answer as expected", poll_s=0.3)
    return result[-1]


async def _contains(daemon: DaemonProcess, text: str) -> bool:
    return text in daemon.peek()
