"""Best time to call, wired to a campaign: the learned table (predictive/best_time.py,
counted by db/best_time.py) and, for a debtor the compliance gate allows now, whether to
dial now or wait for a clearly better hour of theirs.

A campaign opts in with the setting `best_time` (`campaign create --best-time`):

    {"best_time": {"goal": "right_party", "hours": [8, 21], "horizon_h": 24}}

- goal: what the hours are ranked by, `right_party` (collections want the debtor, not
  whoever answers) or `answer`.
- hours: the local hours a deferred call may be aimed at, [first, end). The gate checks
  again when the time comes, so this only keeps aims inside the usual window.
- horizon_h: how far ahead a better hour may be (the rest of today by default).

The table is fitted from every campaign's calls of the last 90 days (campaigns share
debtors and hours) and refitted hourly. Deferring is soft: the runner only defers while
other ready debtors can take the line (engine/campaign.py), so lines never idle for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from db.best_time import load_best_time, pending_mix
from db.pool import connection
from predictive.best_time import (
    AnswerPrior,
    BestTimeTable,
    CallPlan,
    DeferRule,
    Goal,
    answer_prior,
    every_day,
    plan_call,
)

REFIT_S = 3600.0
log = logging.getLogger(__name__)


class BestTimeError(ValueError):
    """A campaign's `best_time` setting that cannot be used; names the field."""


def parse_setting(raw: Any) -> tuple[Goal, frozenset[int], timedelta]:
    options: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    try:
        goal = Goal(options.get("goal", Goal.RIGHT_PARTY.value))
    except ValueError:
        raise BestTimeError(f"best_time.goal: one of {', '.join(g.value for g in Goal)}") from None
    hours = options.get("hours", [8, 21])
    if (not isinstance(hours, list) or len(hours) != 2
            or not all(isinstance(h, int) for h in hours) or not 0 <= hours[0] < hours[1] <= 24):
        raise BestTimeError("best_time.hours: [first, end) local hours, e.g. [8, 21]")
    horizon = options.get("horizon_h", 24)
    if not isinstance(horizon, int | float) or not 1 <= horizon <= 168:
        raise BestTimeError("best_time.horizon_h: hours ahead, 1 to 168")
    return goal, every_day(hours[0], hours[1]), timedelta(hours=horizon)


class BestTimePlanner:
    def __init__(self, pool: asyncpg.Pool, campaign_id: int, setting: Any,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._pool = pool
        self.campaign_id = campaign_id
        self._goal, self._hours, horizon = parse_setting(setting)
        self._rule = DeferRule(horizon=horizon)
        self._clock = clock
        self._table: BestTimeTable | None = None
        self._fitted_at = 0.0

    async def table(self) -> BestTimeTable:
        if self._table is None or time.monotonic() - self._fitted_at > REFIT_S:
            self._table = await load_best_time(self._pool, now=self._clock())
            self._fitted_at = time.monotonic()
        return self._table

    async def __call__(self, debtor_id: int) -> CallPlan:
        async with connection(self._pool) as conn:
            row = await conn.fetchrow("SELECT segment, timezone FROM debtors WHERE id = $1",
                                      debtor_id)
        return plan_call(await self.table(), row["segment"], ZoneInfo(row["timezone"]),
                         self._clock(), self._hours, self._rule, self._goal)

    async def answer_prior(self) -> AnswerPrior | None:
        """Where the pacing's answer-rate estimate starts: the learned rate now, weighed
        by the campaign's pending debtors."""
        mix = await pending_mix(self._pool, self.campaign_id)
        return answer_prior(await self.table(), mix, self._clock())


async def planner_for(pool: asyncpg.Pool | None, campaign_id: int, setting: Any,
                      policy: Any) -> BestTimePlanner | None:
    """The campaign's planner; the pacing's answer-rate estimate (if the policy has one)
    starts from the learned rate of its pending debtors at this hour."""
    assert pool is not None
    try:
        planner = BestTimePlanner(pool, campaign_id, setting)
        async with asyncio.timeout(60):
            prior = await planner.answer_prior()
    except BestTimeError as exc:
        log.error("campaign %d: %s; dialling without best time", campaign_id, exc)
        return None
    estimators = getattr(policy, "estimators", None)
    if prior is not None and estimators is not None:
        estimators.answer.prior_mean, estimators.answer.prior_weight = prior.mean, prior.weight
        log.info("campaign %d: answer rate starts at %.2f (learned hours)", campaign_id,
                 prior.mean)
    return planner
