"""Agent phones as a telephony admin sets them up: `huilong agents add` creates the
PJSIP endpoint, auth and AOR, the PBX reloads, and a real SIP phone (sipp) registers
with the password — and with a wrong one, or after `agents remove`, it is refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from engine.lab.phones import AgentPhone
from tests.integration.conftest_db import free_udp_port
from tests.integration.labkit import PROJECT_DIR

PASSWORD = "correct-horse-battery"


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

    port = free_udp_port()
    phone = AgentPhone("1001", PASSWORD, port)
    registered = await asyncio.to_thread(phone.register)
    assert registered.ok, registered.detail
    wrong = await asyncio.to_thread(AgentPhone("1001", "not-the-password", free_udp_port())
                                    .register, 3600, 5)
    assert not wrong.ok

    listed = await huilong("list")
    assert listed.returncode == 0, listed.stderr
    line = next(row for row in listed.stdout.splitlines() if row.startswith("1001"))
    assert line.split()[:3] == ["1001", "agent", "online"] and "王芳" in line

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
