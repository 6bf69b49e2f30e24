"""The live agent registry: AMI events and desk requests in, state changes out.

The thin shell around the pure `AgentRegistry`:
- the phones' reachability comes from AMI `ContactStatus` events (registration, and
  the PBX's OPTIONS qualify every 15 s), seeded at start-up with `PJSIPShowContacts`;
- feature codes dialled on a phone arrive as AMI `UserEvent: HuilongAgent` (see
  dialplans/extensions_huilong.conf), desk buttons through `request()`;
- wrap-up ends on a timer;
- every change is written to `agent_state_log` (in order, by one writer task) and
  counted in the `huilong_agents` gauge.
Event callbacks never await: they apply the event and queue the change for the writer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from db.agents import AgentRepository
from engine import metrics
from engine.agents.registry import AgentRegistry
from engine.agents.state import (
    Agent,
    AgentEvent,
    AgentStateError,
    AgentStatus,
    CallEnded,
    Connected,
    LogIn,
    LogOut,
    OfferFailed,
    Pause,
    PhoneReachable,
    Ready,
)
from engine.pacing import AgentCounts

log = logging.getLogger(__name__)

FEATURE_PAUSE_REASON = "break"
REACHABLE = {"Created": True, "Reachable": True, "Updated": True, "NonQualified": True,
             "Removed": False, "Unreachable": False}


def desk_event(action: str, reason: str | None = None) -> AgentEvent:
    """The event for a feature code or desk button; AgentStateError for anything else."""
    match action:
        case "login":
            return LogIn()
        case "logout":
            return LogOut()
        case "pause":
            return Pause(reason or FEATURE_PAUSE_REASON)
        case "ready":
            return Ready()
    raise AgentStateError(f"unknown agent action {action!r} (login, logout, pause, ready)")


class AgentService:
    def __init__(self, repository: AgentRepository, clock: Callable[[], float],
                 wrap_up_s: float = 10.0) -> None:
        self.registry = AgentRegistry()
        self.wrap_up_s = wrap_up_s
        self._ready_waiters: list[asyncio.Future[None]] = []
        self._repository = repository
        self._clock = clock
        self._changes: asyncio.Queue[Agent] = asyncio.Queue()
        self._rearm = asyncio.Event()
        self._logged: dict[str, tuple[object, ...]] = {}  # last state written, per agent
        self.listeners: list[Callable[[Agent], None]] = []

    async def load(self) -> None:
        for row in await self._repository.active():
            agent = self.registry.add(row.agent_id)
            self._logged[agent.agent_id] = (agent.status, agent.pause_reason, agent.call_id)
        self._publish_counts()

    # -- inputs (never await) ---------------------------------------------------------

    def on_contact_status(self, fields: dict[str, str]) -> None:
        agent_id = fields.get("AOR") or fields.get("EndpointName") or ""
        reachable = REACHABLE.get(fields.get("ContactStatus", ""))
        if reachable is None or not self._known(agent_id):
            return
        self._apply(agent_id, PhoneReachable(reachable))

    def on_user_event(self, fields: dict[str, str]) -> None:
        if fields.get("UserEvent") != "HuilongAgent":
            return
        agent_id, action = fields.get("Agent", ""), fields.get("Action", "")
        if not self._known(agent_id):
            log.warning("feature code %r from an unknown agent phone", action)
            return
        try:
            self._apply(agent_id, desk_event(action))
        except AgentStateError as exc:
            log.info("agent feature code refused: %s", exc)

    def request(self, agent_id: str, action: str, reason: str | None = None) -> Agent:
        """A desk button. AgentStateError (with the reason) when it does not apply."""
        self.registry.get(agent_id)
        self._apply(agent_id, desk_event(action, reason))
        return self.registry.get(agent_id)

    # -- what calls see (ari_apps.agent.bridge.AgentDesk) -------------------------------

    def reserve(self, call_id: str) -> str | None:
        now = self._clock()
        self._changed(self.registry.tick(now))  # wrap-ups just over: logged as READY first
        agent = self.registry.reserve_longest_idle(call_id, now)
        if agent is None:
            return None
        self._changed([agent])
        return agent.agent_id

    async def wait_for_ready(self, timeout_s: float) -> bool:
        """True as soon as some agent is READY (maybe already), False after timeout_s."""
        if self.registry.ready(self._clock()):
            return True
        waiter = asyncio.get_running_loop().create_future()
        self._ready_waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout_s):
                await waiter
            return True
        except TimeoutError:
            return False
        finally:
            if waiter in self._ready_waiters:
                self._ready_waiters.remove(waiter)

    def pacing_counts(self) -> AgentCounts:
        counts = self.registry.counts()
        return AgentCounts(
            logged_in=len(self.registry.agents()) - counts[AgentStatus.OFFLINE],
            ready=counts[AgentStatus.READY],
            in_call=counts[AgentStatus.RESERVED] + counts[AgentStatus.ON_CALL],
            wrap_up=counts[AgentStatus.WRAP_UP], wrap_up_s=self.wrap_up_s)

    def connected(self, agent_id: str, call_id: str) -> None:
        self._apply_quietly(agent_id, Connected(call_id))

    def offer_failed(self, agent_id: str, call_id: str, agent_missed: bool) -> None:
        self._apply_quietly(agent_id, OfferFailed(call_id, agent_missed))

    def call_ended(self, agent_id: str, call_id: str) -> None:
        self._apply_quietly(agent_id, CallEnded(call_id, self.wrap_up_s))

    def _apply_quietly(self, agent_id: str, event: AgentEvent) -> None:
        try:
            self._apply(agent_id, event)
        except AgentStateError as exc:  # e.g. the agent was removed meanwhile
            log.warning("%s", exc)

    # -- tasks ------------------------------------------------------------------------

    async def run(self) -> None:
        """The state-log writer and the wrap-up timer, for as long as the daemon runs."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._write_changes(), name="agent-state-log")
            tasks.create_task(self._wrap_up_timer(), name="agent-wrap-up")

    async def _write_changes(self) -> None:
        while True:
            agent = await self._changes.get()
            try:
                await self._repository.log_state(
                    agent.agent_id, agent.status.value, agent.pause_reason, agent.call_id,
                    datetime.now(UTC))
            except Exception:
                log.exception("agent %s: state change not logged", agent.agent_id)

    async def _wrap_up_timer(self) -> None:
        while True:
            deadline = self.registry.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - self._clock())
            try:
                async with asyncio.timeout(timeout):
                    await self._rearm.wait()
            except TimeoutError:
                self._changed(self.registry.tick(self._clock()))
            self._rearm.clear()

    # -- internals ---------------------------------------------------------------------

    def _known(self, agent_id: str) -> bool:
        try:
            self.registry.get(agent_id)
        except AgentStateError:
            return False
        return True

    def _apply(self, agent_id: str, event: AgentEvent) -> None:
        self._changed(self.registry.handle(agent_id, event, self._clock()))

    def _changed(self, agents: list[Agent]) -> None:
        for agent in agents:
            # The log keeps state changes; a phone coming and going while its agent is
            # offline changes only `reachable`.
            state = (agent.status, agent.pause_reason, agent.call_id)
            if self._logged.get(agent.agent_id) != state:
                self._logged[agent.agent_id] = state
                log.info("agent %s: %s%s", agent.agent_id, agent.status.value,
                         f" ({agent.pause_reason})" if agent.pause_reason else "")
                self._changes.put_nowait(agent)
            for listener in self.listeners:
                listener(agent)
        if agents:
            self._rearm.set()
            self._publish_counts()
        if any(agent.status is AgentStatus.READY for agent in agents):
            waiters, self._ready_waiters = self._ready_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _publish_counts(self) -> None:
        counts = self.registry.counts()
        for status in AgentStatus:
            metrics.AGENTS.labels(status=status.value).set(counts[status])

    async def seed_reachability(self, contacts: list[dict[str, str]]) -> None:
        """Apply the PBX's current contacts (PJSIPShowContacts) once at start-up."""
        for fields in contacts:
            if fields.get("Event") != "ContactList":
                continue
            agent_id = fields.get("Aor") or fields.get("Endpoint") or ""
            status = fields.get("Status", "")
            reachable = status not in ("Unreachable", "Removed", "")
            if self._known(agent_id):
                self._apply(agent_id, PhoneReachable(reachable))
