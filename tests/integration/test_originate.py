"""Originate is idempotent by channel id: a repeat rings the debtor once."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest

from db.attempts import AttemptRepository
from db.crypto import load_or_create_keyfile
from db.debtors import DebtorRepository
from engine.ari.client import AriRest, OriginateRequest
from engine.ari.errors import AriUnavailable, DuplicateChannelId
from engine.ari.supervisor import AriSupervisor
from engine.dialer import Dialer, DialRequest, route_event
from engine.lab.carrier import Network, Scenario
from engine.session import CallRegistry
from tests.integration.labkit import load_campaign, running_daemon


def calls_processed(instance) -> int:
    out = instance.cli("core show channels count")
    return int(re.search(r"(\d+) calls? processed", out).group(1))


async def test_repeated_originate_with_the_same_channel_id_rings_once(lab, settings, pool):
    """Steps: with the daemon connected, originate to a debtor who answers, then send
    the very same originate again (same channelId).
    Expected: the second request is refused with 409 (DuplicateChannelId) and the
    carrier received exactly one call."""
    scenario = Scenario("8613900000101", Network.ANSWER, ring_s=0.5, hold_s=0.5)
    lab.carrier.apply([scenario])
    before = calls_processed(lab.carrier_instance)
    async with running_daemon(settings) as daemon:
        rest = daemon.ari.rest
        request = OriginateRequest(
            channel_id=str(uuid.uuid4()), endpoint=f"PJSIP/{scenario.number}@carrier",
            app=settings.ari.app, app_args="dialed", timeout_s=15, caller_id="Test <4000>")
        await rest.originate(request)
        with pytest.raises(DuplicateChannelId):
            await rest.originate(request)

        async def gone() -> bool:
            return request.channel_id not in await rest.channel_states()

        from tests.integration.labkit import wait_until
        await wait_until(gone, timeout=15, what="the test channel to end")
    assert calls_processed(lab.carrier_instance) - before == 1


class LosesFirstResponse:
    """The real ARI, except that the first originate's answer is lost after Asterisk
    carried it out — what a dropped connection or a timeout looks like to the dialer."""

    def __init__(self, rest: AriRest) -> None:
        self.rest = rest
        self.originates = 0

    async def originate(self, request: OriginateRequest) -> None:
        self.originates += 1
        await self.rest.originate(request)
        if self.originates == 1:
            raise AriUnavailable("originate: response lost (injected)")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.rest.hangup(channel_id, reason)

    async def channel_states(self) -> dict[str, str]:
        return await self.rest.channel_states()


async def test_lost_originate_response_is_retried_without_a_second_call(lab, settings, pool):
    """Steps: the dialer places a call through the real ARI, but the answer to its first
    originate is lost; the session retries with the same attempt id.
    Expected: the retry gets 409 and the session follows the first call to its end:
    one call at the carrier, one attempt, final 'answered' with cause 16, and the
    retry is visible in the attempt's event log."""
    scenario = Scenario("8613900000102", Network.ANSWER, ring_s=0.5, hold_s=0.5)
    lab.carrier.apply([scenario])
    loaded = await load_campaign(pool, settings, [scenario], name="lost-response", start=False)
    attempts = AttemptRepository(pool)
    debtors = DebtorRepository(pool, load_or_create_keyfile(settings.pii.keyfile))
    debtor_id = loaded.debtor_by_number[scenario.number]
    phone = (await debtors.phones_of(debtor_id))[0]
    before = calls_processed(lab.carrier_instance)

    registry = CallRegistry()
    supervisor = AriSupervisor(settings.ari, lambda event: route_event(registry, event),
                               on_connected=lambda rest: asyncio.sleep(0))
    wrapper: list[LosesFirstResponse] = []

    def ari() -> LosesFirstResponse | None:
        if supervisor.rest is None:
            return None
        if not wrapper:
            wrapper.append(LosesFirstResponse(supervisor.rest))
        return wrapper[0]

    async with asyncio.TaskGroup() as tasks:
        connection = tasks.create_task(supervisor.run())
        async with asyncio.timeout(10):
            await supervisor.connected.wait()
        dialer = Dialer(settings, registry, attempts, debtors, ari, tasks)
        session = await dialer.dial(DialRequest(debtor_id, phone.id, loaded.campaign_id))
        async with asyncio.timeout(30):
            await session.finished.wait()
        connection.cancel()

    assert wrapper[0].originates == 2
    assert calls_processed(lab.carrier_instance) - before == 1
    rows = await pool.fetch("SELECT id FROM attempts")
    assert len(rows) == 1
    attempt = await attempts.get(rows[0]["id"])
    assert (attempt.disposition, attempt.hangup_cause) == ("answered", 16)
    events = await attempts.events(attempt.id)
    tries = [e.detail.get("try") for e in events if e.kind == "originate"]
    assert tries == ["1", "2"]
