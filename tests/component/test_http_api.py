"""/healthz, /metrics, the supervisor API's authentication and the desk's disposition
endpoint, served by aiohttp and exercised over a real local socket."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from db.agents import AgentRow
from db.desk import DeskUser, Disposition, NotYourCall, check_disposition
from engine import metrics
from engine.agents.phones import digest_credential
from engine.agents.state import Agent, AgentStateError, AgentStatus
from engine.desk.web import Desk
from engine.http_api import Health, build_app


def healthy(**overrides: object) -> Health:
    fields: dict[str, object] = {"ari": True, "ami": True, "database": True, "draining": False,
                                 "live_calls": 3, "details": {}, **overrides}
    return Health(**fields)  # type: ignore[arg-type]


class HealthSource:
    """The daemon's health() stand-in: returns whatever the test set last."""

    def __init__(self, health: Health) -> None:
        self.health = health
        self.calls = 0

    def __call__(self) -> Health:
        self.calls += 1
        return self.health


@pytest.fixture
def source() -> HealthSource:
    return HealthSource(healthy())


@pytest.fixture
async def client(source: HealthSource) -> AsyncIterator[TestClient]:
    """The app on a real local port, its health read from `source`."""
    async with TestClient(TestServer(build_app(source))) as client:
        yield client


async def test_healthz_ok_when_everything_is_up(client: TestClient, source: HealthSource) -> None:
    """Steps: GET /healthz with ARI, AMI and database up.
    Expected: 200, JSON with status "ok", the flags and the live call count."""
    source.health = healthy()
    response = await client.get("/healthz")
    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.json()
    assert body == {"ari": True, "ami": True, "database": True, "draining": False,
                    "live_calls": 3, "details": {}, "status": "ok"}
    assert source.calls == 1


@pytest.mark.parametrize("down", ["ari", "ami", "database"])
async def test_healthz_503_when_a_dependency_is_down(
        client: TestClient, source: HealthSource, down: str) -> None:
    """Steps: GET /healthz with one of ARI, AMI, database down and a detail for it.
    Expected: 503, status "degraded", that flag false and the detail passed through."""
    detail = {down: "connection refused"}
    source.health = healthy(**{down: False}, details=detail)
    response = await client.get("/healthz")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "degraded"
    assert body[down] is False
    assert body["details"] == detail


async def test_healthz_is_evaluated_per_request(client: TestClient, source: HealthSource) -> None:
    """Steps: GET /healthz while healthy, then after the database goes down.
    Expected: 200 then 503 — health is read on every request, not cached."""
    source.health = healthy()
    assert (await client.get("/healthz")).status == 200
    source.health = healthy(database=False)
    assert (await client.get("/healthz")).status == 503
    assert source.calls == 2


async def test_draining_alone_does_not_fail_health(
        client: TestClient, source: HealthSource) -> None:
    """Steps: GET /healthz while draining with all dependencies up.
    Expected: 200 with draining true (draining is reported, not a failure)."""
    source.health = healthy(draining=True)
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["draining"] is True


async def test_metrics_in_prometheus_text_format(client: TestClient, source: HealthSource) -> None:
    """Steps: count one finished busy call; GET /metrics.
    Expected: 200, Prometheus text content type, the engine's metric families present and
    the busy counter at its new value."""
    before = metrics.REGISTRY.get_sample_value(
        "huilong_calls_finished_total", {"disposition": "busy"}) or 0.0
    metrics.CALLS_FINISHED.labels("busy").inc()
    source.health = healthy()
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "charset=utf-8" in response.headers["Content-Type"]
    text = await response.text()
    for family in ("huilong_calls_placed_total", "huilong_live_calls", "huilong_ari_connected",
                   "huilong_database_up", "huilong_draining"):
        assert f"# TYPE {family.removesuffix('_total')}" in text
    assert f'huilong_calls_finished_total{{disposition="busy"}} {before + 1}' in text


async def test_unknown_path_is_404(client: TestClient, source: HealthSource) -> None:
    """Steps: GET /nope and POST /healthz. Expected: 404 and 405."""
    source.health = healthy()
    assert (await client.get("/nope")).status == 404
    assert (await client.post("/healthz")).status == 405


# -- the supervisor API and the desk ------------------------------------------------------

REALM = "huilong"
PASSWORDS = {"1001": "agent-secret", "1900": "supervisor-密码"}


class Accounts:
    """The agent table's stand-in: what the credential check reads."""

    async def active(self) -> list[AgentRow]:
        return [AgentRow(agent_id, f"Agent {agent_id}", REALM,
                         digest_credential(agent_id, REALM, password),
                         "supervisor" if agent_id == "1900" else "agent",
                         datetime(2026, 1, 1, tzinfo=UTC))
                for agent_id, password in PASSWORDS.items()]


@dataclass
class Service:
    """The agent service's stand-in: records the actions it was asked for."""

    asked: list[tuple[str, str, str | None]] = field(default_factory=list)

    def request(self, agent_id: str, action: str, reason: str | None = None) -> Agent:
        if action == "dance":
            raise AgentStateError(f"unknown agent action {action!r}")
        self.asked.append((agent_id, action, reason))
        return Agent(agent_id, AgentStatus.PAUSED if reason else AgentStatus.READY,
                     reachable=True, pause_reason=reason)

    @property
    def registry(self) -> Service:
        return self

    def agents(self) -> list[Agent]:
        return [Agent("1001", AgentStatus.READY, reachable=True)]


CALL = uuid.UUID("00000000-0000-4000-8000-000000000001")


class Calls:
    """The desk repository's stand-in: call CALL was bridged to 1001; dispositions are
    checked by the real pure validation, in Shanghai."""

    def __init__(self) -> None:
        self.saved: list[tuple[str, Disposition]] = []

    async def save_disposition(self, attempt_id: uuid.UUID, user: DeskUser, kind: object,
                               callback_at: object, note: object, now: datetime) -> Disposition:
        if attempt_id != CALL or not (user.supervisor or user.agent_id == "1001"):
            raise NotYourCall(f"call {attempt_id}")
        disposition = check_disposition(kind, callback_at, note, ZoneInfo("Asia/Shanghai"), now)
        self.saved.append((user.agent_id, disposition))
        return disposition


@dataclass
class Stage:
    client: TestClient
    service: Service
    calls: Calls


@pytest.fixture
async def stage() -> AsyncIterator[Stage]:
    service, calls = Service(), Calls()
    desk = Desk(service, Accounts(), calls, REALM)  # type: ignore[arg-type]
    app = build_app(lambda: healthy(), lambda: service, lambda: desk)
    async with TestClient(TestServer(app)) as client:
        yield Stage(client, service, calls)


def basic(agent_id: str, password: str) -> dict[str, str]:
    """HTTP Basic credentials, UTF-8 (aiohttp.BasicAuth is deprecated)."""
    token = base64.b64encode(f"{agent_id}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


async def desk_login(client: TestClient, agent_id: str) -> None:
    reply = await client.post("/desk/login", data={"agent": agent_id,
                                                   "password": PASSWORDS[agent_id]},
                              allow_redirects=False)
    assert reply.status == 302 and reply.headers["Location"] == "/desk"
    cookie = reply.cookies["huilong_desk"]
    assert cookie["path"] == "/" and cookie["httponly"] and cookie["samesite"] == "Strict"


async def test_the_supervisor_api_refuses_the_unauthenticated_and_non_supervisors(
        stage: Stage) -> None:
    """Steps: POST /agents/1001/pause with no credentials, a malformed and a Bearer
    Authorization header, an unknown agent, the supervisor's wrong password, and agent
    1001's right password. Expected: 401 with a Basic WWW-Authenticate challenge (JSON
    error) for all but the last, 403 for the plain agent; no action reaches the agent
    service. GET /agents stays open."""
    client = stage.client
    refusals = [{}, {"headers": {"Authorization": "Basic !!!"}},
                {"headers": {"Authorization": "Bearer abc"}},
                {"headers": basic("1999", "whatever")},
                {"headers": basic("1900", "agent-secret")},
                {"headers": {"Authorization": "Basic " + base64.b64encode(b"1900").decode()}}]
    for how in refusals:
        reply = await client.post("/agents/1001/pause", json={"reason": "lunch"}, **how)
        assert reply.status == 401, how
        assert reply.headers["WWW-Authenticate"].startswith('Basic realm="huilong supervisor"')
        assert "supervisor" in (await reply.json())["error"]
    reply = await client.post("/agents/1001/pause", headers=basic("1001", PASSWORDS["1001"]))
    assert reply.status == 403
    assert (await reply.json()) == {"error": "agent 1001 is not a supervisor"}
    assert stage.service.asked == []
    reply = await client.get("/agents")
    assert reply.status == 200 and (await reply.json())[0]["agent_id"] == "1001"


async def test_a_supervisor_acts_with_basic_credentials(stage: Stage) -> None:
    """Steps: POST /agents/1001/pause {"reason": "lunch"} with supervisor 1900's id and
    (non-ASCII) SIP password over Basic auth; then an unknown action.
    Expected: 200 with the agent's new state, the service asked once; 409 for the
    unknown action."""
    auth = basic("1900", PASSWORDS["1900"])
    reply = await stage.client.post("/agents/1001/pause", json={"reason": "lunch"},
                                    headers=auth)
    assert reply.status == 200, await reply.text()
    assert (await reply.json()) == {"agent_id": "1001", "status": "paused", "reason": "lunch",
                                    "call_id": None, "reachable": True}
    assert stage.service.asked == [("1001", "pause", "lunch")]
    reply = await stage.client.post("/agents/1001/dance", headers=auth)
    assert reply.status == 409


async def test_a_supervisors_desk_session_opens_the_supervisor_api(stage: Stage) -> None:
    """Steps: supervisor 1900 logs in at the desk (the cookie, path "/", is sent to
    /agents too) and makes 1001 ready; GET /desk/me. Expected: 200, the role is
    remembered in the session. An agent's desk session gets 403 there."""
    await desk_login(stage.client, "1900")
    reply = await stage.client.get("/desk/me")
    assert (await reply.json()) == {"agent": "1900", "role": "supervisor"}
    reply = await stage.client.post("/agents/1001/ready")
    assert reply.status == 200 and stage.service.asked == [("1001", "ready", None)]

    stage.client.session.cookie_jar.clear()
    await desk_login(stage.client, "1001")
    assert (await (await stage.client.get("/desk/me")).json())["role"] == "agent"
    assert (await stage.client.post("/agents/1001/ready")).status == 403


async def test_a_wrong_desk_password_is_refused(stage: Stage) -> None:
    """Steps: log in at the desk with 1001's id and the supervisor's password.
    Expected: back to the login page with failed=1, no session."""
    reply = await stage.client.post("/desk/login", data={"agent": "1001",
                                                         "password": PASSWORDS["1900"]},
                                    allow_redirects=False)
    assert reply.status == 302 and reply.headers["Location"] == "/desk/login?failed=1"
    assert (await stage.client.get("/desk/me")).status == 401


async def test_the_disposition_endpoint_answers_422_naming_the_field(stage: Stage) -> None:
    """Steps: agent 1001, logged in, posts dispositions for its call: a callback without
    a time, an unknown kind, a body that is not JSON, a JSON list; then a valid
    callback; then one for a call not theirs.
    Expected: 422 {"error"} naming the field (no traceback) for the invalid ones, 200
    with the callback's UTC time for the valid one, 404 for the other call."""
    await desk_login(stage.client, "1001")
    path = f"/desk/calls/{CALL}/disposition"
    for body, message in [({"kind": "callback"}, "callback_at: a callback needs"),
                          ({"kind": "sale"}, "kind: one of")]:
        reply = await stage.client.post(path, json=body)
        assert reply.status == 422
        assert (await reply.json())["error"].startswith(message)
    for raw in (b"{not json", b"[1, 2]"):
        reply = await stage.client.post(path, data=raw,
                                        headers={"Content-Type": "application/json"})
        assert reply.status == 422
        assert (await reply.json()) == {"error": "body: a JSON object expected"}

    due = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=2)).replace(
        second=0, microsecond=0)
    reply = await stage.client.post(path, json={"kind": "callback", "note": "evening",
                                                "callback_at": f"{due:%Y-%m-%dT%H:%M}"})
    assert reply.status == 200, await reply.text()
    assert (await reply.json()) == {"saved": "callback",
                                    "callback_at": due.astimezone(UTC).isoformat()}
    assert stage.calls.saved == [("1001", Disposition("callback", due.astimezone(UTC),
                                                      "evening"))]
    other = f"/desk/calls/{uuid.uuid4()}/disposition"
    assert (await stage.client.post(other, json={"kind": "refusal"})).status == 404
    assert (await stage.client.post("/desk/calls/not-a-call/disposition",
                                    json={"kind": "refusal"})).status == 404


async def test_the_desk_needs_a_session(stage: Stage) -> None:
    """Steps: POST a disposition and GET /desk/me without logging in.
    Expected: 401 both; /desk redirects to the login page."""
    assert (await stage.client.post(f"/desk/calls/{CALL}/disposition",
                                    json={"kind": "refusal"})).status == 401
    assert (await stage.client.get("/desk/me")).status == 401
    reply = await stage.client.get("/desk", allow_redirects=False)
    assert reply.status == 302 and reply.headers["Location"] == "/desk/login"


async def test_the_supervisor_api_waits_for_the_desk() -> None:
    """Steps: POST /agents/1001/ready before the daemon has built the desk.
    Expected: 503 with a JSON error."""
    app = build_app(lambda: healthy(), lambda: Service(), lambda: None)
    async with TestClient(TestServer(app)) as client:
        reply = await client.post("/agents/1001/ready", headers=basic("1900", PASSWORDS["1900"]))
        assert reply.status == 503 and "not ready" in (await reply.json())["error"]
