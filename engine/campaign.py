"""The campaign runner: lease the next debtors of a campaign, ask the compliance gate
which number (if any) may be called now, dial, and keep at most `concurrency` calls up.

Leases make several daemons sharing a database safe: a debtor is leased to one worker,
and a lease that expires without an attempt (its daemon died) returns to the pool.
A denied debtor goes back with the time the gate says it becomes allowed (or is
blocked for good), and the decision is kept on its target for `huilong explain`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from db.targets import Target, TargetRepository
from engine.dialer import Dialer, DialRequest
from engine.session import CallRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Eligibility:
    """The gate's answer for one debtor now: the number to dial, or when to come back."""

    phone_id: int | None
    until: datetime | None = None
    decision: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.phone_id is not None


CheckEligibility = Callable[[Target], Awaitable[Eligibility]]


class CampaignRunner:
    def __init__(self, campaign_id: int, dialer: Dialer, targets: TargetRepository,
                 registry: CallRegistry, concurrency: int, may_dial: Callable[[], bool],
                 check: CheckEligibility, worker: str, lease_s: float = 120.0) -> None:
        self.campaign_id = campaign_id
        self._dialer = dialer
        self._targets = targets
        self._registry = registry
        self._concurrency = concurrency
        self._may_dial = may_dial
        self._check = check
        self._worker = worker
        self._lease_s = lease_s
        self._mine: set[str] = set()

    async def run(self) -> None:
        """Return when every target is done or blocked, or when dialling stops."""
        while True:
            await self._targets.settle()
            self._mine = {s for s in self._mine if self._registry.get(s) is not None}
            free = self._concurrency - len(self._mine)
            if self._may_dial() and free > 0:
                leased = await self._targets.lease(self.campaign_id, free, self._worker,
                                                   self._lease_s)
                for target in leased:
                    await self._consider(target)
            progress = await self._targets.progress(self.campaign_id)
            if progress.pending == 0 and progress.dialling == 0:
                return
            if not self._may_dial() and not self._mine:
                return
            await self._dialer.wait_for_a_call_to_end(timeout=1.0)

    async def _consider(self, target: Target) -> None:
        try:
            eligibility = await self._check(target)
        except Exception:
            await self._targets.release(target.id)
            raise
        if not eligibility.allowed:
            await self._targets.defer(target.id, eligibility.until, eligibility.decision)
            return
        phone_id = eligibility.phone_id
        assert phone_id is not None

        async def link(attempt_id: uuid.UUID) -> None:
            await self._targets.link_attempt(target.id, attempt_id, phone_id,
                                             eligibility.decision)
            # The gate's decision and its inputs stay with the attempt, as evidence.
            await self._dialer.record(attempt_id, "compliance", eligibility.decision)

        try:
            session = await self._dialer.dial(
                DialRequest(target.debtor_id, phone_id, target.campaign_id), prepare=link)
        except Exception:
            await self._targets.release(target.id)
            raise
        self._mine.add(session.id)


async def always_first_number(target: Target) -> Eligibility:
    """No gate: dial the target's number (tests of the telephony alone)."""
    return Eligibility(phone_id=target.phone_id, decision={"allowed": True, "gate": "none"})
