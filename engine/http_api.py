"""HTTP endpoints of the daemon: /healthz and /metrics (Prometheus)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from engine import metrics


@dataclass(frozen=True, slots=True)
class Health:
    ari: bool
    ami: bool
    database: bool
    draining: bool
    live_calls: int
    details: dict[str, str]

    @property
    def ok(self) -> bool:
        return self.ari and self.ami and self.database


HEALTH_KEY: web.AppKey[Callable[[], Health]] = web.AppKey("health", Callable[[], Health])


async def healthz(request: web.Request) -> web.Response:
    health = request.app[HEALTH_KEY]()
    body = asdict(health)
    body["status"] = "ok" if health.ok else "degraded"
    return web.json_response(body, status=200 if health.ok else 503)


async def metrics_endpoint(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(metrics.REGISTRY),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_app(health: Callable[[], Health]) -> web.Application:
    app = web.Application()
    app[HEALTH_KEY] = health
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_endpoint)
    return app


async def start_site(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving; return the runner (to clean up) and the bound port (port 0 → any)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port
    server = site._server  # aiohttp keeps the asyncio server here; needed for port 0
    if server is not None and server.sockets:
        bound = server.sockets[0].getsockname()[1]
    return runner, bound
