"""SMS gateways: the protocol the reminders use, and the HTTP webhook adapter.

The adapter POSTs JSON {"to", "text", "reference"} with `Authorization: Bearer <token>`
to the configured URL and waits at most `timeout_s`. Any 2xx answer means accepted.
The reference is stable per reminder, so a gateway that drops duplicates by reference
makes a repeated send harmless. Errors say what happened without the number or the
text (they reach logs): `SmsRejected` when the gateway answered with another status
(it did not take the message), `SmsUnreachable` when it could not be asked or did not
answer in time (the message may or may not have gone out).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, Self

import aiohttp
from pydantic import SecretStr

from db.crypto import mask_phone


class SmsError(Exception):
    """Root of the gateway errors."""


class SmsRejected(SmsError):
    """The gateway answered, and not with 2xx: the message was not accepted."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"the SMS gateway answered {status} {reason}".rstrip())
        self.status = status


class SmsUnreachable(SmsError):
    """No answer from the gateway (connection failed or timed out)."""


@dataclass(frozen=True, slots=True)
class SmsMessage:
    to: str = field(repr=False)  # E.164; only `masked` may be shown
    text: str = field(repr=False)
    reference: str

    @property
    def masked(self) -> str:
        return mask_phone(self.to)


class SmsGateway(Protocol):
    async def send(self, message: SmsMessage) -> None:
        """Hand the message over; raise SmsError when it was not accepted."""


class HttpSmsGateway:
    """The webhook adapter. Use as an async context manager (it owns its HTTP session)."""

    def __init__(self, url: str, token: SecretStr, *, timeout_s: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("the SMS gateway URL must be http:// or https://")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self._url = url
        self._token = token
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, message: SmsMessage) -> None:
        if self._session is None:
            raise RuntimeError("HttpSmsGateway is used outside its `async with` block")
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"}
        body = {"to": message.to, "text": message.text, "reference": message.reference}
        try:
            async with (
                asyncio.timeout(self._timeout_s),
                self._session.post(self._url, json=body, headers=headers) as response,
            ):
                if not 200 <= response.status < 300:
                    raise SmsRejected(response.status, response.reason or "")
                await response.read()  # let the connection be reused
        except TimeoutError:
            raise SmsUnreachable(
                f"the SMS gateway did not answer within {self._timeout_s:g} s"
            ) from None
        except aiohttp.ClientError as exc:
            raise SmsUnreachable(f"cannot reach the SMS gateway ({type(exc).__name__})") from None
