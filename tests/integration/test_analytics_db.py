"""The campaign report against a real PostgreSQL (no Asterisk): a small hand-made history
of calls, outcomes, promises, payments and agent states; every figure of the report (the
query, its JSON API, its CSV export and the terminal command) equals an independent recount
from the raw rows (tests/integration/analytics_recount.py), also after the raw rows change
(the triggers queue what changed) and after a rebuild of the rollups from scratch."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from db.agents import AgentRepository
from db.analytics import campaign_report
from db.analytics_model import ReportRange
from db.analytics_refresh import refresh
from db.errors import CampaignNotFound
from engine.desk.web import Desk
from engine.http_api import Health, build_app
from engine.report_format import report_csv
from tests.integration.analytics_history import (
    REALM,
    Call,
    add_call,
    at,
    has_source,
    seed,
    set_status,
)
from tests.integration.analytics_recount import (
    CALL_FIELDS,
    Figures,
    assert_json_equals,
    csv_rows,
    from_report,
    recount,
)

PERIOD = ReportRange(date(2024, 6, 1), date(2024, 6, 8), "Asia/Shanghai")
NOW = datetime(2024, 6, 7, 18, 0, tzinfo=UTC)


@pytest.fixture
async def history(db_pool: asyncpg.Pool) -> dict[str, uuid.UUID]:
    return await seed(db_pool)


def assert_same(report: Figures, counted: Figures) -> None:
    def calls(f: Figures) -> dict[int | None, dict[str, int]]:
        return {k: v for k, v in f.calls.items() if any(v.values())}

    assert calls(report) == calls(counted)
    assert report.statuses == counted.statuses
    assert report.promised == counted.promised
    assert report.recovered == counted.recovered
    assert report.hours == counted.hours
    assert report.days == counted.days
    assert report.agents == counted.agents


async def test_report_equals_a_recount_from_the_raw_rows(db_pool, history) -> None:
    """Steps: the hand-made history; the report for 1–7 June (Shanghai) over all
    campaigns and for each one. Expected: every figure equals the recount; a few by hand:
    campaign 1 has 9 attempts (a10 and a11 fall just outside the local days), the payment
    before any promise and the one after the range are not recovered."""
    report = await campaign_report(db_pool, PERIOD, now=NOW)
    counted = await recount(db_pool, PERIOD, None, NOW)
    assert_same(from_report(report), counted)
    by_id = {c.campaign_id: c for c in report.campaigns}
    assert set(by_id) == {0, 1, 2}
    assert by_id[1].calls.attempts == 9 and by_id[2].calls.attempts == 6
    # a5 went to an agent, a8 did not answer the bot, a3 was a machine
    assert by_id[1].calls.bot_person == 6 and by_id[1].calls.bot_contained == 4
    assert by_id[1].promises.kept_rate == pytest.approx(2 / 4)
    assert by_id[2].calls.abandon_rate == pytest.approx(2 / 4)
    assert {m.currency: m.amount for m in report.total.recovered} == {
        "CNY": Decimal("940.00"), "USD": Decimal("70.00")}
    assert {m.currency: m.amount for m in by_id[2].recovered} == {"CNY": Decimal("600.00")}
    for campaign in (1, 2, 3):
        one = await campaign_report(db_pool, PERIOD, campaign, now=NOW)
        assert_same(from_report(one), await recount(db_pool, PERIOD, campaign, NOW))
    assert [c.campaign_id for c in
            (await campaign_report(db_pool, PERIOD, 3, now=NOW)).campaigns] == [3]
    with pytest.raises(CampaignNotFound):
        await campaign_report(db_pool, PERIOD, 99, now=NOW)


async def test_changes_are_followed_and_a_rebuild_agrees(db_pool, history) -> None:
    """Steps: a first report; then the raw rows change, each through one table only (a
    call ends and is a right-party contact, promises are settled, cancelled or added, a
    call and an intent are added, an agent takes a bot call, an outcome arrives late, an
    agent state is inserted between two others, a payment arrives, a debtor moves to
    another zone); a second
    report; then the rollups are emptied, everything queued again and rebuilt.
    Expected: the second report and the rebuilt one equal the recount of the changed rows."""
    await campaign_report(db_pool, PERIOD, now=NOW)
    ended = at("2024-06-04 01:09")
    await db_pool.execute("UPDATE attempts SET state = 'final', disposition = 'answered',"
                          " ended_at = $2, right_party = true WHERE id = $1",
                          history["a7"], ended)
    usd = await db_pool.fetchval("SELECT id FROM promises WHERE attempt_id = $1"
                                 " AND currency = 'USD'", history["a9"])
    await set_status(db_pool, usd, "kept")
    for promise in await db_pool.fetch("SELECT id FROM promises WHERE attempt_id = $1",
                                       history["a1"]):
        await set_status(db_pool, promise["id"], "cancelled")
    await add_call(db_pool, Call(2, 3, "2024-06-07 12:00", 2, 6, abandoned=True))
    await db_pool.execute(  # the dialer's intent, not dialled yet
        "INSERT INTO attempts (id, campaign_id, debtor_id, phone_id, state, created_at)"
        " VALUES ($1, 1, 1, 1, 'intent', $2)", uuid.uuid4(), at("2024-06-07 13:00"))
    await db_pool.execute(
        "INSERT INTO call_events (attempt_id, at, kind) VALUES ($1, $2, 'agent_connected')",
        history["a6"], at("2024-06-03 05:01"))
    await db_pool.execute("INSERT INTO call_outcomes (attempt_id, debtor_id, script, kind)"
                          " VALUES ($1, 3, 'zh', 'refusal')", history["b3"])
    await db_pool.execute(
        "INSERT INTO promises (debtor_id, attempt_id, amount, currency, due_date, follow_up_at,"
        " created_at) VALUES (3, $1, 20, 'CNY', '2024-06-09', $2, $2)", history["n1"],
        at("2024-06-04 09:01"))
    await db_pool.execute("INSERT INTO agent_state_log (agent_id, status, at)"
                          " VALUES ('1002', 'on_call', $1)", at("2024-06-02 07:00"))
    await db_pool.execute("UPDATE debtors SET timezone = 'Europe/London' WHERE id = 2")

    changed = await campaign_report(db_pool, PERIOD, now=NOW)
    counted = await recount(db_pool, PERIOD, None, NOW)
    assert_same(from_report(changed), counted)
    # a1's promise is cancelled, but the debtor's April promise (a13) still counts
    assert counted.recovered[1] == {"CNY": Decimal("940.00"), "USD": Decimal("70.00")}
    assert counted.statuses[1]["cancelled"] == 2 and counted.calls[2]["abandoned"] == 3

    # A payment alone (its debtor's promises unchanged since the last report)
    await db_pool.execute(
        "INSERT INTO payments (debtor_id, reference, amount, currency, paid_at"
        + (", source) VALUES (4, 'P-late', 15, 'CNY', $1, 'api')" if await has_source(db_pool)
           else ") VALUES (4, 'P-late', 15, 'CNY', $1)"), at("2024-06-06 08:00"))
    changed = await campaign_report(db_pool, PERIOD, now=NOW)
    counted = await recount(db_pool, PERIOD, None, NOW)
    assert_same(from_report(changed), counted)
    assert counted.recovered[1]["CNY"] == Decimal("955.00")

    for table in ("analytics_calls", "analytics_promises", "analytics_promisers",
                  "analytics_recovered", "analytics_agent_marks"):
        await db_pool.execute(f"DELETE FROM {table}")
    await db_pool.execute("SELECT analytics_queue_everything()")
    assert await refresh(db_pool, batch_rows=3) > 0  # several batches
    rebuilt = await campaign_report(db_pool, PERIOD, now=NOW, refresh_first=False)
    assert from_report(rebuilt) == from_report(changed)


def basic(agent_id: str) -> dict[str, str]:
    token = base64.b64encode(f"{agent_id}:pw".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
async def client(db_pool: asyncpg.Pool, history) -> AsyncIterator[TestClient]:
    desk = Desk(SimpleNamespace(), AgentRepository(db_pool), SimpleNamespace(),  # type: ignore[arg-type]
                REALM)
    health = Health(ari=True, ami=True, database=True, draining=False, live_calls=0, details={})
    app = build_app(lambda: health, desk=lambda: desk, reports=lambda: db_pool)
    async with TestClient(TestServer(app)) as client:
        yield client


QUERY = "from=2024-06-01&to=2024-06-08&tz=Asia/Shanghai"


async def test_json_api_equals_the_recount(db_pool, client: TestClient) -> None:
    """Steps: GET /api/report for the range as a supervisor, over all campaigns and for
    campaign 2; as an agent; without credentials; with a bad date and an unknown campaign.
    Expected: the figures equal the recount (money as decimal strings); 403, 401, 400, 404."""
    reply = await client.get(f"/api/report?{QUERY}", headers=basic("1900"))
    assert reply.status == 200
    body = await reply.json()
    # The API ends open agent states at its clock; any time after the range counts the same.
    counted = await recount(db_pool, PERIOD, None, NOW)
    assert_json_equals(body, counted)
    assert {a["agent_id"] for a in body["agents"]} == {"1001", "1002", "all"}

    one = await (await client.get(f"/api/report?{QUERY}&campaign=2",
                                  headers=basic("1900"))).json()
    assert [c["campaign_id"] for c in one["campaigns"]] == [2]
    assert one["total"]["abandoned"] == counted.calls[2]["abandoned"]

    assert (await client.get(f"/api/report?{QUERY}", headers=basic("1001"))).status == 403
    assert (await client.get(f"/api/report?{QUERY}")).status == 401
    bad = await client.get("/api/report?from=June", headers=basic("1900"))
    assert bad.status == 400 and "from" in (await bad.json())["error"]
    assert (await client.get(f"/api/report?{QUERY}&campaign=99",
                             headers=basic("1900"))).status == 404


async def test_csv_export_equals_the_recount(db_pool, client: TestClient) -> None:
    """Steps: GET /api/report.csv for each table. Expected: UTF-8 with a byte-order mark,
    one row per campaign and the total, amounts one column per currency, the campaign
    name that looks like a formula made inert; the numbers equal the recount."""
    reply = await client.get(f"/api/report.csv?{QUERY}", headers=basic("1900"))
    assert reply.status == 200 and reply.content_type == "text/csv"
    raw = await reply.read()
    assert raw.startswith("\ufeff".encode())
    rows = csv_rows(raw.decode("utf-8"))
    counted = await recount(db_pool, PERIOD, None, NOW)
    by_name = {r["campaign"]: r for r in rows}
    assert set(by_name) == {"春季 bot", "'=agents", "(no campaign)", "all"}
    assert by_name["all"]["campaign_id"] == ""
    for name, key in (("春季 bot", 1), ("'=agents", 2), ("(no campaign)", 0), ("all", None)):
        for csv_name, field in (("attempts", "attempts"), ("answered", "answered"),
                                ("abandoned", "abandoned"), ("bot_contained", "bot_contained"),
                                ("promise_calls", "promise_calls")):
            assert int(by_name[name][csv_name]) == counted.calls[key][field]
    assert by_name["all"]["recovered_amount_CNY"] == str(counted.recovered[None]["CNY"])
    assert by_name["all"]["promised_amount_USD"] == str(counted.promised[None]["USD"])
    assert float(by_name["'=agents"]["abandon_rate"]) == pytest.approx(
        counted.calls[2]["abandoned"] / counted.calls[2]["live"], abs=1e-6)

    days = csv_rows((await (await client.get(f"/api/report.csv?{QUERY}&table=days",
                                             headers=basic("1900"))).read()).decode())
    assert {(int(d["campaign_id"]), d["day"]): (int(d["live_answers"]), int(d["abandoned"]),
                                                int(d["live_answers_30d"]),
                                                int(d["abandoned_30d"])) for d in days} \
        == counted.days
    hours = csv_rows((await (await client.get(f"/api/report.csv?{QUERY}&table=hours",
                                              headers=basic("1900"))).read()).decode())
    assert {int(h["hour"]): (int(h["attempts"]), int(h["answered"]), int(h["live_answers"]))
            for h in hours} == counted.hours
    assert (await client.get(f"/api/report.csv?{QUERY}&table=x",
                             headers=basic("1900"))).status == 400


async def test_terminal_command_prints_and_writes_csv(db_pool, history, pg_cluster, tmp_path,
                                                      capsys) -> None:
    """Steps: `huilong report --from --to --tz --csv FILE --table agents` against the test
    database. Expected: exit 0, the tables printed, the file equals the report's CSV."""
    from engine import cli_report
    from engine.cli import _parser
    from engine.settings import load_settings

    target = tmp_path / "agents.csv"
    args = _parser().parse_args(["report", "--from", "2024-06-01", "--to", "2024-06-08",
                                 "--tz", "Asia/Shanghai", "--csv", str(target),
                                 "--table", "agents"])
    dsn = pg_cluster.dsn_for(await db_pool.fetchval("SELECT current_database()"))
    settings = load_settings(None, database={"url": dsn})
    assert await cli_report.run(args, settings) == 0
    printed = capsys.readouterr().out
    assert "春季 bot" in printed and "abandon rate per day" in printed
    rows = csv_rows(target.read_text(encoding="utf-8-sig"))
    assert {r["agent_id"] for r in rows} == {"1001", "1002", "all"}
    report = await campaign_report(db_pool, PERIOD)
    assert len(rows) + 1 == len(report_csv(report, "agents").splitlines())
    bad = _parser().parse_args(["report", "--from", "2024-06-08", "--to", "2024-06-01"])
    assert await cli_report.run(bad, settings) == 2
    assert CALL_FIELDS  # the recount and the report name the same counts


async def test_abandon_gauge_and_the_background_refresh(db_pool, history, monkeypatch) -> None:
    """Steps: the rollups' 30-day live answers and abandons as of NOW set the Prometheus
    gauge; then the HTTP app runs with a short refresh interval while a call is added.
    Expected: the gauge per campaign is abandoned ÷ live answers of the calls made since
    30 days before NOW (recounted from the raw rows); the queue empties with no report
    asked for."""
    from prometheus_client import generate_latest

    from db.analytics import recent_abandons
    from db.analytics_model import BUCKET
    from engine import metrics, report_api

    await refresh(db_pool)
    since = NOW - timedelta(days=30)
    since -= (since - datetime(2000, 1, 1, tzinfo=UTC)) % BUCKET
    counted: dict[int, list[int]] = {}
    for a in await db_pool.fetch("SELECT * FROM attempts WHERE created_at >= $1", since):
        live = a["answered_at"] is not None and not a["machine"]
        row = counted.setdefault(a["campaign_id"] or 0, [0, 0])
        row[0] += live
        row[1] += live and a["abandoned"]
    recent = await recent_abandons(db_pool, NOW)
    assert {c: list(v) for c, v in recent.items()} == counted
    report_api.set_abandon_gauge(recent)
    exposed = generate_latest(metrics.REGISTRY).decode()
    live_answers, abandons = counted[2]
    assert f'huilong_abandon_rate_30d{{campaign="2"}} {abandons / live_answers}' in exposed

    monkeypatch.setattr(report_api, "REFRESH_INTERVAL_S", 0.05)
    app = build_app(lambda: None, reports=lambda: db_pool)  # type: ignore[arg-type, return-value]
    async with TestClient(TestServer(app)):
        await add_call(db_pool, Call(1, 1, "2024-06-07 01:00", 2, 30))
        for _ in range(100):
            if not await db_pool.fetchval("SELECT count(*) FROM analytics_dirty_calls"):
                break
            await asyncio.sleep(0.05)
        assert not await db_pool.fetchval("SELECT count(*) FROM analytics_dirty_calls")
