"""A seeded discrete-event simulator of one outbound campaign, for any pacing `Policy`.

Each day the team logs in at the start hour (all agents ready) for `workload.hours`
hours. Every `policy.tick_s` seconds the simulator shows the policy a `DialerState` and
places the calls it asks for. A call rings for a drawn time; then a live person answers
with the hour's probability, else nobody (or a machine). A live answer takes a ready agent
at once, else waits up to `drop_seconds` for one (first come, first served) and is
ABANDONED after that. AMD false positives hang up on a live person. A connected agent
talks, wraps up, and is ready again (or takes the oldest waiting call). Every finished
call is reported to `policy.observe` once, when its result is final (a connected call
after its wrap-up, with its talk and wrap times).

Common random numbers: each day's per-call attributes (ring time, answer draws, talk
and wrap times) come from streams keyed by (seed, day) and are indexed by the order in
which calls are placed, so every policy meets the same sequence of call behaviours.

Clock: day `d` runs from `d * 86400` to `d * 86400 + hours * 3600` seconds since the run
began; no dials after the day's end, calls in flight then finish (time after the end is
not counted). The policy object lives across days; agents reset each day.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from predictive.model import CallOutcome, DialerState, Policy, Result
from predictive.workload import Workload

DAY_S = 86_400.0
HOUR_S = 3_600.0
_CHUNK = 4_096
_MAX_DIALS_PER_AGENT_TICK = 20  # a runaway policy is clamped, not simulated forever

_RING_END, _DROP, _TALK_END, _WRAP_END = 0, 1, 2, 3

PolicyFactory = Callable[[Workload], Policy]


@dataclass(slots=True)
class Tally:
    """Counters for one hour, one day or a whole run. Calls count in the hour they were
    answered (dials in the hour they were placed); times are agent- or line-seconds."""

    amd_counts_as_abandoned: bool = True
    dials: int = 0
    no_answers: int = 0
    machines: int = 0
    connected: int = 0
    abandoned: int = 0
    amd_false_positives: int = 0
    logged_in_s: float = 0.0
    ready_s: float = 0.0
    talk_s: float = 0.0
    wrap_s: float = 0.0
    ringing_s: float = 0.0

    @property
    def live_answers(self) -> int:
        return self.connected + self.abandoned + self.amd_false_positives

    @property
    def abandons(self) -> int:
        """Abandons against the budget (AMD false positives when the campaign says so)."""
        extra = self.amd_false_positives if self.amd_counts_as_abandoned else 0
        return self.abandoned + extra

    @property
    def outcomes(self) -> int:
        return (self.no_answers + self.machines + self.connected + self.abandoned
                + self.amd_false_positives)

    @property
    def abandon_rate(self) -> float:
        live = self.live_answers
        return self.abandons / live if live else 0.0

    @property
    def occupancy(self) -> float:
        return (self.talk_s + self.wrap_s) / self.logged_in_s if self.logged_in_s else 0.0

    def add(self, other: Tally) -> None:
        for name in ("dials", "no_answers", "machines", "connected", "abandoned",
                     "amd_false_positives", "logged_in_s", "ready_s", "talk_s", "wrap_s",
                     "ringing_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True, slots=True)
class Metrics:
    """The benchmark's figures for one run (rates are fractions, not percent)."""

    occupancy: float
    talk_minutes_per_agent_hour: float
    abandon_rate: float
    worst_day_abandon_rate: float
    worst_hour_abandon_rate: float
    lines_per_agent: float
    dials: int
    answers: int

    def as_dict(self) -> dict[str, float | int]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class RunResult:
    """`days[d]`: day totals; `hours[d][h]`: hour `h` (from the start hour) of day `d`."""

    workload: str
    policy: str
    days: tuple[Tally, ...]
    hours: tuple[tuple[Tally, ...], ...]
    total: Tally
    metrics: Metrics


def simulate(workload: Workload, policy_factory: PolicyFactory,
             days: int | None = None) -> RunResult:
    """Run a fresh policy from `policy_factory(workload)` over `days` days (default: the
    workload's) and measure it."""
    policy = policy_factory(workload)
    n_days = workload.days if days is None else days
    if n_days < 1:
        raise ValueError(f"days must be ≥ 1, got {n_days}")
    hour_tallies = tuple(_Day(workload, policy, day).run() for day in range(n_days))
    day_tallies = tuple(_sum(hours, workload) for hours in hour_tallies)
    total = _sum(day_tallies, workload)
    return RunResult(workload.name, policy.name, day_tallies, hour_tallies, total,
                     _metrics(total, day_tallies, hour_tallies))


def _sum(tallies: tuple[Tally, ...], workload: Workload) -> Tally:
    out = Tally(workload.amd_counts_as_abandoned)
    for t in tallies:
        out.add(t)
    return out


def _metrics(total: Tally, days: tuple[Tally, ...],
             hours: tuple[tuple[Tally, ...], ...]) -> Metrics:
    logged_h = total.logged_in_s / HOUR_S
    hour_rates = [h.abandon_rate for day in hours for h in day if h.live_answers]
    return Metrics(
        occupancy=total.occupancy,
        talk_minutes_per_agent_hour=total.talk_s / 60.0 / logged_h if logged_h else 0.0,
        abandon_rate=total.abandon_rate,
        worst_day_abandon_rate=max(d.abandon_rate for d in days),
        worst_hour_abandon_rate=max(hour_rates, default=0.0),
        lines_per_agent=total.ringing_s / total.logged_in_s if total.logged_in_s else 0.0,
        dials=total.dials,
        answers=total.live_answers,
    )


class CallStream:
    """Per-call attributes for one day, drawn lazily in chunks and indexed by call order:
    (ring_s, u_answer, u_machine, u_amd, talk_s, wrap_s)."""

    def __init__(self, workload: Workload, day: int) -> None:
        seq = np.random.SeedSequence(entropy=workload.seed, spawn_key=(day,))
        self._rngs = [np.random.default_rng(s) for s in seq.spawn(6)]
        self._w = workload
        self._cols: list[list[float]] = [[] for _ in range(6)]

    def __getitem__(self, i: int) -> tuple[float, float, float, float, float, float]:
        while i >= len(self._cols[0]):
            self._extend()
        c = self._cols
        return c[0][i], c[1][i], c[2][i], c[3][i], c[4][i], c[5][i]

    def _extend(self) -> None:
        r, w = self._rngs, self._w
        draws = (w.dial_seconds.sample(r[0], _CHUNK), r[1].random(_CHUNK),
                 r[2].random(_CHUNK), r[3].random(_CHUNK),
                 w.talk_seconds.sample(r[4], _CHUNK), w.wrap_seconds.sample(r[5], _CHUNK))
        for col, arr in zip(self._cols, draws, strict=True):
            col.extend(arr.tolist())


@dataclass(slots=True)
class _Call:
    dialled: float
    ring: float
    u_answer: float
    u_machine: float
    u_amd: float
    talk: float
    wrap: float
    hour: int = 0  # index of the hour it was answered in
    waiting: bool = False


@dataclass(slots=True)
class _Day:
    """One day's event loop; `run()` returns its per-hour tallies."""

    w: Workload
    policy: Policy
    day: int
    end: float = 0.0
    clock: float = 0.0
    ready: int = 0
    in_call: int = 0
    wrap: int = 0
    ringing: int = 0
    waiting: int = 0
    events: list[tuple[float, int, int, int]] = field(default_factory=list)
    seq: int = 0
    placed: int = 0
    calls: dict[int, _Call] = field(default_factory=dict)
    queue: deque[int] = field(default_factory=deque)
    bins: list[Tally] = field(default_factory=list)

    def run(self) -> tuple[Tally, ...]:
        w, policy = self.w, self.policy
        self.end = w.hours * HOUR_S
        self.ready = w.agents
        self.bins = [Tally(w.amd_counts_as_abandoned) for _ in range(w.hours)]
        stream = CallStream(w, self.day)
        tick = float(policy.tick_s)
        if not tick > 0 or not math.isfinite(tick):
            raise ValueError(f"policy {policy.name!r}: tick_s must be > 0, got {tick!r}")
        max_dials = _MAX_DIALS_PER_AGENT_TICK * w.agents
        k = 0
        while (t := k * tick) < self.end:
            self._run_events(until=t)
            self._advance(t)
            n = int(policy.dials(self._state(t)))
            for _ in range(min(max(n, 0), max_dials)):
                self._dial(t, stream)
            k += 1
        self._run_events(until=math.inf)
        self._advance(self.end)
        return tuple(self.bins)

    def _state(self, t: float) -> DialerState:
        return DialerState(
            now=self.day * DAY_S + t, agents_logged_in=self.w.agents,
            agents_ready=self.ready, agents_in_call=self.in_call, agents_wrap_up=self.wrap,
            calls_ringing=self.ringing, calls_waiting=self.waiting,
            calls_connected=self.in_call, hour_of_day=self._hour_of_day(t))

    def _hour_index(self, t: float) -> int:
        return min(int(t // HOUR_S), self.w.hours - 1)

    def _hour_of_day(self, t: float) -> int:
        return self.w.start_hour + self._hour_index(t)

    def _push(self, t: float, kind: int, call_id: int) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, call_id))

    def _dial(self, t: float, stream: CallStream) -> None:
        call_id = self.placed
        self.placed += 1
        call = self.calls[call_id] = _Call(t, *stream[call_id])
        self.ringing += 1
        self.bins[self._hour_index(t)].dials += 1
        self._push(t + call.ring, _RING_END, call_id)

    def _advance(self, t: float) -> None:
        """Integrate agent and line states from the clock to `t` (within the day)."""
        t = min(t, self.end)
        while self.clock < t:
            h = self._hour_index(self.clock)
            stop = min(t, (h + 1) * HOUR_S) if h < self.w.hours - 1 else t
            dt = stop - self.clock
            b = self.bins[h]
            b.logged_in_s += self.w.agents * dt
            b.ready_s += self.ready * dt
            b.talk_s += self.in_call * dt
            b.wrap_s += self.wrap * dt
            b.ringing_s += self.ringing * dt
            self.clock = stop

    def _run_events(self, until: float) -> None:
        events = self.events
        while events and events[0][0] <= until:
            t, _, kind, call_id = heapq.heappop(events)
            self._advance(t)
            if kind == _RING_END:
                self._ring_end(t, call_id)
            elif kind == _DROP:
                self._drop(t, call_id)
            elif kind == _TALK_END:
                self.in_call -= 1
                self.wrap += 1
                self._push(t + self.calls[call_id].wrap, _WRAP_END, call_id)
            else:
                self._wrap_end(t, call_id)

    def _report(self, t: float, call: _Call, result: Result, connected: bool = False) -> None:
        self.policy.observe(CallOutcome(
            at=self.day * DAY_S + t, result=result, ring_s=call.ring,
            hour_of_day=self.w.start_hour + call.hour,
            talk_s=call.talk if connected else None, wrap_s=call.wrap if connected else None))

    def _ring_end(self, t: float, call_id: int) -> None:
        call = self.calls[call_id]
        self.ringing -= 1
        call.hour = self._hour_index(t)
        bin_ = self.bins[call.hour]
        p = self.w.answer_probability(self._hour_of_day(call.dialled))
        if call.u_answer >= p:
            del self.calls[call_id]
            if call.u_machine < self.w.machine_probability:
                bin_.machines += 1
                self._report(t, call, Result.MACHINE)
            else:
                bin_.no_answers += 1
                self._report(t, call, Result.NO_ANSWER)
        elif call.u_amd < self.w.amd_false_positive:
            del self.calls[call_id]
            bin_.amd_false_positives += 1
            self._report(t, call, Result.AMD_FALSE_POSITIVE)
        elif self.ready > 0:
            self.ready -= 1
            self._connect(t, call_id)
        else:
            call.waiting = True
            self.waiting += 1
            self.queue.append(call_id)
            self._push(t + self.w.drop_seconds, _DROP, call_id)

    def _connect(self, t: float, call_id: int) -> None:
        self.in_call += 1
        self._push(t + self.calls[call_id].talk, _TALK_END, call_id)

    def _drop(self, t: float, call_id: int) -> None:
        call = self.calls[call_id]
        if not call.waiting:
            return
        call.waiting = False
        self.waiting -= 1
        self.queue.remove(call_id)
        self.bins[call.hour].abandoned += 1
        self._report(t, call, Result.ABANDONED)
        del self.calls[call_id]

    def _wrap_end(self, t: float, call_id: int) -> None:
        call = self.calls.pop(call_id)
        self.wrap -= 1
        self.bins[call.hour].connected += 1
        if self.queue:
            nxt = self.queue.popleft()
            self.calls[nxt].waiting = False
            self.waiting -= 1
            self._connect(t, nxt)
        else:
            self.ready += 1
        self._report(t, call, Result.CONNECTED, connected=True)
