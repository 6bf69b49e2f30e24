"""A local stand-in for the SMS gateway's webhook (an aiohttp server), for the tests of
the reminders: it records each POST and answers as told."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class SmsStandIn:
    """Records each POST's JSON body (`received`) and Authorization header; answers the
    next of `statuses`, then `status`, after `delay_s`."""

    status: int = 200
    statuses: list[int] = field(default_factory=list)
    delay_s: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.authorizations.append(request.headers.get("Authorization", ""))
        self.received.append(await request.json())
        await asyncio.sleep(self.delay_s)
        status = self.statuses.pop(0) if self.statuses else self.status
        return web.json_response({"id": "gw-1"}, status=status)


@asynccontextmanager
async def serving(stand_in: SmsStandIn) -> AsyncIterator[str]:
    """The stand-in on a local port; yields its webhook URL."""
    app = web.Application()
    app.router.add_post("/sms", stand_in.handle)
    async with TestServer(app) as server:
        yield str(server.make_url("/sms"))
