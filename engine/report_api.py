"""The campaign report over HTTP, for supervisors (a desk session or HTTP Basic, as the
supervisor API):

- `GET /api/report?campaign=ID&from=DATE&to=DATE&tz=ZONE`: JSON (engine.report_format);
- `GET /api/report.csv?...&table=campaigns|hours|days|agents`: one table as CSV (UTF-8
  with a byte-order mark, so spreadsheets read Chinese campaign names).

`from`/`to` are local days in `tz` (default UTC), `to` not included; without them, the
last 30 days up to today. The rollups are refreshed before each report and every minute
while the app runs (so the queues stay short even when nobody asks for a report); each
minute also sets the Prometheus gauge `huilong_abandon_rate_30d{campaign}`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web
from prometheus_client import Gauge

from db.analytics import campaign_report, recent_abandons
from db.analytics_refresh import refresh
from db.errors import CampaignNotFound, DbError
from engine import metrics
from engine.report_format import TABLES, QueryError, parse_query, report_csv, report_json

log = logging.getLogger(__name__)

REFRESH_INTERVAL_S = 60.0
REFRESH_TIMEOUT_S = 300.0

POOL_KEY: web.AppKey[Callable[[], asyncpg.Pool | None]] = web.AppKey("report_pool")
ABANDON_RATE_30D = Gauge(
    "huilong_abandon_rate_30d", "Abandoned calls ÷ live answers per campaign, calls of the "
    "last 30 days (docs/metrics.md), as of the last analytics refresh", ["campaign"],
    registry=metrics.REGISTRY)


def _error(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"error": message}), content_type="application/json")


async def _report(request: web.Request) -> Any:
    from engine.desk.auth import require_supervisor
    from engine.desk.web import DESK_KEY

    desk = request.app[DESK_KEY]()
    if desk is None:  # it holds the sessions and accounts to check credentials with
        raise _error(web.HTTPServiceUnavailable, "the desk is not ready yet")
    await require_supervisor(request, desk.sessions, desk.accounts)
    pool = request.app[POOL_KEY]()
    if pool is None:
        raise _error(web.HTTPServiceUnavailable, "the database is not open yet")
    try:
        period, campaign = parse_query(request.query, datetime.now(UTC))
    except QueryError as exc:
        raise _error(web.HTTPBadRequest, str(exc)) from None
    try:
        return await campaign_report(pool, period, campaign)
    except CampaignNotFound as exc:
        raise _error(web.HTTPNotFound, str(exc)) from None
    except (DbError, asyncpg.PostgresError) as exc:  # e.g. the statement timeout
        log.warning("report: %s", exc)
        raise _error(web.HTTPServiceUnavailable, "the database did not answer") from None


async def report_endpoint(request: web.Request) -> web.Response:
    return web.json_response(report_json(await _report(request)))


async def report_csv_endpoint(request: web.Request) -> web.Response:
    table = request.query.get("table", "campaigns")
    if table not in TABLES:
        raise _error(web.HTTPBadRequest, f"table: one of {', '.join(TABLES)}")
    report = await _report(request)
    r = report.range
    name = f"report-{table}-{r.first_day}-{r.end_day}.csv"
    return web.Response(body=("\ufeff" + report_csv(report, table)).encode("utf-8"),
                        content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def _refresh_forever(pool: Callable[[], asyncpg.Pool | None]) -> None:
    while True:
        await asyncio.sleep(REFRESH_INTERVAL_S)
        current = pool()
        if current is None:
            continue
        try:
            async with asyncio.timeout(REFRESH_TIMEOUT_S):
                await refresh(current)
                set_abandon_gauge(await recent_abandons(current, datetime.now(UTC)))
        except Exception:  # the next round tries again; the report refreshes by itself
            log.exception("analytics refresh failed")


def set_abandon_gauge(recent: dict[int, tuple[int, int]]) -> None:
    """One value per campaign with live answers in the window; the others are dropped."""
    ABANDON_RATE_30D.clear()
    for campaign, (live, abandoned) in recent.items():
        if live:
            ABANDON_RATE_30D.labels(str(campaign)).set(abandoned / live)


async def _background_refresh(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_refresh_forever(app[POOL_KEY]), name="analytics-refresh")
    yield
    task.cancel()
    await asyncio.wait([task], timeout=5)


def add_routes(app: web.Application, pool: Callable[[], asyncpg.Pool | None]) -> None:
    """Needs the desk's routes on the same app (their sessions authenticate here)."""
    app[POOL_KEY] = pool
    app.router.add_get("/api/report", report_endpoint)
    app.router.add_get("/api/report.csv", report_csv_endpoint)
    app.cleanup_ctx.append(_background_refresh)
