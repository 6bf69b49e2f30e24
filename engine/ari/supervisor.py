"""One ARI connection, kept alive: connect, read, watch, reconnect.

asyncari's event streams are unbuffered and it fails the whole client when one event
takes longer than ~1.5 s to hand over (`Client._check_runtime`). So the reader here
only parses the event and puts it on the owning session's queue: it never awaits
REST. asyncari has no reconnect and does not notice a dead websocket by itself, so a
watcher checks that the websocket still exists and that Asterisk answers a ping;
when either fails the connection is torn down and made again with capped, jittered
backoff. After every (re)connect the owner reconciles its calls with the channels
Asterisk still has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import asyncari
import httpx
from asyncari.model import CLASS_MAP

from engine.ari.client import AriRest
from engine.ari.errors import AriError, AriUnavailable
from engine.ari.events import AriEvent, parse_event
from engine.settings import AriSettings

log = logging.getLogger(__name__)

EventSink = Callable[[AriEvent], None]
OnConnected = Callable[[AriRest], Awaitable[None]]


class ConnectionLost(AriError):
    pass


def backoff_delays(cap_s: float, *, base_s: float = 0.25, rng: random.Random | None = None):
    """Full-jitter exponential backoff: 0.25, 0.5, 1, … capped, each drawn in [d/2, d]."""
    rng = rng or random.Random()
    delay = min(cap_s, base_s)
    while True:
        yield rng.uniform(delay / 2, delay)
        delay = min(cap_s, delay * 2)


class AriSupervisor:
    def __init__(self, settings: AriSettings, sink: EventSink, on_connected: OnConnected,
                 on_alert: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self._sink = sink
        self._on_connected = on_connected
        self._on_alert = on_alert or (lambda message: log.error("%s", message))
        self.rest: AriRest | None = None
        self.connected = asyncio.Event()
        self.connects = 0
        self.last_error: str | None = None

    @property
    def is_connected(self) -> bool:
        return self.connected.is_set()

    async def run(self) -> None:
        """Forever: connect, serve, and after a failure wait and connect again."""
        delays = backoff_delays(self.settings.reconnect_max_backoff_s)
        while True:
            try:
                await self._serve_one_connection()
                delays = backoff_delays(self.settings.reconnect_max_backoff_s)
            except (AriError, OSError, httpx.HTTPError, TimeoutError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("ARI connection down: %s", self.last_error)
                log.debug("ARI connection failure detail", exc_info=exc)
            finally:
                self.connected.clear()
                self.rest = None
            await asyncio.sleep(next(delays))

    async def _serve_one_connection(self) -> None:
        """Serve one connection until it fails; raise ConnectionLost saying why.

        The connection lives in a task of its own: asyncari runs an anyio task group whose
        cancel scope, when one of its internal tasks fails (a websocket torn down mid-read),
        cancels the task that opened it. Isolated like this, that cancellation ends the
        connection task only, and is reported here as a lost connection.
        """
        body = asyncio.create_task(self._connection(), name="ari-connection")
        try:
            await asyncio.wait({body})
        except asyncio.CancelledError:
            body.cancel()
            with contextlib.suppress(BaseException):
                async with asyncio.timeout(3):
                    await body
            raise
        if body.cancelled():
            raise ConnectionLost("the ARI client stopped (its event reader failed)")
        error = body.exception()
        if error is None:
            raise ConnectionLost("the ARI connection ended")
        raise ConnectionLost(_describe(error)) from error

    async def _connection(self) -> None:
        s = self.settings
        _forget_asyncari_objects()
        async with contextlib.AsyncExitStack() as stack:
            async with asyncio.timeout(s.connect_timeout_s):
                client = await stack.enter_async_context(asyncari.connect(
                    s.url, s.app, s.username, s.password.get_secret_value()))
            rest = AriRest(client, s.request_timeout_s)
            self.rest = rest
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._read(client), name="ari-reader")
                    tasks.create_task(self._watch(client, rest), name="ari-watch")
                    await self._on_connected(rest)
                    self.connects += 1
                    self.last_error = None
                    self.connected.set()
                    log.info("ARI connected (app %s, connection %d)", s.app, self.connects)
            finally:
                self.connected.clear()
                self.rest = None

    async def _read(self, client: Any) -> None:
        async for message in client:
            raw = getattr(message, "_orig_msg", None)
            event = parse_event(raw) if isinstance(raw, dict) else None
            if event is None:
                continue
            if event.type == "ApplicationReplaced":
                self._on_alert(f"ARI application {self.settings.app!r} was taken over by "
                               "another connection; this daemon no longer gets its events")
                raise ConnectionLost("application replaced")
            self._sink(event)

    async def _watch(self, client: Any, rest: AriRest) -> None:
        """asyncari does not notice a dead websocket by itself: check it, and ping."""
        interval = self.settings.liveness_interval_s
        while True:
            await asyncio.sleep(interval)
            if not client.websockets:
                raise ConnectionLost("event websocket closed")
            try:
                await rest.ping()
            except AriUnavailable as exc:
                raise ConnectionLost(f"ping failed: {exc}") from None


def _describe(error: BaseException) -> str:
    """The innermost, most telling message of a (possibly grouped) failure."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _forget_asyncari_objects() -> None:
    """asyncari keeps one object per Channel/Bridge/... id in class-wide tables and
    asserts, when an event mentions that id again, that the object belongs to the same
    client. Objects of a previous connection would fail that check inside its event
    dispatch; a new connection starts with empty tables (asyncari 0.20.6 internals)."""
    for cls in set(CLASS_MAP.values()):
        if cls.cache is not None:
            cls.cache.clear()
        if cls.active is not None:
            cls.active.clear()
