"""`huilong demo`, the README's first command, end to end on the lab."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from tests.integration.labkit import PROJECT_DIR


async def test_demo_places_a_dozen_calls_with_the_expected_outcomes(lab, settings, pool):
    """Steps: run `huilong demo` (12 simulated debtors with mixed behaviours) against
    this test's database.
    Expected: exit 0; the outcome table lists 12 calls placed through the PBX and the
    carrier, all as expected; then the voice bot's campaign talks with three debtors
    (a promise for Friday, hardship, silence) with the expected outcomes; then three
    agents on SIP phones take an agent campaign's 8 answered calls of 9 (each bridged or
    abandoned with the message); the database holds 24 final attempts, and no phone
    number appears unmasked in the output."""
    env = {**os.environ, "HUILONG_CONFIG": str(settings.lab.state_dir / "huilong.toml"),
           "HUILONG_DATABASE__URL": settings.database.url.get_secret_value()}
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "engine.cli", "demo"], cwd=PROJECT_DIR, env=env,
        capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "12 calls placed through the PBX and the carrier; 12 outcomes as expected" in output
    assert "3 bot conversations" in output and "3 outcomes as expected, 0 not" in output
    assert "네 | 금요일" in output and "promise" in output
    assert "8613800000001" not in output and "+86138****0001" in output
    assert "agent campaign: 9 calls, 8 answered: " in output
    assert "abandoned with the message" in output
    finals = await pool.fetchval("SELECT count(*) FROM attempts WHERE state = 'final'")
    assert finals == 24
