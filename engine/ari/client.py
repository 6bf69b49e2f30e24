"""The REST half of the ARI adapter: every call has a timeout and typed errors.

Requests go through asyncari's swagger operations directly (`client.swagger`), not
its object layer: that layer caches Channel objects per id in a process-wide table and
asserts they belong to the current client, which breaks after a reconnect.

asyncari's HTTP layer re-sends a request once when the connection drops
(asyncswagger11 `AsynchronousHttpClient.request`), so an originate can reach Asterisk
twice. That is safe only because every originate carries our own `channelId`: the
second one is answered 409, which `originate` reports as DuplicateChannelId.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from engine.ari.errors import (
    AriError,
    AriRejected,
    AriUnavailable,
    ChannelGone,
    DuplicateChannelId,
)


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
        self._api = client.swagger
        self._timeout_s = timeout_s

    async def _call(self, what: str, op: Callable[[], Awaitable[httpx.Response]]) -> Any:
        """Run one swagger operation; the decoded JSON body (None when empty)."""
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await op()
        except TimeoutError:
            raise AriUnavailable(f"{what}: no answer within {self._timeout_s:g} s") from None
        except httpx.HTTPStatusError as exc:
            raise _translate(what, exc) from None
        except (httpx.HTTPError, OSError, RuntimeError) as exc:
            # RuntimeError: httpx refuses requests on a client closed by a lost connection.
            raise AriUnavailable(f"{what}: {type(exc).__name__}: {exc}") from None
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def originate(self, request: OriginateRequest) -> None:
        kwargs: dict[str, Any] = {
            "endpoint": request.endpoint, "app": request.app, "appArgs": request.app_args,
            "channelId": request.channel_id, "timeout": request.timeout_s,
            "callerId": request.caller_id,
        }
        if request.variables:
            kwargs["variables"] = {"variables": dict(request.variables)}
        await self._call("originate", lambda: self._api.channels.originate(**kwargs))

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self._call("hangup", lambda: self._api.channels.hangup(
            channelId=channel_id, reason=reason))

    async def channel_states(self) -> dict[str, str]:
        channels = await self._call("list channels", lambda: self._api.channels.list())
        return {channel["id"]: channel.get("state", "") for channel in channels or ()}

    async def ping(self) -> None:
        await self._call("ping", lambda: self._api.asterisk.ping())

    # -- media: what the voice bot needs (ari_apps.bot.flow.MediaControl) -------------

    async def snoop(self, channel_id: str, snoop_id: str, app: str, spy: str) -> None:
        await self._call("snoop", lambda: self._api.channels.snoopChannelWithId(
            channelId=channel_id, snoopId=snoop_id, app=app, spy=spy, whisper="none"))

    async def external_media(self, channel_id: str, app: str, host: str, fmt: str) -> None:
        await self._call("external media", lambda: self._api.channels.externalMedia(
            channelId=channel_id, app=app, external_host=host, format=fmt,
            encapsulation="rtp", transport="udp", direction="both"))

    async def create_bridge(self, bridge_id: str) -> None:
        await self._call("create bridge", lambda: self._api.bridges.createWithId(
            bridgeId=bridge_id, type="mixing"))

    async def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None:
        await self._call("add to bridge", lambda: self._api.bridges.addChannel(
            bridgeId=bridge_id, channel=",".join(channel_ids)))

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self._call("destroy bridge", lambda: self._api.bridges.destroy(
            bridgeId=bridge_id))

    async def play(self, channel_id: str, playback_id: str, media: str) -> None:
        await self._call("play", lambda: self._api.channels.playWithId(
            channelId=channel_id, playbackId=playback_id, media=media))

    async def stop_playback(self, playback_id: str) -> None:
        await self._call("stop playback", lambda: self._api.playbacks.stop(
            playbackId=playback_id))

    async def subscribe_channel(self, app: str, channel_id: str) -> None:
        """Keep receiving a channel's events while it runs dialplan outside Stasis."""
        await self._call("subscribe", lambda: self._api.applications.subscribe(
            applicationName=app, eventSource=f"channel:{channel_id}"))

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str,
                                   priority: int) -> None:
        await self._call("continue in dialplan", lambda: self._api.channels.continueInDialplan(
            channelId=channel_id, context=context, extension=extension, priority=priority))

    # -- agents: what ari_apps.agent.bridge.AgentMedia needs ---------------------------

    async def call_agent(self, channel_id: str, endpoint: str, app: str, timeout_s: int,
                         caller_id: str) -> None:
        """Ring an agent's phone into Stasis (its StasisStart means: answered)."""
        await self._call("call agent", lambda: self._api.channels.originateWithId(
            channelId=channel_id, endpoint=endpoint, app=app, appArgs="agent",
            timeout=timeout_s, callerId=caller_id))

    async def rtp_counts(self, channel_id: str) -> tuple[int, int] | None:
        try:
            stats = await self._call("rtp statistics", lambda: self._api.channels.rtpstatistics(
                channelId=channel_id))
        except AriError:
            return None
        if not isinstance(stats, dict):
            return None
        return int(stats.get("rxcount", 0)), int(stats.get("txcount", 0))

    async def record_bridge(self, bridge_id: str, name: str, max_s: int) -> None:
        await self._call("record bridge", lambda: self._api.bridges.record(
            bridgeId=bridge_id, name=name, format="wav", ifExists="overwrite",
            maxDurationSeconds=max_s, beep=False, terminateOn="none"))

    async def record(self, channel_id: str, name: str, max_s: int) -> None:
        await self._call("record", lambda: self._api.channels.record(
            channelId=channel_id, name=name, format="wav", ifExists="overwrite",
            maxDurationSeconds=max_s, beep=False, terminateOn="none"))


def _translate(what: str, exc: httpx.HTTPStatusError) -> Exception:
    status = exc.response.status_code
    try:
        message = str(exc.response.json().get("message") or f"HTTP {status}")
    except ValueError:
        message = f"HTTP {status}"
    if status == 404:
        return ChannelGone(f"{what}: {message}")
    if status == 409:
        return DuplicateChannelId(f"{what}: {message}")
    if status >= 500 or status == 0:
        return AriUnavailable(f"{what}: {message}")
    return AriRejected(status, f"{what}: {message}")
