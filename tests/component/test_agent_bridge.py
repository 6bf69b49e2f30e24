"""An answered call meeting the agent registry, with stand-ins for Asterisk and the
registry: bridged to the reserved agent when their phone answers; the next agent when
one does not pick up; abandoned with the message when nobody is free within the drop
time; a debtor hanging up while an agent's phone rings frees that agent."""

from __future__ import annotations

import asyncio
from typing import Any

from ari_apps.agent.bridge import AgentCall, AgentCallConfig
from ari_apps.amd import AMD_CONTEXT, AmdVerdict
from ari_apps.signals import ChannelGone, ChannelReady, PlaybackFinished

CALL = "c0ffee00-0000-4000-8000-000000000001"


class FakeMedia:
    """Records requests; the agent's phone answers (or not) as the test says."""

    def __init__(self, answers: dict[str, bool],
                 verdict: AmdVerdict | None = None) -> None:
        self.answers = answers  # agent id → picks up
        self.verdict = verdict  # what the dialplan's AMD() sends back with the call
        self.calls: list[tuple[str, ...]] = []
        self.call: AgentCall | None = None
        self.rang = asyncio.Event()

    async def create_bridge(self, bridge_id: str) -> None:
        self.calls.append(("create_bridge", bridge_id))

    async def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None:
        self.calls.append(("add", *channel_ids))

    async def destroy_bridge(self, bridge_id: str) -> None:
        self.calls.append(("destroy_bridge", bridge_id))

    async def play(self, channel_id: str, playback_id: str, media: str) -> None:
        self.calls.append(("play", channel_id, media))
        assert self.call is not None
        self.call.deliver(PlaybackFinished(playback_id))

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.calls.append(("hangup", channel_id))
        if channel_id != CALL and self.call is not None:
            self.call.deliver(ChannelGone(channel_id))

    async def call_agent(self, channel_id: str, endpoint: str, app: str, timeout_s: int,
                         caller_id: str) -> None:
        self.calls.append(("call_agent", endpoint))
        self.rang.set()
        agent_id = endpoint.removeprefix("PJSIP/")
        assert self.call is not None
        answer = self.answers.get(agent_id)
        if answer is True:
            self.call.deliver(ChannelReady(channel_id))
        elif answer is False:
            self.call.deliver(ChannelGone(channel_id, 19))
        # None: the phone keeps ringing

    async def rtp_counts(self, channel_id: str) -> tuple[int, int] | None:
        return (50, 50)

    async def record_bridge(self, bridge_id: str, name: str, max_s: int) -> None:
        self.calls.append(("record", bridge_id, name))

    async def subscribe_channel(self, app: str, channel_id: str) -> None:
        self.calls.append(("subscribe", channel_id))

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str,
                                   priority: int) -> None:
        self.calls.append(("dialplan", channel_id, context))
        assert self.call is not None
        if self.verdict is not None:
            self.call.deliver(self.verdict)


class FakeDesk:
    def __init__(self, ready: list[str]) -> None:
        self.ready = list(ready)
        self.log: list[tuple[str, ...]] = []
        self.became_ready = asyncio.Event()

    def reserve(self, call_id: str) -> str | None:
        if not self.ready:
            return None
        agent = self.ready.pop(0)
        self.log.append(("reserve", agent))
        return agent

    async def wait_for_ready(self, timeout_s: float) -> bool:
        try:
            async with asyncio.timeout(timeout_s):
                await self.became_ready.wait()
            return True
        except TimeoutError:
            return False

    def connected(self, agent_id: str, call_id: str) -> None:
        self.log.append(("connected", agent_id))

    def offer_failed(self, agent_id: str, call_id: str, agent_missed: bool) -> None:
        self.log.append(("offer_failed", agent_id, str(agent_missed)))

    def call_ended(self, agent_id: str, call_id: str) -> None:
        self.log.append(("ended", agent_id))


class FakeLog:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._changed = asyncio.Event()

    async def record(self, kind: str, detail: dict[str, Any]) -> None:
        self.events.append((kind, detail))
        self._changed.set()

    async def wait_for(self, kind: str) -> None:
        async with asyncio.timeout(5):
            while not any(k == kind for k, _ in self.events):
                self._changed.clear()
                await self._changed.wait()

    async def abandoned(self, detail: dict[str, Any]) -> None:
        self.events.append(("ABANDONED", detail))

    async def machine(self, detail: dict[str, Any]) -> None:
        self.events.append(("MACHINE", detail))

    async def recording(self, name: str) -> None:
        self.events.append(("RECORDING", {"name": name}))


def make(answers: dict[str, bool], ready: list[str], drop_s: float = 0.3,
         handoff: bool = False, verdict: AmdVerdict | None = None,
         ) -> tuple[AgentCall, FakeMedia, FakeDesk, FakeLog]:
    media, desk, log = FakeMedia(answers, verdict), FakeDesk(ready), FakeLog()

    async def message() -> str:
        return "sound:abandon"

    call = AgentCall(CALL, AgentCallConfig(app="huilong", caller_id="400", drop_s=drop_s,
                                           agent_ring_s=2, handoff=handoff,
                                           amd=verdict is not None, record_max_s=600),
                     media, desk, log, message)
    media.call = call
    return call, media, desk, log


async def test_the_reserved_agent_answers_and_is_bridged_until_they_hang_up():
    call, media, desk, log = make({"1001": True}, ["1001"])
    task = asyncio.create_task(call.run())
    await log.wait_for("media_check")
    call.deliver(ChannelGone(f"{CALL}-agent1"))  # the agent hangs up
    async with asyncio.timeout(5):
        await task
    assert ("add", CALL) in media.calls and ("add", f"{CALL}-agent1") in media.calls
    assert ("hangup", CALL) in media.calls  # the debtor is hung up for them
    assert desk.log == [("reserve", "1001"), ("connected", "1001"), ("ended", "1001")]
    kinds = [kind for kind, _ in log.events]
    assert kinds[:3] == ["agent_connected", "RECORDING", "media_check"]
    assert call.latency_s is not None
    # The conversation is recorded once both are in the bridge.
    assert media.calls.index(("add", f"{CALL}-agent1")) < media.calls.index(
        ("record", f"{CALL}-ab", f"{CALL}-agent"))


async def test_a_missed_offer_goes_to_the_next_ready_agent():
    call, _media, desk, log = make({"1001": False, "1002": True}, ["1001", "1002"])
    task = asyncio.create_task(call.run())
    await log.wait_for("agent_connected")
    task.cancel()  # the debtor hangs up
    await asyncio.gather(task, return_exceptions=True)
    assert desk.log[:4] == [("reserve", "1001"), ("offer_failed", "1001", "True"),
                            ("reserve", "1002"), ("connected", "1002")]
    assert ("agent_missed", {"agent": "1001"}) in log.events
    assert desk.log[-1] == ("ended", "1002")


async def test_nobody_free_within_the_drop_time_is_an_abandon_with_the_message():
    call, media, desk, log = make({}, [], drop_s=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(5):
        await call.run()
    assert loop.time() - started >= 0.2
    assert ("play", CALL, "sound:abandon") in media.calls and ("hangup", CALL) in media.calls
    assert log.events[0][0] == "ABANDONED" and log.events[0][1]["message_played"] is True
    assert not desk.log


async def test_an_unserved_hand_off_is_not_a_predictive_abandon():
    call, _media, _desk, log = make({}, [], drop_s=0.1, handoff=True)
    async with asyncio.timeout(5):
        await call.run()
    assert [kind for kind, _ in log.events] == ["handoff_unserved"]


async def test_the_debtor_hanging_up_while_the_agent_phone_rings_frees_the_agent():
    call, media, desk, _log = make({"1001": None}, ["1001"])  # rings, never answered
    media.rang = asyncio.Event()
    task = asyncio.create_task(call.run())
    async with asyncio.timeout(5):
        await media.rang.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert desk.log == [("reserve", "1001"), ("offer_failed", "1001", "False")]
    assert ("hangup", f"{CALL}-agent1") in media.calls
    assert ("destroy_bridge", f"{CALL}-ab") in media.calls


async def test_a_machine_is_hung_up_and_never_offered_to_an_agent():
    """Steps: an agent campaign with the machine check; AMD() says a long greeting.
    Expected: the call went to the AMD dialplan, was flagged as a machine and hung up;
    no agent was reserved, no bridge made."""
    call, media, desk, log = make({"1001": True}, ["1001"],
                                  verdict=AmdVerdict("MACHINE", "LONGGREETING-2000-1500"))
    async with asyncio.timeout(5):
        await call.run()
    assert ("dialplan", CALL, AMD_CONTEXT) in media.calls and ("hangup", CALL) in media.calls
    assert [kind for kind, _ in log.events] == ["MACHINE"] and call.machine
    assert log.events[0][1]["cause"] == "LONGGREETING-2000-1500"
    assert not desk.log and not any(c[0] == "create_bridge" for c in media.calls)


async def test_a_person_after_the_machine_check_is_bridged_to_an_agent():
    """Steps: the check says HUMAN (and, human-first, silence would too).
    Expected: the verdict is logged, then the usual reservation and bridge."""
    call, media, desk, log = make({"1001": True}, ["1001"],
                                  verdict=AmdVerdict("MACHINE", "INITIALSILENCE-2500-2500"))
    task = asyncio.create_task(call.run())
    await log.wait_for("agent_connected")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    kinds = [kind for kind, _ in log.events]
    assert kinds[:2] == ["amd_person", "agent_connected"] and not call.machine
    assert media.calls.index(("dialplan", CALL, AMD_CONTEXT)) < media.calls.index(
        ("create_bridge", f"{CALL}-ab"))
    assert desk.log[:2] == [("reserve", "1001"), ("connected", "1001")]
