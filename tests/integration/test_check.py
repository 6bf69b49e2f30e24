"""`huilong check` and the ApplicationReplaced alert, against the real PBX."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys

import aiohttp

from tests.integration.labkit import PROJECT_DIR, running_daemon, wait_until


def run_check(settings, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "HUILONG_CONFIG": str(settings.lab.state_dir / "huilong.toml"),
                "HUILONG_DATABASE__URL": settings.database.url.get_secret_value(), **env}
    return subprocess.run([sys.executable, "-m", "engine.cli", "check"], cwd=PROJECT_DIR,
                          env=full_env, capture_output=True, text=True, timeout=60)


async def test_check_reports_what_it_reaches(lab, settings):
    """Steps: `huilong check` with the lab's settings, then with a wrong ARI password.
    Expected: first every part is ok and the exit code is 0; then ARI is reported as
    refusing the credentials (401), the others still ok, exit code 1."""
    good = await asyncio.to_thread(run_check, settings)
    assert good.returncode == 0, good.stdout + good.stderr
    assert [line.split()[:2] for line in good.stdout.splitlines()] == [
        ["ari", "ok"], ["ami", "ok"], ["database", "ok"]]

    bad = await asyncio.to_thread(run_check, settings, HUILONG_ARI__PASSWORD="wrong")
    assert bad.returncode == 1
    assert "ari       FAIL: credentials refused (401)" in bad.stdout
    assert "database  ok" in bad.stdout


async def test_invalid_setting_stops_with_exit_2_naming_the_key(lab, settings):
    """Steps: `huilong check` with HUILONG_DIAL__RING_TIMEOUT_S=5 (below the 15 s floor).
    Expected: exit code 2, the message names dial.ring_timeout_s, no traceback."""
    result = await asyncio.to_thread(run_check, settings, HUILONG_DIAL__RING_TIMEOUT_S="5")
    assert result.returncode == 2
    assert "dial.ring_timeout_s" in result.stderr
    assert "Traceback" not in result.stderr


async def test_application_replaced_raises_an_alert_and_reconnects(lab, settings, caplog):
    """Steps: the daemon is connected; a second websocket registers the same Stasis app.
    Expected: the daemon logs an alert that its application was taken over, and
    reconnects (taking the app back)."""
    caplog.set_level(logging.ERROR, logger="engine.ari.supervisor")
    ari = settings.ari
    url = f"{ari.url.rstrip('/')}/ari/events?app={ari.app}"
    headers = {"Authorization": aiohttp.encode_basic_auth(ari.username,
                                                          ari.password.get_secret_value())}
    async with running_daemon(settings) as daemon, aiohttp.ClientSession() as http:
        first = daemon.ari.connects
        async with http.ws_connect(url, headers=headers):

            async def reconnected() -> bool:
                return daemon.ari.connects > first and daemon.ari.is_connected

            await wait_until(reconnected, timeout=20, what="the daemon to reconnect")
    assert any("taken over" in record.getMessage() for record in caplog.records)
