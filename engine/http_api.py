"""HTTP endpoints of the daemon: /healthz and /metrics (Prometheus), the agents' states
(`GET /agents`, open: read-only monitoring without personal data) and the supervisor API
(`POST /agents/{agent_id}/{action}`: a supervisor's desk session or HTTP Basic
credentials, see engine.desk.auth), the agent desk (engine.desk.web), the core bank's
payments webhook (`POST /payments`, engine.payments_api) and the supervisors' dashboard
(`GET /dashboard`, engine.dashboard.web)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from engine import metrics

log = logging.getLogger(__name__)


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
AGENTS_KEY: web.AppKey[Callable[[], Any]] = web.AppKey("agents", Callable[[], Any])


def _agent_json(agent: Any) -> dict[str, Any]:
    return {"agent_id": agent.agent_id, "status": agent.status.value,
            "reason": agent.pause_reason, "call_id": agent.call_id,
            "reachable": agent.reachable}


async def list_agents(request: web.Request) -> web.Response:
    service = request.app[AGENTS_KEY]()
    if service is None:
        return web.json_response({"error": "agents not loaded yet"}, status=503)
    return web.json_response([_agent_json(a) for a in service.registry.agents()])


async def agent_action(request: web.Request) -> web.Response:
    """POST /agents/{agent_id}/{action} (login, logout, pause, ready); JSON body
    {"reason": ...} for a pause. Supervisors only: 401 without credentials, 403 for
    anyone else."""
    from engine.agents.state import AgentStateError
    from engine.desk.auth import require_supervisor
    from engine.desk.web import DESK_KEY

    desk = request.app[DESK_KEY]()
    if desk is None:  # it holds the sessions and the accounts to check credentials with
        return web.json_response({"error": "the desk is not ready yet"}, status=503)
    supervisor = await require_supervisor(request, desk.sessions, desk.accounts)
    service = request.app[AGENTS_KEY]()
    if service is None:
        return web.json_response({"error": "agents not loaded yet"}, status=503)
    reason = None
    if request.can_read_body:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "the body is not JSON"}, status=400)
        reason = body.get("reason") if isinstance(body, dict) else None
    try:
        agent = service.request(request.match_info["agent_id"], request.match_info["action"],
                                reason)
    except AgentStateError as exc:
        return web.json_response({"error": str(exc)}, status=409)
    log.info("agent %s: %s by supervisor %s", agent.agent_id, request.match_info["action"],
             supervisor.agent_id)
    return web.json_response(_agent_json(agent))


async def healthz(request: web.Request) -> web.Response:
    health = request.app[HEALTH_KEY]()
    body = asdict(health)
    body["status"] = "ok" if health.ok else "degraded"
    return web.json_response(body, status=200 if health.ok else 503)


async def metrics_endpoint(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(metrics.REGISTRY),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_app(health: Callable[[], Health],
              agents: Callable[[], Any] = lambda: None,
              desk: Callable[[], Any] = lambda: None,
              payments: Callable[[], Any] = lambda: None,
              reports: Callable[[], Any] = lambda: None) -> web.Application:
    """`reports`: the database pool the campaign report reads (engine.report_api)."""
    from engine.dashboard.web import add_routes as add_dashboard_routes
    from engine.desk.web import add_routes
    from engine.payments_api import add_routes as add_payment_routes
    from engine.report_api import add_routes as add_report_routes

    app = web.Application()
    add_routes(app, desk)
    add_payment_routes(app, payments)  # POST /payments, the core bank's webhook
    add_report_routes(app, reports)  # GET /api/report(.csv), for supervisors
    add_dashboard_routes(app, agents)  # GET /dashboard: the report and agents, charted
    app[HEALTH_KEY] = health
    app[AGENTS_KEY] = agents
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_endpoint)
    app.router.add_get("/agents", list_agents)
    app.router.add_post("/agents/{agent_id}/{action}", agent_action)
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
