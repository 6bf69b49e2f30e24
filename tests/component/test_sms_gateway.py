"""The SMS webhook adapter against a local aiohttp server standing in for the gateway:
what it posts, 2xx accepted, other statuses refused, silence and refusal to connect
unreachable; the number never in an error or a repr."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from engine.followup.sms import (
    HttpSmsGateway,
    SmsMessage,
    SmsRejected,
    SmsUnreachable,
)
from tests.sms_stand_in import SmsStandIn, serving

NUMBER = "+8613800138000"
TOKEN = SecretStr("gateway-secret-token")


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[SmsStandIn, str]]:
    fake = SmsStandIn(status=202)
    async with serving(fake) as url:
        yield fake, url


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def message() -> SmsMessage:
    return SmsMessage(NUMBER, "温馨提示", "huilong-reminder-7")


async def test_posts_json_with_the_bearer_token(gateway: tuple[SmsStandIn, str]) -> None:
    """Steps: send one message; the gateway answers 202.
    Expected: one POST with {to, text, reference} and `Authorization: Bearer <token>`."""
    fake, url = gateway
    async with HttpSmsGateway(url, TOKEN, timeout_s=2) as sms:
        await sms.send(message())
    assert fake.authorizations == [f"Bearer {TOKEN.get_secret_value()}"]
    assert fake.received == [{"to": NUMBER, "text": "温馨提示",
                              "reference": "huilong-reminder-7"}]


@pytest.mark.parametrize("status", [400, 401, 429, 500, 503])
async def test_non_2xx_is_a_clear_refusal(gateway: tuple[SmsStandIn, str],
                                          status: int) -> None:
    """Steps: the gateway answers `status`.
    Expected: SmsRejected with that status, its message without the number."""
    fake, url = gateway
    fake.status = status
    async with HttpSmsGateway(url, TOKEN, timeout_s=2) as sms:
        with pytest.raises(SmsRejected) as caught:
            await sms.send(message())
    assert caught.value.status == status
    assert str(status) in str(caught.value) and "13800138000" not in str(caught.value)


async def test_silence_is_unreachable_after_the_timeout(
        gateway: tuple[SmsStandIn, str]) -> None:
    """Steps: the gateway takes 2 s; the adapter waits 0.2 s.
    Expected: SmsUnreachable naming the timeout, within about the timeout."""
    fake, url = gateway
    fake.delay_s = 2.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with HttpSmsGateway(url, TOKEN, timeout_s=0.2) as sms:
        with pytest.raises(SmsUnreachable, match=r"within 0\.2 s"):
            await sms.send(message())
    assert loop.time() - started < 1.5


async def test_refused_connection_is_unreachable() -> None:
    """Steps: send to a port nobody listens on. Expected: SmsUnreachable."""
    url = f"http://127.0.0.1:{free_tcp_port()}/sms"
    async with HttpSmsGateway(url, TOKEN, timeout_s=2) as sms:
        with pytest.raises(SmsUnreachable, match="cannot reach"):
            await sms.send(message())


def test_the_number_and_text_stay_out_of_repr() -> None:
    shown = repr(message())
    assert NUMBER not in shown and "温馨提示" not in shown
    assert message().masked == "+86138****8000"


def test_only_http_urls() -> None:
    with pytest.raises(ValueError, match="http"):
        HttpSmsGateway("ftp://gateway/sms", TOKEN)
