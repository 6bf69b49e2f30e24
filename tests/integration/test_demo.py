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
    number appears unmasked in the output; the final report's figures per campaign equal
    a recount from the attempts table."""
    env = {**os.environ, "HUILONG_CONFIG": str(settings.lab.state_dir / "huilong.toml"),
           "HUILONG_DATABASE__URL": settings.database.url.get_secret_value()}
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "engine.cli", "demo"], cwd=PROJECT_DIR, env=env,
        capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "12 calls placed through the PBX and the carrier; 12 outcomes as expected" in output
    assert "3 bot conversations" in output and "3 outcomes as expected, 0 not" in output
    # (what Vosk heard of the first answer varies with the audio alignment: "네", "예" …)
    assert "| 금요일" in output and "promise" in output
    assert "8613800000001" not in output and "+86138****0001" in output
    assert "agent campaign: 9 calls, 8 answered: " in output
    assert "abandoned with the message" in output
    finals = await pool.fetchval("SELECT count(*) FROM attempts WHERE state = 'final'")
    assert finals == 24
    # The final report: one line per campaign, its figures equal to the tables'.
    report = output.split("\nfinal report\n", 1)[1].splitlines()[1:4]
    figures = {line[:28].strip(): [int(x) for x in line[28:].split()[:6]] for line in report}
    for name, (calls, answered, machines, _promises, _to_agents, abandoned) in figures.items():
        counted = await pool.fetchrow(
            "SELECT count(*) AS calls, count(answered_at) AS answered,"
            " count(*) FILTER (WHERE machine) AS machines,"
            " count(*) FILTER (WHERE abandoned) AS abandoned FROM attempts a"
            " JOIN campaigns c ON c.id = a.campaign_id WHERE c.name = $1", name)
        assert (calls, answered, machines, abandoned) == tuple(counted), (name, counted)
    assert sum(calls for calls, *_ in figures.values()) == 24
    agents_line = max(figures.values(), key=lambda f: f[4])
    assert agents_line[4] + agents_line[5] == agents_line[1] == 8
