"""Agent phones as a telephony admin sets them up: `huilong agents add` creates the
PJSIP endpoint, auth and AOR, the PBX reloads, and a real SIP phone (sipp) registers
with the password — and with a wrong one, or after `agents remove`, it is refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import aiohttp
import pytest

from engine.lab.phones import AgentPhone, free_udp_port
from tests.integration.labkit import PROJECT_DIR, basic_auth, running_daemon, wait_until

PASSWORD = "correct-horse-battery"
SUPERVISOR = "1900"
SUPERVISOR_PASSWORD = "supervisor-battery-staple"


@pytest.fixture
def huilong(lab, call_db, tmp_path):
    dsn, _ = call_db
    env = {**os.environ, "HUILONG_CONFIG": str(PROJECT_DIR / ".state" / "huilong.toml"),
           "HUILONG_DATABASE__URL": dsn}

    async def run(*args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "engine.cli", "agents", *args],
            cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120)

    return run


async def test_an_added_agent_phone_registers_and_a_removed_one_is_refused(huilong, lab, pool,
                                                                          tmp_path):
    """Steps: add agent 1001 with a password file; register a sipp phone with it, then
    one with a wrong password; list; add 1001 again and a malformed id; remove 1001 and
    register again.
    Expected: the PBX accepts only the right password; the list shows the phone
    online; duplicates exit 1 and bad ids exit 2 naming the rule; after removal the
    phone is refused; neither the database nor the PBX's config holds the password."""
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    added = await huilong("add", "1001", "--name", "王芳", "--password-file", str(secret))
    assert added.returncode == 0, added.stderr
    assert "agent 1001 added" in added.stdout and "the PBX reloaded them" in added.stdout

    phone = AgentPhone("1001", PASSWORD, free_udp_port())
    registered = await asyncio.to_thread(phone.register)
    assert registered.ok, registered.detail
    phone.start_answering()  # answers the PBX's qualify: the phone is online
    try:
        wrong = await asyncio.to_thread(AgentPhone("1001", "not-the-password", free_udp_port())
                                        .register, 3600, 5)
        assert not wrong.ok

        async def listed_online() -> bool:
            listed = await huilong("list")
            assert listed.returncode == 0, listed.stderr
            line = next(row for row in listed.stdout.splitlines() if row.startswith("1001"))
            assert "王芳" in line
            return line.split()[:3] == ["1001", "agent", "online"]

        await wait_until(listed_online, timeout=20, what="agent 1001 online", poll_s=0.5)
    finally:
        phone.stop()

    again = await huilong("add", "1001", "--name", "Someone")
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = await huilong("add", "12", "--name", "Short")
    assert bad.returncode == 2 and "3 to 8 digits" in bad.stderr

    include = lab.pbx.host_dir("etc") / "pjsip_agents.conf"
    assert "[1001](agent-auth)" in include.read_text(encoding="utf-8")
    assert PASSWORD not in include.read_text(encoding="utf-8")
    stored = await pool.fetchval("SELECT md5_cred FROM agents WHERE agent_id = '1001'")
    assert PASSWORD not in stored and len(stored) == 32

    removed = await huilong("remove", "1001")
    assert removed.returncode == 0, removed.stderr
    assert "[1001]" not in include.read_text(encoding="utf-8")
    after = await asyncio.to_thread(AgentPhone("1001", PASSWORD, free_udp_port())
                                    .register, 3600, 5)
    assert not after.ok
    assert "1001" not in (await huilong("list")).stdout


async def test_agent_state_follows_the_phone_feature_codes_and_desk(huilong, settings, pool,
                                                                   tmp_path):
    """Steps: add agents 1001 and 1002 and supervisor 1900; start the daemon; 1001's
    phone registers and answers the PBX's qualify; it dials *71 (log in); the
    supervisor API (Basic auth as 1900) pauses it for lunch and makes it ready — asked
    without credentials, and with agent 1001's own, it refuses; the phone goes away
    (unregisters) and comes back; it dials *72. 1002 never registers and is logged in
    over the supervisor API.
    Expected (each seen on GET /agents, open to all): 1001 reachable but offline, then
    ready; the unauthenticated request gets 401 with a Basic challenge, the agent's
    credentials 403, and neither changes anything; paused "lunch", ready; paused "phone
    unreachable" while the phone is gone and ready again by itself when it is back;
    offline after *72. 1002 is paused "phone unreachable", never ready. Every change is
    in agent_state_log, in order."""
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    for agent_id in ("1001", "1002"):
        added = await huilong("add", agent_id, "--name", f"Agent {agent_id}",
                              "--password-file", str(secret))
        assert added.returncode == 0, added.stderr
    supervisor_secret = tmp_path / "supervisor-password"
    supervisor_secret.write_text(SUPERVISOR_PASSWORD + "\n", encoding="utf-8")
    added = await huilong("add", SUPERVISOR, "--name", "Supervisor", "--role", "supervisor",
                          "--password-file", str(supervisor_secret))
    assert added.returncode == 0, added.stderr
    phone = AgentPhone("1001", PASSWORD, free_udp_port())
    try:
        async with running_daemon(settings) as daemon, aiohttp.ClientSession(
                f"http://127.0.0.1:{daemon.http_port}") as http:

            async def agent(agent_id: str) -> dict:
                async with http.get("/agents") as reply:
                    assert reply.status == 200
                    return next(a for a in await reply.json() if a["agent_id"] == agent_id)

            async def until(agent_id: str, **wanted: object) -> None:
                async def matches() -> bool:
                    current = await agent(agent_id)
                    return all(current[k] == v for k, v in wanted.items())
                await wait_until(matches, timeout=20, what=f"agent {agent_id} {wanted}")

            async def desk(agent_id: str, action: str, **body: str) -> tuple[int, dict]:
                async with http.post(f"/agents/{agent_id}/{action}", json=body,
                                     headers=basic_auth(SUPERVISOR,
                                                        SUPERVISOR_PASSWORD)) as reply:
                    return reply.status, await reply.json()

            assert (await agent("1001"))["status"] == "offline"
            assert (await asyncio.to_thread(phone.register)).ok
            phone.start_answering()
            await until("1001", reachable=True, status="offline")
            dialled = await asyncio.to_thread(phone.dial, "*71")
            assert dialled.ok, dialled.detail
            await until("1001", status="ready")

            async with http.post("/agents/1001/pause", json={"reason": "lunch"}) as reply:
                assert reply.status == 401
                assert reply.headers["WWW-Authenticate"].startswith("Basic ")
            async with http.post("/agents/1001/pause", json={"reason": "lunch"},
                                 headers=basic_auth("1001", PASSWORD)) as reply:
                assert reply.status == 403
                assert "not a supervisor" in (await reply.json())["error"]
            assert (await agent("1001"))["status"] == "ready"

            assert await desk("1001", "pause", reason="lunch") == (
                200, {"agent_id": "1001", "status": "paused", "reason": "lunch",
                      "call_id": None, "reachable": True})
            status, body = await desk("1001", "ready")
            assert status == 200 and body["status"] == "ready"
            status, body = await desk("1001", "dance")
            assert status == 409 and "unknown agent action" in body["error"]

            phone.stop()
            assert (await asyncio.to_thread(phone.register, 0)).ok  # the phone goes away
            await until("1001", status="paused", reason="phone unreachable", reachable=False)
            assert (await asyncio.to_thread(phone.register)).ok
            phone.start_answering()
            await until("1001", status="ready", reachable=True)
            assert (await asyncio.to_thread(phone.dial, "*72")).ok
            await until("1001", status="offline")

            status, body = await desk("1002", "login")
            assert status == 200 and body["status"] == "paused"
            assert body["reason"] == "phone unreachable"
    finally:
        phone.stop()
        await asyncio.to_thread(phone.register, 0)
        for agent_id in ("1001", "1002", SUPERVISOR):
            await huilong("remove", agent_id)

    log = await pool.fetch("SELECT status, reason FROM agent_state_log WHERE agent_id = '1001'"
                           " ORDER BY id")
    assert [(r["status"], r["reason"]) for r in log] == [
        ("ready", None), ("paused", "lunch"), ("ready", None),
        ("paused", "phone unreachable"), ("ready", None), ("offline", None)]
