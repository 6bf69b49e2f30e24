"""The AMI adapter (panoramisk), used for liveness and, later, device state.

panoramisk's pitfalls, and what this wrapper does about them:
- an awaited action can hang until Asterisk answers, forever if it never does:
  every action here runs under `asyncio.timeout`;
- `Response: Error` does not raise: `.success` is checked and an error raised;
- pending actions are re-sent after its automatic reconnect, so an Originate could
  run twice: nothing here originates (calls go through ARI with our channel ids);
- its own ping only keeps the socket busy; liveness here is a Ping action that must
  come back successful within the timeout;
- it reconnects by itself forever, even after close(): `close()` here disarms that.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from panoramisk import Manager

from engine import metrics
from engine.settings import AmiSettings

log = logging.getLogger(__name__)


class AmiError(Exception):
    pass


class AmiUnavailable(AmiError):
    pass


class AmiClient:
    def __init__(self, settings: AmiSettings) -> None:
        self.settings = settings
        self._manager: Manager | None = None
        self.alive = False
        self.last_error: str | None = "not connected yet"

    def _ensure_manager(self) -> Manager:
        if self._manager is None:
            s = self.settings
            self._manager = Manager(
                loop=asyncio.get_running_loop(), host=s.host, port=s.port, username=s.username,
                secret=s.secret.get_secret_value(), ping_delay=max(1, int(s.ping_interval_s)),
                ping_interval=max(1, int(s.ping_interval_s)), reconnect_timeout=2,
                log=logging.getLogger("engine.ami.panoramisk"))
            self._manager.connect()
        return self._manager

    async def _send(self, fields: dict[str, str]) -> Any:
        """The raw answer to one action (a message, or a list for event-list actions)."""
        manager = self._ensure_manager()
        if getattr(manager, "protocol", None) is None or not manager.authenticated:
            raise AmiUnavailable("AMI not connected or not logged in")
        try:
            async with asyncio.timeout(self.settings.action_timeout_s):
                return await manager.send_action(fields)
        except TimeoutError:
            raise AmiUnavailable(f"AMI {fields.get('Action')}: no answer within "
                                 f"{self.settings.action_timeout_s:g} s") from None
        except (OSError, AttributeError) as exc:
            raise AmiUnavailable(f"AMI {fields.get('Action')}: {exc}") from None

    async def action(self, fields: dict[str, str]) -> Any:
        response = await self._send(fields)
        if isinstance(response, list):
            response = response[0] if response else None
        if response is None or not getattr(response, "success", False):
            message = getattr(response, "message", None) or "no response"
            raise AmiError(f"AMI {fields.get('Action')} failed: {message}")
        return response

    async def action_list(self, fields: dict[str, str]) -> list[Any]:
        """An action answered by a list of events (e.g. PJSIPShowContacts): all of them."""
        response = await self._send(fields)
        return list(response) if isinstance(response, list) else [response]

    def on_event(self, pattern: str, callback: Any) -> None:
        """Call `callback(fields: dict)` for each AMI event named `pattern` (never awaits)."""
        def deliver(manager: Any, message: Any) -> None:
            try:
                callback({str(k): str(v) for k, v in dict(message).items()})
            except Exception:
                log.exception("AMI %s handler failed", pattern)

        self._ensure_manager().register_event(pattern, deliver)

    async def ping(self) -> None:
        await self.action({"Action": "Ping"})

    async def run(self) -> None:
        """Connect, then probe liveness every ping interval for as long as the daemon runs."""
        self._ensure_manager()
        while True:
            try:
                await self.ping()
            except AmiError as exc:
                if self.alive or self.last_error is None:
                    log.warning("AMI not answering: %s", exc)
                self.alive, self.last_error = False, str(exc)
            else:
                if not self.alive:
                    log.info("AMI connected")
                self.alive, self.last_error = True, None
            metrics.AMI_CONNECTED.set(1 if self.alive else 0)
            await asyncio.sleep(self.settings.ping_interval_s if self.alive else 1.0)

    def close(self) -> None:
        manager, self._manager = self._manager, None
        if manager is None:
            return
        # panoramisk schedules a reconnect from connection_lost(); stop it for good.
        manager.connect = lambda *args, **kwargs: None
        manager.close()
        self.alive = False


async def one_action(settings: AmiSettings, fields: dict[str, str]) -> Any:
    """Log in, send one action, log out: for command-line tools. AmiUnavailable when no
    login happens within the action timeout."""
    client = AmiClient(settings)
    try:
        async with asyncio.timeout(settings.action_timeout_s + 2):
            while True:
                try:
                    return await client.action(fields)
                except AmiUnavailable as exc:
                    if "not connected" not in str(exc):
                        raise
                await asyncio.sleep(0.1)  # panoramisk logs in in the background
    except TimeoutError:
        raise AmiUnavailable(f"no AMI login at {settings.host}:{settings.port}") from None
    finally:
        client.close()
