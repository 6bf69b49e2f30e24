"""The supervisor dashboard over HTTP, on the daemon's app beside the desk and the report:

- `GET /dashboard`: the page (static/dashboard.html and its scripts, no network beyond
  this server). It reads `campaign`, `from`, `to` (not included), `tz` as
  `/api/report` does, and `refresh` (seconds between updates, 30 by default), and
  fetches `/api/report` itself, so every figure it shows is the API's.
- `GET /dashboard/static/{name}`: its scripts and style sheet (public: no data in them).
- `GET /api/dashboard/campaigns`: the campaigns for the selector, each with its abandon
  cap (engine.dashboard.figures).
- `GET /api/dashboard/agents`: the live agents counted by state.

Supervisors only, with the report's authentication (engine.desk.auth): a browser without
a desk session is sent to the desk's log-in page; otherwise 401 without credentials, 403
for anyone but a supervisor.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import hdrs, web

from db.campaigns import CampaignRow
from db.errors import DbError
from db.pool import connection
from engine.dashboard.figures import agent_states, campaign_entry

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
PAGE = "dashboard.html"
ASSETS = frozenset({"dashboard.css", "dashboard.js", "charts.js", "format.js"})
LOGIN = "/desk/login"
# Scripts, styles and data from this server only; the charts are SVG built by script.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
# The live agent service (engine.agents.service: its `registry`), None until loaded.
AGENTS_KEY: web.AppKey[Callable[[], Any]] = web.AppKey("dashboard_agents")
_CAMPAIGNS = ("SELECT id, name, strategy, status, settings, created_at FROM campaigns"
              " ORDER BY id")


def _error(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"error": message}), content_type="application/json")


async def _require_supervisor(request: web.Request, *, page: bool = False) -> None:
    from engine.desk.auth import require_supervisor
    from engine.desk.web import DESK_KEY

    desk = request.app[DESK_KEY]()
    if desk is None:  # it holds the sessions and accounts to check credentials with
        raise _error(web.HTTPServiceUnavailable, "the desk is not ready yet")
    if page and hdrs.AUTHORIZATION not in request.headers and desk.sessions.user(request) is None:
        raise web.HTTPFound(LOGIN)  # as the desk's own page does
    await require_supervisor(request, desk.sessions, desk.accounts)


async def dashboard_page(request: web.Request) -> web.StreamResponse:
    await _require_supervisor(request, page=True)
    return web.FileResponse(STATIC / PAGE, headers=SECURITY_HEADERS)


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in ASSETS:
        raise web.HTTPNotFound(text="no such file")
    return web.FileResponse(STATIC / name, headers=SECURITY_HEADERS)


async def _campaign_rows(pool: asyncpg.Pool) -> list[CampaignRow]:
    async with connection(pool) as conn:
        rows = await conn.fetch(_CAMPAIGNS)
    out = []
    for r in rows:
        settings = json.loads(r["settings"])
        out.append(CampaignRow(id=r["id"], name=r["name"], strategy=r["strategy"],
                               status=r["status"],
                               settings=settings if isinstance(settings, dict) else {},
                               created_at=r["created_at"]))
    return out


async def campaigns(request: web.Request) -> web.Response:
    from engine.report_api import POOL_KEY

    await _require_supervisor(request)
    pool = request.app[POOL_KEY]()
    if pool is None:
        raise _error(web.HTTPServiceUnavailable, "the database is not open yet")
    try:
        rows = await _campaign_rows(pool)
    except (DbError, asyncpg.PostgresError) as exc:
        log.warning("dashboard campaigns: %s", exc)
        raise _error(web.HTTPServiceUnavailable, "the database did not answer") from None
    return web.json_response([campaign_entry(r) for r in rows])


async def agents(request: web.Request) -> web.Response:
    await _require_supervisor(request)
    service = request.app[AGENTS_KEY]()
    if service is None:
        raise _error(web.HTTPServiceUnavailable, "agents not loaded yet")
    return web.json_response(agent_states(a.status for a in service.registry.agents()))


def add_routes(app: web.Application, agents_source: Callable[[], Any]) -> None:
    """Needs the desk's and the report's routes on the same app (their keys: the
    sessions and accounts, the database pool)."""
    app[AGENTS_KEY] = agents_source
    app.router.add_get("/dashboard", dashboard_page)
    app.router.add_get("/dashboard/static/{name}", static_file)
    app.router.add_get("/api/dashboard/campaigns", campaigns)
    app.router.add_get("/api/dashboard/agents", agents)
