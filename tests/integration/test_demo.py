"""`huilong demo`, the README's first command, end to end on the lab."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import sys
from datetime import UTC, datetime

import aiohttp

from db.analytics_model import ReportRange
from tests.integration.analytics_recount import assert_json_equals, recount
from tests.integration.labkit import PROJECT_DIR

DASHBOARD = re.compile(r"dashboard: (http://\S+)/dashboard  \(supervisor (\d+), password (\S+)\)")
REPORT_RANGE = re.compile(r"huilong report --from (\S+) --to (\S+);")


async def test_demo_places_calls_follows_up_and_reports(lab, settings, pool):
    """Steps: run `huilong demo` (12 simulated debtors with mixed behaviours) against
    this test's database; while it serves the dashboard, read the report API as its
    supervisor; then press Enter.
    Expected: the outcome table lists 12 calls placed through the PBX and the carrier,
    all as expected; the voice bot's campaign talks with four debtors (two promises for
    Friday, hardship, silence) with the expected outcomes; three agents on SIP phones
    take an agent campaign's 8 answered calls of 9 (each bridged or abandoned with the
    message); the next "day" (a simulated clock after the grace) one promise is kept by
    its payment and the other broken and re-queued in the bot campaign, not before that
    morning; the database holds 25 final attempts and no phone number appears unmasked;
    the final report's figures per campaign equal a recount from the attempts table, and
    the report API behind the dashboard equals the independent recount of every figure;
    the demo ends with exit 0 on Enter."""
    env = {**os.environ, "HUILONG_CONFIG": str(settings.lab.state_dir / "huilong.toml"),
           "HUILONG_DATABASE__URL": settings.database.url.get_secret_value()}
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engine.cli", "demo", cwd=PROJECT_DIR, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    assert demo.stdin is not None and demo.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(300):
            while not (found := DASHBOARD.search(lines[-1] if lines else "")):
                line = await demo.stdout.readline()
                if not line:
                    raise AssertionError("the demo ended early:\n" + "".join(lines))
                lines.append(line.decode())
        address, supervisor, password = found.groups()
        output = "".join(lines)
        first, end = REPORT_RANGE.search(output).groups()  # type: ignore[union-attr]
        period = ReportRange(datetime.fromisoformat(first).date(),
                             datetime.fromisoformat(end).date(), "UTC")
        token = base64.b64encode(f"{supervisor}:{password}".encode()).decode()
        async with aiohttp.ClientSession(headers={"Authorization": f"Basic {token}"}) as http:
            async with http.get(f"{address}/api/report",
                                params={"from": first, "to": end}) as reply:
                assert reply.status == 200, await reply.text()
                body = await reply.json()
            async with http.get(f"{address}/dashboard") as page:
                dashboard_status = page.status
        assert_json_equals(body, await recount(pool, period, None, datetime.now(UTC)))
        assert dashboard_status == 200
    finally:
        demo.stdin.write(b"\n")
        await demo.stdin.drain()
        async with asyncio.timeout(60):
            rest, _ = await demo.communicate()
    output = "".join(lines) + rest.decode()
    assert demo.returncode == 0, output

    assert "12 calls placed through the PBX and the carrier; 12 outcomes as expected" in output
    assert "4 bot conversations" in output and "4 outcomes as expected, 0 not" in output
    # (what Vosk heard of the first answer varies with the audio alignment: "네", "예" …)
    assert "| 금요일" in output and "promise" in output
    assert "8613800000001" not in output and "+86138****0001" in output
    assert "agent campaign: 9 calls, 8 answered: " in output
    assert "abandoned with the message" in output
    finals = await pool.fetchval("SELECT count(*) FROM attempts WHERE state = 'final'")
    assert finals == 25

    # The next day: one promise kept by its payment, one broken and re-queued.
    assert "1 kept, 0 partly kept, 1 broken; 1 re-queued" in output
    promises = await pool.fetch(
        "SELECT p.status, p.amount, p.paid_amount, t.status AS target, t.reason, t.next_allowed_at,"
        " p.due_date FROM promises p JOIN campaign_targets t ON t.debtor_id = p.debtor_id"
        " ORDER BY p.status DESC")
    assert [(p["status"], p["target"]) for p in promises] == [
        ("kept", "done"), ("broken", "pending")]
    assert (promises[0]["paid_amount"], promises[1]["paid_amount"]) == (
        promises[0]["amount"], 0)
    assert promises[1]["reason"] == "broken_promise"
    assert promises[1]["next_allowed_at"] > datetime.now(UTC)  # the simulated morning
    assert await pool.fetchval("SELECT count(*) FROM payments") == 1

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
    assert sum(calls for calls, *_ in figures.values()) == 25
    agents_line = max(figures.values(), key=lambda f: f[4])
    assert agents_line[4] + agents_line[5] == agents_line[1] == 8
    assert "recovered" in output.split("huilong report --from", 1)[1]
