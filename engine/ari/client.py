"""The REST half of the ARI adapter: every call has a timeout and typed errors.

asyncari's HTTP layer re-sends a request once when the connection drops
(asyncswagger11 `AsynchronousHttpClient.request`), so an originate can reach Asterisk
twice. That is safe only because every originate carries our own `channelId`: the
second one is answered 409, which `originate` reports as DuplicateChannelId.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx
from asyncari.model import OperationError

from engine.ari.errors import AriRejected, AriUnavailable, ChannelGone, DuplicateChannelId

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    channel_id: str
    endpoint: str
    app: str
    app_args: str
    timeout_s: int
    caller_id: str
    variables: tuple[tuple[str, str], ...] = ()


class CallControl(Protocol):
    """What sessions need from ARI; implemented by AriRest, faked in component tests."""

    async def originate(self, request: OriginateRequest) -> None: ...
    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...
    async def channel_states(self) -> dict[str, str]:
        """Channel id → state ("Ring", "Ringing", "Up", ...) of every channel Asterisk has."""
        ...


class AriRest:
    def __init__(self, client: Any, timeout_s: float) -> None:
        self._client = client
        self._timeout_s = timeout_s

    async def _call(self, what: str, op: Callable[[], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await op()
        except TimeoutError:
            raise AriUnavailable(f"{what}: no answer within {self._timeout_s:g} s") from None
        except OperationError as exc:
            raise _translate(what, exc) from None
        except (httpx.TransportError, OSError) as exc:
            raise AriUnavailable(f"{what}: {type(exc).__name__}: {exc}") from None

    async def originate(self, request: OriginateRequest) -> None:
        kwargs: dict[str, Any] = {
            "endpoint": request.endpoint, "app": request.app, "appArgs": request.app_args,
            "channelId": request.channel_id, "timeout": request.timeout_s,
            "callerId": request.caller_id,
        }
        if request.variables:
            kwargs["variables"] = {"variables": dict(request.variables)}
        await self._call("originate", lambda: self._client.channels.originate(**kwargs))

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self._call("hangup", lambda: self._client.channels.hangup(
            channelId=channel_id, reason=reason))

    async def channel_states(self) -> dict[str, str]:
        channels = await self._call("list channels", lambda: self._client.channels.list())
        return {channel.id: channel.json.get("state", "") for channel in channels or ()}

    async def ping(self) -> None:
        await self._call("ping", lambda: self._client.asterisk.ping())


def _translate(what: str, exc: OperationError) -> Exception:
    cause = exc.__cause__
    status = cause.response.status_code if isinstance(cause, httpx.HTTPStatusError) else 0
    message = str(exc) if exc.args and exc.args[0] else f"HTTP {status}"
    if status == 404:
        return ChannelGone(f"{what}: {message}")
    if status == 409:
        return DuplicateChannelId(f"{what}: {message}")
    if status >= 500 or status == 0:
        return AriUnavailable(f"{what}: {message}")
    return AriRejected(status, f"{what}: {message}")
