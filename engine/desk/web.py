"""The agent desk: web pages served by the daemon (aiohttp), live over server-sent events.

- `/desk/login`: the agent id and the phone's SIP password (engine.desk.auth: checked
  against the stored digest credential, the desk keeps no second password); the session
  remembers the role.
- `/desk`: state buttons (ready, pause, log out), the screen pop of the call bridged to
  the agent (the debtor masked, their time zone, the bot's transcript, past promises),
  the promise form (one date and amount, or several: an instalment plan) and the
  disposition form (kind, callback time in the debtor's zone, note).
- `/desk/me`: who is logged in, and as what.
- `/desk/events`: the agent's state changes and screen pops, as they happen.
Agents see only their own calls; a supervisor may open any call bridged to an agent, the
debtor unmasked (db.desk checks every read and write, and audits what it reveals).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from aiohttp import web

from db.desk import (
    DeskRepository,
    DeskUser,
    DispositionError,
    Instalment,
    NotYourCall,
    PlanError,
    SavedDisposition,
)
from engine.agents.service import AgentService
from engine.agents.state import Agent, AgentStateError, AgentStatus
from engine.desk.auth import Accounts, Sessions, check_credentials, set_session_cookie

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0
PAGES = Path(__file__).resolve().parent / "pages"


@dataclass
class Desk:
    agents: AgentService
    accounts: Accounts
    calls: DeskRepository
    realm: str
    sessions: Sessions = field(default_factory=Sessions)


DESK_KEY: web.AppKey[Callable[[], Desk | None]] = web.AppKey("desk")
# The open event streams: ended at shutdown (they never end by themselves, and the
# server would wait for them).
STREAMS_KEY: web.AppKey[set[asyncio.Task[Any]]] = web.AppKey("desk_streams", set)


def _desk(request: web.Request) -> Desk:
    desk = request.app[DESK_KEY]()
    if desk is None:
        raise web.HTTPServiceUnavailable(text="the desk is not ready yet")
    return desk


def _user(request: web.Request) -> tuple[Desk, DeskUser]:
    desk = _desk(request)
    user = desk.sessions.user(request)
    if user is None:
        raise web.HTTPUnauthorized(text="log in at /desk/login")
    return desk, user


async def login_page(request: web.Request) -> web.Response:
    return web.FileResponse(PAGES / "login.html")  # type: ignore[return-value]


async def login(request: web.Request) -> web.Response:
    desk = _desk(request)
    form = await request.post()
    agent_id, password = str(form.get("agent", "")).strip(), str(form.get("password", ""))
    user = await check_credentials(desk.accounts, agent_id, password)
    if user is None:
        log.info("desk login refused for agent %s", agent_id[:8])
        raise web.HTTPFound("/desk/login?failed=1")
    response = web.HTTPFound("/desk")
    set_session_cookie(response, desk.sessions.open(user))
    raise response


async def desk_page(request: web.Request) -> web.StreamResponse:
    desk = _desk(request)
    if desk.sessions.user(request) is None:
        raise web.HTTPFound("/desk/login")
    return web.FileResponse(PAGES / "desk.html")


async def me(request: web.Request) -> web.Response:
    _, user = _user(request)
    return web.json_response({"agent": user.agent_id, "role": user.role})


def _state(agent: Agent) -> dict[str, Any]:
    return {"type": "state", "agent": agent.agent_id, "status": agent.status.value,
            "reason": agent.pause_reason, "call_id": agent.call_id}


async def events(request: web.Request) -> web.StreamResponse:
    desk, user = _user(request)
    agent_id = user.agent_id
    queue: asyncio.Queue[Agent] = asyncio.Queue()

    def on_change(agent: Agent) -> None:
        if agent.agent_id == agent_id:
            queue.put_nowait(agent)

    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-store"})
    await response.prepare(request)
    desk.agents.listeners.append(on_change)
    streams = request.app[STREAMS_KEY]
    task = asyncio.current_task()
    assert task is not None
    streams.add(task)
    try:
        queue.put_nowait(desk.agents.registry.get(agent_id))  # where the agent stands now
        while True:
            try:
                async with asyncio.timeout(KEEPALIVE_S):
                    agent = await queue.get()
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            messages = [_state(agent)]
            if agent.status is AgentStatus.ON_CALL and agent.call_id:
                messages.append({"type": "pop", "call_id": agent.call_id})
            for message in messages:
                await response.write(f"data: {json.dumps(message)}\n\n".encode())
    except asyncio.CancelledError:
        if task not in streams:  # cancelled by the shutdown below: end the stream
            return response
        raise
    except ConnectionResetError:
        return response
    finally:
        desk.agents.listeners.remove(on_change)
        streams.discard(task)


async def change_state(request: web.Request) -> web.Response:
    desk, user = _user(request)
    body = await request.json() if request.can_read_body else {}
    reason = body.get("reason") if isinstance(body, dict) else None
    try:
        agent = desk.agents.request(user.agent_id, request.match_info["action"], reason)
    except AgentStateError as exc:
        return web.json_response({"error": str(exc)}, status=409)
    return web.json_response(_state(agent))


def _attempt(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["call_id"])
    except ValueError:
        raise web.HTTPNotFound(text="no such call") from None


def _disposition_json(saved: SavedDisposition | None) -> dict[str, Any] | None:
    if saved is None:
        return None
    return {"kind": saved.kind, "note": saved.note, "agent": saved.agent_id,
            "recorded_at": saved.recorded_at.isoformat(),
            # As the form's datetime-local shows it: the debtor's wall time.
            "callback_at": (saved.callback_at.strftime("%Y-%m-%dT%H:%M")
                            if saved.callback_at else None)}


async def screen_pop(request: web.Request) -> web.Response:
    desk, user = _user(request)
    try:
        pop = await desk.calls.pop(_attempt(request), user)
    except NotYourCall:
        raise web.HTTPNotFound(text="no such call of yours") from None
    return web.json_response({
        "call_id": str(pop.attempt_id), "name": pop.name, "timezone": pop.timezone,
        "amount_due": str(pop.amount_due),
        "currency": pop.currency, "overdue_days": pop.overdue_days,
        "due_date": pop.due_date.isoformat() if pop.due_date else None,
        "bot_outcome": pop.bot_outcome,
        "transcript": [{"node": t.node, "prompt": t.prompt, "heard": t.heard,
                        "intent": t.intent} for t in pop.transcript],
        "promises": [{"due_date": d.isoformat(), "amount": str(a), "status": s}
                     for d, a, s in pop.promises],
        "disposition": _disposition_json(pop.disposition)})


def _instalments(body: Any) -> list[Instalment]:
    items = body.get("instalments") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise PlanError("instalments: a list of {date, amount}")
    plan = []
    for n, item in enumerate(items, 1):
        try:
            plan.append(Instalment(date.fromisoformat(str(item["date"])),
                                   Decimal(str(item["amount"]))))
        except (KeyError, TypeError, ValueError, InvalidOperation):
            raise PlanError(f"instalment {n}: a date (YYYY-MM-DD) and an amount") from None
    return plan


async def save_plan(request: web.Request) -> web.Response:
    desk, user = _user(request)
    try:
        body = await request.json()
        saved = await desk.calls.save_plan(_attempt(request), user, _instalments(body),
                                           datetime.now(UTC))
    except NotYourCall:
        raise web.HTTPNotFound(text="no such call of yours") from None
    except (PlanError, ValueError) as exc:
        return web.json_response({"error": str(exc)}, status=422)
    return web.json_response({"saved": saved})


async def save_disposition(request: web.Request) -> web.Response:
    """JSON {"kind", "callback_at" (the debtor's local YYYY-MM-DDTHH:MM, a callback
    only), "note"}; 422 {"error"} naming the field when it does not hold."""
    desk, user = _user(request)
    attempt_id = _attempt(request)
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "body: a JSON object expected"}, status=422)
    if not isinstance(body, dict):
        return web.json_response({"error": "body: a JSON object expected"}, status=422)
    try:
        saved = await desk.calls.save_disposition(
            attempt_id, user, body.get("kind"), body.get("callback_at"), body.get("note"),
            datetime.now(UTC))
    except NotYourCall:
        raise web.HTTPNotFound(text="no such call of yours") from None
    except DispositionError as exc:
        return web.json_response({"error": str(exc)}, status=422)
    log.info("call %s: disposition %s by agent %s", attempt_id, saved.kind, user.agent_id)
    return web.json_response({
        "saved": saved.kind,
        "callback_at": saved.callback_at.isoformat() if saved.callback_at else None})


async def _end_streams(app: web.Application) -> None:
    streams = app[STREAMS_KEY]
    for task in list(streams):
        streams.discard(task)
        task.cancel()


def add_routes(app: web.Application, desk: Callable[[], Desk | None]) -> None:
    app[DESK_KEY] = desk
    app[STREAMS_KEY] = set()
    app.on_shutdown.append(_end_streams)
    app.router.add_get("/desk/login", login_page)
    app.router.add_post("/desk/login", login)
    app.router.add_get("/desk", desk_page)
    app.router.add_get("/desk/me", me)
    app.router.add_get("/desk/events", events)
    app.router.add_post("/desk/state/{action}", change_state)
    app.router.add_get("/desk/calls/{call_id}", screen_pop)
    app.router.add_post("/desk/calls/{call_id}/plan", save_plan)
    app.router.add_post("/desk/calls/{call_id}/disposition", save_disposition)
