"""Who may use the desk and the supervisor API.

People log in with their agent id and their phone's SIP password, checked against the
digest credential the PBX holds (no second password is kept), in one function shared
by the desk's login form and HTTP Basic auth on the supervisor API. A desk session is a
random token in an HttpOnly, SameSite=Strict cookie (so another site cannot make a
browser use it), kept in the daemon's memory with the person's role.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import hdrs, web

from db.agents import AgentRow
from db.desk import DeskUser
from engine.agents.phones import digest_credential

log = logging.getLogger(__name__)

COOKIE = "huilong_desk"
SESSION_S = 12 * 3600
BASIC_REALM = "huilong supervisor"
# Compared against when the agent id is unknown, so a refusal takes as long either way.
_NO_CREDENTIAL = "0" * 32


class Accounts(Protocol):
    async def active(self) -> Sequence[AgentRow]: ...


async def check_credentials(accounts: Accounts, agent_id: str,
                            password: str) -> DeskUser | None:
    """The person, if `password` is this active agent's SIP password: its digest
    MD5(id:realm:password) matches the stored credential (compared in constant time)."""
    row = next((r for r in await accounts.active() if r.agent_id == agent_id), None)
    realm = row.realm if row is not None else ""
    given = digest_credential(agent_id, realm, password)
    matches = hmac.compare_digest(given, row.md5_cred if row is not None else _NO_CREDENTIAL)
    if row is None or not matches:
        return None
    return DeskUser(row.agent_id, row.role)


@dataclass
class Sessions:
    lifetime_s: float = SESSION_S
    clock: Callable[[], float] = time.monotonic
    _open: dict[str, tuple[DeskUser, float]] = field(default_factory=dict)

    def open(self, user: DeskUser) -> str:
        token = secrets.token_urlsafe(32)
        self._open[token] = (user, self.clock() + self.lifetime_s)
        return token

    def user(self, request: web.Request) -> DeskUser | None:
        token = request.cookies.get(COOKIE, "")
        entry = self._open.get(token)
        if entry is None or entry[1] < self.clock():
            self._open.pop(token, None)
            return None
        return entry[0]


def set_session_cookie(response: web.StreamResponse, token: str) -> None:
    # Path "/": the supervisor API (/agents/...) accepts a supervisor's desk session.
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", max_age=SESSION_S,
                        path="/")


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    """(agent id, password) from an `Authorization: Basic` header; None if absent or
    malformed. Decoded here rather than with aiohttp.BasicAuth, which is deprecated."""
    scheme, _, encoded = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except ValueError:
        return None
    try:  # RFC 7617 recommends UTF-8; older clients send latin-1
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    agent_id, colon, password = text.partition(":")
    return (agent_id, password) if colon else None


def _json_error(error: type[web.HTTPException], message: str,
                headers: dict[str, str] | None = None) -> web.HTTPException:
    return error(text=json.dumps({"error": message}), content_type="application/json",
                 headers=headers)


async def require_supervisor(request: web.Request, sessions: Sessions,
                             accounts: Accounts) -> DeskUser:
    """The supervisor making this request: HTTP Basic credentials when the request
    carries them (explicit credentials decide), else the desk session cookie.
    401 (with WWW-Authenticate) when nobody is authenticated, 403 for a non-supervisor."""
    if hdrs.AUTHORIZATION in request.headers:
        credentials = basic_credentials(request)
        user = None if credentials is None else await check_credentials(accounts, *credentials)
        if user is None:
            log.info("supervisor API: credentials refused for %s",
                     (credentials[0] if credentials else "a malformed header")[:8])
    else:
        user = sessions.user(request)
    if user is None:
        raise _json_error(
            web.HTTPUnauthorized,
            "a supervisor's desk session or HTTP Basic credentials (agent id, phone password)"
            " are needed", {hdrs.WWW_AUTHENTICATE: f'Basic realm="{BASIC_REALM}", charset="UTF-8"'})
    if not user.supervisor:
        raise _json_error(web.HTTPForbidden, f"agent {user.agent_id} is not a supervisor")
    return user
