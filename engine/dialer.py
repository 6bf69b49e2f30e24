"""Placing calls: commit the attempt, then originate; and the campaign runner that keeps
a campaign's calls flowing.

The order is the point: the `attempts` row (state `intent`, with the UUID that becomes
the channel id) is committed before Asterisk hears of the call. A crash after the
commit leaves an attempt the next start-up reconciles; a crash or lost response after
the originate cannot dial twice, because a retry reuses the id and Asterisk answers
409 for a channel id it already has.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ari_apps.amd import AmdVerdict
from ari_apps.signals import ChannelGone, ChannelReady, PlaybackFinished
from db.attempts import AttemptRepository
from db.crypto import mask_phone
from db.debtors import DebtorRepository
from engine import metrics
from engine.ari.client import CallControl
from engine.ari.events import AriEvent, to_call_event
from engine.call import state as call
from engine.call.causes import disposition_for
from engine.session import CallPlan, CallRegistry, CallSession, now
from engine.settings import Settings

if TYPE_CHECKING:
    from engine.agents.flows import AgentFlows
    from engine.bot import BotFlows

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DialRequest:
    debtor_id: int
    phone_id: int
    campaign_id: int | None = None
    script: str | None = None  # the voice bot's script pack, or None: no flow on answer
    agents: bool = False  # an answered call goes to an agent (agent campaigns)
    amd: bool = False  # agent calls: the answering-machine check before an agent


class Dialer:
    def __init__(self, settings: Settings, registry: CallRegistry, attempts: AttemptRepository,
                 debtors: DebtorRepository, ari: Callable[[], CallControl | None],
                 tasks: asyncio.TaskGroup) -> None:
        self._settings = settings
        self._registry = registry
        self._attempts = attempts
        self._debtors = debtors
        self._ari = ari
        self._tasks = tasks
        self._waiters: set[asyncio.Future[None]] = set()
        self.bot: BotFlows | None = None  # set when the voice bot is enabled
        self.agent_flows: AgentFlows | None = None  # set once the agents are loaded

    async def dial(self, request: DialRequest,
                   prepare: Callable[[uuid.UUID], Awaitable[None]] | None = None) -> CallSession:
        """Commit the attempt, run `prepare` (e.g. link it to its target), then dial."""
        dial = self._settings.dial
        number = await self._debtors.dial_number(request.phone_id)
        attempt_id = uuid.uuid4()
        await self._attempts.create_intent(attempt_id, debtor_id=request.debtor_id,
                                           phone_id=request.phone_id,
                                           campaign_id=request.campaign_id)
        if prepare is not None:
            await prepare(attempt_id)
        plan = CallPlan(
            attempt_id=attempt_id,
            endpoint=dial.endpoint_template.format(number=number.lstrip("+")),
            masked_number=mask_phone(number), app=self._settings.ari.app,
            caller_id=dial.caller_id, ring_timeout_s=dial.ring_timeout_s,
            max_call_s=dial.max_call_s, max_originate_tries=dial.originate_attempts)
        flow = None
        if request.agents:
            if self.agent_flows is None:
                raise ValueError("an agent call needs the agent registry")
            flow = self.agent_flows.flow(amd=request.amd)
        elif request.script is not None:
            if self.bot is None:
                raise ValueError(f"script {request.script!r} needs the voice bot ([bot] enabled)")
            flow = self.bot.flow_for(request.debtor_id, request.script)
        session = CallSession(plan, self._ari, self._attempts, self._session_done, flow)
        self._registry.add(session)
        metrics.CALLS_PLACED.inc()
        self._tasks.create_task(session.run(first=call.DialRequested(at=now())),
                                name=f"call-{attempt_id}")
        return session

    async def record(self, attempt_id: uuid.UUID, kind: str, detail: dict[str, Any]) -> None:
        """Append an event to an attempt's log."""
        await self._attempts.append_event(attempt_id, kind, now(), detail)

    def _session_done(self, session: CallSession) -> None:
        self._registry.remove(session)
        if session.state.disposition is not None:
            metrics.CALLS_FINISHED.labels(session.state.disposition.value).inc()
        self.wake()

    def wake(self) -> None:
        """Let the campaign runners look again now (a call ended, an agent came free)."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait_for_a_call_to_end(self, timeout: float) -> None:
        """Return when any call ends (or `wake()`), or after `timeout` seconds."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(waiter)


async def recover_orphans(attempts: AttemptRepository, registry: CallRegistry,
                          ari: CallControl) -> int:
    """Attempts left non-final by an earlier run (no session here): hang up any channel
    that survived and close the attempt with what is known."""
    channels = await ari.channel_states()
    closed = 0
    for row in await attempts.non_final():
        attempt_id = str(row.id)
        if registry.get(attempt_id) is not None:
            continue
        still_up = attempt_id in channels
        if still_up:
            try:
                await ari.hangup(attempt_id)
            except Exception as exc:
                log.warning("orphan %s: hangup failed: %s", attempt_id, exc)
        disposition = disposition_for(answered=row.answered_at is not None, cause=None,
                                      we_hung_up=still_up)
        if await attempts.finalize(row.id, disposition=disposition.value, at=now(), cause=None,
                                   cause_text=None, error="engine restarted during the call"):
            closed += 1
    return closed


def route_event(registry: CallRegistry, event: AriEvent) -> bool:
    """Hand an ARI event to the session it concerns; False when no session owns it.
    Runs on the event reader: never awaits."""
    if event.type == "PlaybackFinished" and event.playback is not None:
        owner = registry.get(call_id_of(event.playback.id))
        if owner is not None:
            owner.deliver_media(PlaybackFinished(event.playback.id))
        return owner is not None
    channel = event.channel
    if channel is not None and channel.id != call_id_of(channel.id):
        # A flow's helper channel (snoop, external media): its owner sets it up and tears
        # it down; it only needs to know when the channel is in Stasis.
        owner = registry.get(call_id_of(channel.id))
        if owner is not None and event.type == "StasisStart":
            owner.deliver_media(ChannelReady(channel.id))
        elif owner is not None and event.type == "ChannelDestroyed":
            owner.deliver_media(ChannelGone(channel.id, event.cause))
        return owner is not None
    if event.type == "StasisStart" and channel is not None and event.args[:1] == ["amd"]:
        owner = registry.get(channel.id)
        if owner is not None:  # back from the dialplan's AMD(): the verdict is the flow's
            status, cause = [*event.args[1:], "", ""][:2]
            owner.deliver_media(AmdVerdict(status=status, cause=cause))
        return owner is not None
    routed = to_call_event(event)
    if routed is None:
        return channel is not None and registry.get(channel.id) is not None
    channel_id, call_event = routed
    session = registry.get(channel_id)
    if session is None:
        return False
    session.deliver(call_event)
    return True


def call_id_of(ari_id: str) -> str:
    """The call a channel, bridge or playback id belongs to: a flow names its helper
    channels and playbacks `<attempt uuid>-<role>`, so events about them (StasisStart of
    a snoop, a finished prompt) find their call and are never taken for strays."""
    return ari_id[:36]


def reconcile(registry: CallRegistry, channels: dict[str, str]) -> None:
    """After a reconnect: close calls whose channel vanished, catch up on the rest."""
    for session in registry.live():
        if session.originate_in_flight:
            continue
        channel_state = channels.get(session.id)
        if channel_state is None:
            session.deliver(call.ChannelVanished(at=now()))
        elif channel_state == "Up":
            session.deliver(call.ChannelAnswered(at=now()))
        elif channel_state == "Ringing":
            session.deliver(call.ChannelRinging(at=now()))
