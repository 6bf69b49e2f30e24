"""The live agent registry's shell with a stand-in repository: AMI ContactStatus and
HuilongAgent user events become state changes, each logged once and in order; a
wrap-up ends on its timer; feature codes from unknown phones change nothing."""

from __future__ import annotations

import asyncio

import pytest

from engine.agents.service import AgentService
from engine.agents.state import AgentStateError, AgentStatus, CallEnded, Connected


class Row:
    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id


class FakeRepository:
    def __init__(self, *agent_ids: str) -> None:
        self.rows = [Row(a) for a in agent_ids]
        self.logged: list[tuple[str, str, str | None]] = []
        self.written = asyncio.Event()

    async def active(self):
        return self.rows

    async def log_state(self, agent_id, status, reason, call_id, at):
        assert at.tzinfo is not None
        self.logged.append((agent_id, status, reason))
        self.written.set()


def contact(agent_id: str, status: str) -> dict[str, str]:
    return {"Event": "ContactStatus", "AOR": agent_id, "ContactStatus": status}


def feature(agent_id: str, action: str) -> dict[str, str]:
    return {"Event": "UserEvent", "UserEvent": "HuilongAgent", "Agent": agent_id,
            "Action": action}


async def until_logged(repository: FakeRepository, count: int) -> None:
    async with asyncio.timeout(2):
        while len(repository.logged) < count:
            repository.written.clear()
            await repository.written.wait()


async def test_phone_and_feature_code_events_drive_the_state_and_the_log():
    now = [100.0]
    repository = FakeRepository("1001")
    service = AgentService(repository, lambda: now[0])
    await service.load()
    task = asyncio.create_task(service.run())
    try:
        service.on_contact_status(contact("1001", "Created"))
        service.on_contact_status(contact("1001", "Reachable"))
        service.on_user_event(feature("1001", "login"))
        assert service.registry.get("1001").status is AgentStatus.READY
        service.on_user_event(feature("1001", "pause"))
        service.on_contact_status(contact("1001", "Unreachable"))
        service.on_user_event(feature("1001", "ready"))  # no phone: paused for that
        await until_logged(repository, 3)
        assert repository.logged == [("1001", "ready", None), ("1001", "paused", "break"),
                                     ("1001", "paused", "phone unreachable")]
    finally:
        task.cancel()


async def test_unknown_phones_and_other_user_events_change_nothing():
    service = AgentService(FakeRepository("1001"), lambda: 0.0)
    await service.load()
    service.on_user_event(feature("9999", "login"))
    service.on_user_event({"UserEvent": "SomethingElse", "Agent": "1001", "Action": "login"})
    service.on_user_event(feature("1001", "dance"))
    service.on_contact_status(contact("9999", "Reachable"))
    service.on_contact_status(contact("1001", "Bogus"))
    assert service.registry.get("1001").status is AgentStatus.OFFLINE
    assert not service.registry.get("1001").reachable
    with pytest.raises(AgentStateError, match="no agent"):
        service.request("9999", "login")


async def test_wrap_up_ends_on_its_timer():
    loop = asyncio.get_running_loop()
    service = AgentService(FakeRepository("1001"), loop.time)
    await service.load()
    ready_again = asyncio.Event()
    task = asyncio.create_task(service.run())
    try:
        service.on_contact_status(contact("1001", "Reachable"))
        service.request("1001", "login")
        reserved = service.registry.reserve_longest_idle("c1", loop.time())
        assert reserved is not None
        service.registry.handle("1001", Connected("c1"), loop.time())
        service._changed(service.registry.handle("1001", CallEnded("c1", wrap_up_s=0.2),
                                                 loop.time()))
        assert service.registry.get("1001").status is AgentStatus.WRAP_UP
        service.listeners.append(
            lambda agent: agent.status is AgentStatus.READY and ready_again.set())
        started = loop.time()
        async with asyncio.timeout(2):
            await ready_again.wait()
        assert loop.time() - started >= 0.15
    finally:
        task.cancel()
