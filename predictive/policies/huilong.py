"""`huilong`: CMDP-optimal pacing on learnt statistics, with abandon-rate feedback.

Each tick the policy reads a lines-to-hold table `a[busy, in flight]` and places
`a − ringing` new calls. The table is the optimal policy of the bound's model
(`predictive.bound`: exponential dial, talk + wrap-up times, a drop-time grace) built from
the online estimates (answer probability of the current hour, mean ring, talk and wrap
times, AMD false positives) at a Lagrange multiplier λ on abandons. The table is exactly
"forecast the agents that free over the dial horizon and dial while the predicted
abandon cost stays under its price": λ is that price.

Feedback: λ is corrected every minute from the measured abandon rate — the day-to-date
rate and a rolling 20-minute window, both aimed at `goal_fraction` of the cap — so the
cap holds day by day and a burst of abandons cools the dialer quickly. Calls count at
the time they were answered (connected calls are reported only after their wrap-up).

Always: no dials when no agent is ready or about to be (wrap-up, or a talk expected to
end within the dial horizon); at most `max_lines_per_agent` lines per available agent;
progressive (one line per ready agent) for small teams and until the statistics are
sufficient.

Tables: two busy phases (talk, wrap-up: `a[talking, wrapping, in flight]`) for teams up
to `two_phase_max_team`, one above (cost). The λ controller is deliberately gentle
(`gain`): with a fixed λ near the right level the table alone is within ~1 point of the
bound, and λ noise (high-λ stretches) was costing ~4 points of occupancy. AMD false
positives count against the budget when the campaign says so.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from predictive.bound import Chain, Params, greedy, optimise
from predictive.estimators import CampaignEstimators
from predictive.model import CallOutcome, DialerState, Result
from predictive.workload import Workload

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

DAY_S = 86_400.0
_LAM_STEPS_PER_DECADE = 6
_LAM_MIN_LOG10, _LAM_MAX_LOG10 = -1.0, 4.0


@dataclass(slots=True)
class _Feedback:
    """Abandons and live answers, for the day so far and by answer time (window)."""

    day: int = -1
    day_live: int = 0
    day_abandons: int = 0
    events: deque[tuple[float, bool]] = field(default_factory=deque)  # (answered, abandon)

    def roll(self, now: float) -> None:
        day = int(now // DAY_S)
        if day != self.day:
            self.day, self.day_live, self.day_abandons = day, 0, 0

    def push(self, answered_at: float, abandon: bool) -> None:
        self.roll(answered_at)
        self.day_live += 1
        self.day_abandons += abandon
        self.events.append((answered_at, abandon))

    def window(self, start: float, end: float) -> tuple[int, int]:
        """(abandons, live answers) answered in [start, end)."""
        while self.events and self.events[0][0] < start - 3_600.0:
            self.events.popleft()
        live = abandons = 0
        for at, abandon in self.events:
            if start <= at < end:
                live += 1
                abandons += abandon
        return abandons, live


@dataclass(slots=True)
class HuilongPolicy:
    """The `huilong` pacing policy (see the module docstring)."""

    agents: int
    abandon_cap: float = 0.03
    drop_s: float = 2.0
    amd_counts_as_abandoned: bool = True
    name: str = "huilong"
    tick_s: float = 1.0
    max_lines_per_agent: float = 3.0
    min_team: int = 5
    min_live: int = 40
    min_connected: int = 20
    goal_fraction: float = 0.9
    window_s: float = 1_200.0
    adjust_every_s: float = 60.0
    gain: float = 0.03  # log10 λ per minute per unit relative error; gentle: noise costs
    prior_answers: float = 30.0  # pseudo-answers at the goal rate in each ratio
    refresh_every_s: float = 1_800.0
    two_phase_max_team: int = 30  # above: one busy phase (a two-phase table is costly)
    estimators: CampaignEstimators = field(default_factory=CampaignEstimators)
    log10_lam: float = 1.3
    _feedback: _Feedback = field(default_factory=_Feedback)
    _last_adjust: float = -math.inf
    _last_refresh: float = -math.inf
    _times: tuple[float, float, float, float] = (20.0, 120.0, 30.0, 0.0)
    _tables: dict[tuple[int, float, int, tuple[float, float, float, float]], IntArray] = (
        field(default_factory=dict))
    _values: dict[tuple[int, float], FloatArray] = field(default_factory=dict)

    @property
    def goal(self) -> float:
        return self.goal_fraction * self.abandon_cap

    def dials(self, state: DialerState) -> int:
        team = state.agents_ready + state.agents_in_call + state.agents_wrap_up
        free = state.agents_ready - state.calls_waiting
        progressive = max(0, free - state.calls_ringing)
        if team < self.min_team or not self._enough_statistics():
            return progressive
        est = self.estimators
        horizon = est.ring_mean
        talk_ending = state.agents_in_call * -math.expm1(-horizon / max(est.talk_mean, 1.0))
        if free <= 0 and state.agents_wrap_up == 0 and talk_ending < 0.5:
            return 0
        self._refresh(state.now)
        self._adjust(state.now)
        table = self._table(team, est.answer_probability(state.hour_of_day))
        line_cap = table.shape[2] - 1
        ringing = min(state.calls_ringing, line_cap)
        if table.shape[1] > 1:  # two phases: a waiting call takes the next agent to free
            talking = min(team, state.agents_in_call + state.calls_waiting)
            wrapping = min(team - talking, max(0, state.agents_wrap_up - state.calls_waiting))
            hold = int(table[talking, wrapping, ringing])
        else:
            busy = min(team, state.agents_in_call + state.agents_wrap_up + state.calls_waiting)
            hold = int(table[busy, 0, ringing])
        return int(max(0, min(hold, line_cap) - state.calls_ringing))

    def observe(self, outcome: CallOutcome) -> None:
        self.estimators.observe(outcome)
        if outcome.result is Result.CONNECTED:
            answered = outcome.at - (outcome.talk_s or 0.0) - (outcome.wrap_s or 0.0)
            self._feedback.push(answered, False)
        elif outcome.result is Result.ABANDONED:
            self._feedback.push(outcome.at - self.drop_s, True)
        elif outcome.result is Result.AMD_FALSE_POSITIVE:
            self._feedback.push(outcome.at, self.amd_counts_as_abandoned)

    # -- internals -----------------------------------------------------------------

    def _enough_statistics(self) -> bool:
        est = self.estimators
        return est.live_answers >= self.min_live and est.talk.n >= self.min_connected

    def _refresh(self, now: float) -> None:
        """Re-read the time estimates (rounded, so small drifts keep the tables)."""
        if now - self._last_refresh < self.refresh_every_s:
            return
        self._last_refresh = now
        est = self.estimators
        fp = est.amd_false_positives / est.live_answers if est.live_answers else 0.0
        self._times = (_round(est.ring_mean), _round(est.talk_mean), _round(est.wrap_mean),
                       round(fp, 3))

    def _adjust(self, now: float) -> None:
        """Move λ toward the goal abandon rate: day-to-date and rolling window."""
        if now - self._last_adjust < self.adjust_every_s:
            return
        self._last_adjust = now
        fb = self._feedback
        fb.roll(now)
        goal, n0 = self.goal, self.prior_answers
        r_day = (fb.day_abandons + goal * n0) / (fb.day_live + n0)
        settled = now - 1.5 * self.estimators.handle_mean  # connects are reported late
        a_win, l_win = fb.window(settled - self.window_s, settled)
        r_win = (a_win + goal * n0) / (l_win + n0)
        error = (0.5 * r_day + 0.5 * r_win - goal) / goal
        if fb.day_live > 100 and fb.day_abandons > self.abandon_cap * 0.95 * fb.day_live:
            error = max(error, 1.0)  # the day's budget is nearly spent: cool down hard
        step = self.gain * max(-1.0, min(error, 2.0))
        self.log10_lam = min(_LAM_MAX_LOG10, max(_LAM_MIN_LOG10, self.log10_lam + step))

    def _table(self, team: int, p: float) -> IntArray:
        """The lines-to-hold table for `team` agents at answer probability `p`."""
        p = max(0.005, round(p / 0.005) * 0.005)
        level = round(self.log10_lam * _LAM_STEPS_PER_DECADE)
        key = (team, p, level, self._times)
        table = self._tables.get(key)
        if table is None:
            dial, talk, wrap, fp = self._times
            params = Params(
                agents=team, answer_probability=p, dial_s=dial, talk_s=talk, wrap_s=wrap,
                drop_s=self.drop_s, abandon_cap=self.goal, amd_false_positive=fp,
                amd_counts_as_abandoned=self.amd_counts_as_abandoned,
                max_lines=max(1, math.floor(self.max_lines_per_agent * team)),
                phases=2 if team <= self.two_phase_max_team else 1)
            chain = Chain(params)
            lam = 10.0 ** (level / _LAM_STEPS_PER_DECADE)
            v, _ = optimise(chain, lam, self._values.get((team, p)), tolerance=1e-3)
            self._values[(team, p)] = v
            table = greedy(chain, lam, v)
            if len(self._tables) > 512:
                self._tables.clear()
            self._tables[key] = table
        return table


def _round(x: float) -> float:
    """Three significant figures."""
    if x <= 0:
        return 0.0
    digits = 2 - math.floor(math.log10(x))
    return round(x, digits)


def make(workload: Workload) -> HuilongPolicy:
    """A fresh `huilong` policy for `workload`: the team size and the compliance terms
    (cap, drop time, whether AMD errors count) are campaign settings; the call statistics
    are learnt online."""
    return HuilongPolicy(agents=workload.agents, abandon_cap=workload.abandon_cap,
                         drop_s=workload.drop_seconds,
                         amd_counts_as_abandoned=workload.amd_counts_as_abandoned)


factory = make
