"""Agent state: who may be offered the next answered call, and who waited longest.

Pure: every method takes the time (monotonic seconds) from its caller and nothing here
does I/O; the shell turns phone registrations, feature codes, desk buttons and the
agent's own call legs into the events below.

States:
    OFFLINE   not logged in
    READY     logged in, phone reachable, waiting for a call (since `idle_since`)
    RESERVED  chosen for an answered call; the agent's phone is being rung
    ON_CALL   bridged with a debtor
    WRAP_UP   after a call, until `wrap_up_until` (or the agent says ready sooner)
    PAUSED    logged in but not taking calls, with a reason ("break", "phone unreachable",
              "no answer" when the phone did not pick up an offered call, ...)

Only a READY agent is ever reserved. A logout or pause asked for during a call takes
effect when the call ends. A phone that becomes unreachable pauses its agent with the
reason `PHONE_UNREACHABLE`; when it is back, that automatic pause (and only that one)
ends by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

PHONE_UNREACHABLE = "phone unreachable"
NO_ANSWER = "no answer"


class AgentStatus(Enum):
    OFFLINE = "offline"
    READY = "ready"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class AgentStateError(ValueError):
    """An event that makes no sense in the agent's state (the message says which)."""


@dataclass(frozen=True, slots=True)
class Agent:
    agent_id: str
    status: AgentStatus = AgentStatus.OFFLINE
    since: float = 0.0
    """When the agent entered `status`."""
    reachable: bool = False
    idle_since: float | None = None
    """READY since this time: the longest idle agent is offered the next call."""
    pause_reason: str | None = None
    call_id: str | None = None
    wrap_up_until: float | None = None
    after_call: str | None = None
    """"logout" or a pause reason asked for during a call, applied when it ends."""


# -- events --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogIn:
    pass


@dataclass(frozen=True, slots=True)
class LogOut:
    pass


@dataclass(frozen=True, slots=True)
class Pause:
    reason: str


@dataclass(frozen=True, slots=True)
class Ready:
    pass


@dataclass(frozen=True, slots=True)
class PhoneReachable:
    reachable: bool


@dataclass(frozen=True, slots=True)
class Connected:
    """The agent answered the offered call and is bridged with the debtor."""

    call_id: str


@dataclass(frozen=True, slots=True)
class OfferFailed:
    """The offered call did not reach the agent. `agent_missed`: their phone rang and was
    not picked up (the agent is paused, so the next call is not lost the same way);
    otherwise (the debtor hung up first) they go back to READY keeping their place."""

    call_id: str
    agent_missed: bool


@dataclass(frozen=True, slots=True)
class CallEnded:
    call_id: str
    wrap_up_s: float


AgentEvent = LogIn | LogOut | Pause | Ready | PhoneReachable | Connected | OfferFailed | CallEnded


def apply(agent: Agent, event: AgentEvent, now: float) -> Agent:
    """The agent after `event` at `now`; AgentStateError when it does not apply."""
    status = agent.status
    match event:
        case PhoneReachable(reachable=reachable):
            agent = replace(agent, reachable=reachable)
            if not reachable and status is AgentStatus.READY:
                return _enter(agent, AgentStatus.PAUSED, now, pause_reason=PHONE_UNREACHABLE)
            if reachable and status is AgentStatus.PAUSED and \
                    agent.pause_reason == PHONE_UNREACHABLE:
                return _ready(agent, now)
            return agent
        case LogIn():
            if status is not AgentStatus.OFFLINE:
                return agent  # already logged in: a repeated login changes nothing
            return _ready(agent, now)
        case LogOut():
            if status in (AgentStatus.RESERVED, AgentStatus.ON_CALL):
                return replace(agent, after_call="logout")
            return _enter(agent, AgentStatus.OFFLINE, now)
        case Pause(reason=reason):
            if not reason.strip():
                raise AgentStateError(f"agent {agent.agent_id}: a pause needs a reason")
            if status is AgentStatus.OFFLINE:
                raise AgentStateError(f"agent {agent.agent_id} is not logged in")
            if status in (AgentStatus.RESERVED, AgentStatus.ON_CALL):
                return replace(agent, after_call=reason)
            return _enter(agent, AgentStatus.PAUSED, now, pause_reason=reason)
        case Ready():
            if status is AgentStatus.OFFLINE:
                raise AgentStateError(f"agent {agent.agent_id} is not logged in")
            if status in (AgentStatus.RESERVED, AgentStatus.ON_CALL):
                return replace(agent, after_call=None)  # cancels a pending pause/logout
            if status is AgentStatus.READY:
                return agent
            return _ready(agent, now)
        case Connected(call_id=call_id):
            _expect_call(agent, AgentStatus.RESERVED, call_id, "connected")
            return replace(agent, status=AgentStatus.ON_CALL, since=now)
        case OfferFailed(call_id=call_id, agent_missed=missed):
            _expect_call(agent, AgentStatus.RESERVED, call_id, "offer failed")
            if agent.after_call is not None:
                return _after_call(agent, now)
            if missed:
                return _enter(agent, AgentStatus.PAUSED, now, pause_reason=NO_ANSWER)
            if not agent.reachable:
                return _ready(agent, now)  # paused: the phone went away meanwhile
            # Not the agent's doing: back in the queue at their old place.
            return replace(agent, status=AgentStatus.READY, since=now, call_id=None)
        case CallEnded(call_id=call_id, wrap_up_s=wrap_up_s):
            _expect_call(agent, AgentStatus.ON_CALL, call_id, "call ended")
            if agent.after_call is not None:
                return _after_call(agent, now)
            if wrap_up_s <= 0:
                return _ready(agent, now)
            return _enter(agent, AgentStatus.WRAP_UP, now, wrap_up_until=now + wrap_up_s)
    raise AgentStateError(f"unknown agent event {event!r}")


def reserve(agent: Agent, call_id: str, now: float) -> Agent:
    if agent.status is not AgentStatus.READY:
        raise AgentStateError(
            f"agent {agent.agent_id} is {agent.status.value}, only a ready agent is reserved")
    return replace(agent, status=AgentStatus.RESERVED, since=now, call_id=call_id)


def expire_wrap_up(agent: Agent, now: float) -> Agent:
    """READY when the agent's wrap-up time is over, else unchanged."""
    if agent.status is AgentStatus.WRAP_UP and agent.wrap_up_until is not None \
            and now >= agent.wrap_up_until:
        return _ready(agent, agent.wrap_up_until)
    return agent


def _expect_call(agent: Agent, status: AgentStatus, call_id: str, what: str) -> None:
    if agent.status is not status or agent.call_id != call_id:
        raise AgentStateError(
            f"agent {agent.agent_id}: {what} for call {call_id}, but the agent is "
            f"{agent.status.value} (call {agent.call_id})")


def _after_call(agent: Agent, now: float) -> Agent:
    if agent.after_call == "logout":
        return _enter(agent, AgentStatus.OFFLINE, now)
    return _enter(agent, AgentStatus.PAUSED, now, pause_reason=agent.after_call)


def _ready(agent: Agent, now: float) -> Agent:
    """READY from `now` — or, with no reachable phone, paused for that reason."""
    if not agent.reachable:
        return _enter(agent, AgentStatus.PAUSED, now, pause_reason=PHONE_UNREACHABLE)
    return _enter(agent, AgentStatus.READY, now, idle_since=now)


def _enter(agent: Agent, status: AgentStatus, now: float, *, idle_since: float | None = None,
           pause_reason: str | None = None, wrap_up_until: float | None = None) -> Agent:
    return replace(agent, status=status, since=now, idle_since=idle_since,
                   pause_reason=pause_reason, call_id=None, wrap_up_until=wrap_up_until,
                   after_call=None)
