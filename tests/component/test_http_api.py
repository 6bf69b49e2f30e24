"""/healthz and /metrics served by aiohttp, exercised over a real local socket."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from engine import metrics
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
