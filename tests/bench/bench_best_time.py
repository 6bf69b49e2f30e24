"""`make bench`: best time to call — contacts per dial when the same portfolio is dialled
flat (list order, the baseline) and by the hours learned from its history, same run.

The simulated portfolio (seeded): three segments whose true live-answer probability
depends on the local hour of week — salaried debtors answer on weekday evenings and at
weekends, retired ones in the mornings, shift workers around midday — and whose share of
right-party contacts among live answers varies too (a salaried debtor's phone answered by
someone else in the working day). Debtors live in Shanghai, London and New York, each
reachable 08:00–20:59 local; each has a personal reachability factor around 1.

Phase 1, history: `--history-weeks` of flat dialling (every hour, the lines go to
debtors drawn uniformly among those inside their window); the counts per (segment, local
hour of week) fit a `BestTimeTable` (strengths estimated).
Phase 2, the campaign: every debtor is dialled once (as the runner does: one attempt per
target), at most `--lines` dials per UTC hour in every arm, until the list is done:
- flat, list order: the first debtors in list order inside their window (baseline);
- learned: deferral, list order: debtors `plan_call` defers (a clearly better hour
  within the horizon) are not dialled; the rest in list order. What wiring `plan_call`
  into the gate's deferral alone gives: the lease keeps its order;
- learned: soft defer, list order: debtors not deferred first, in list order; deferred
  ones fill lines that would otherwise idle. What the daemon does (engine/campaign.py:
  a deferral only while other ready debtors can take the line; the lease keeps its
  priority order);
- learned: best now first: each hour the lines go first to the debtors not deferred,
  those whose segment answers best now first; deferred debtors fill lines that would
  otherwise idle (an idle line is lost capacity). The issue's "ordered by learned hours";
- learned: best now, strict defer: the same, deferred debtors never fill idle lines;
- true profiles: best now first, with the true segment profiles instead of the learned
  ones: what perfect knowledge of the segments would give this policy (a reference, not
  a bound: per-debtor reachability is unknown to both).
Each debtor's outcome at a given hour is the same draw in every arm.

`python -m tests.bench best_time` or `python -m tests.bench.bench_best_time [--debtors N]
[--lines L] [--history-weeks W] [--seed S]`.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from predictive.best_time import (
    HOURS_PER_WEEK,
    BestTimeTable,
    Counts,
    DeferRule,
    HourCounts,
    Shrinkage,
    every_day,
    fit_best_time,
    local_hour_of_week,
    plan_call,
)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

SEGMENTS = ("salaried", "retired", "shift")
SEGMENT_SHARES = (0.5, 0.3, 0.2)
ZONES = ("Asia/Shanghai", "Europe/London", "America/New_York")
ZONE_SHARES = (0.7, 0.15, 0.15)
FIRST_HOUR, END_HOUR = 8, 21  # the calling window, local
WINDOW = every_day(FIRST_HOUR, END_HOUR)
HISTORY_START = datetime(2024, 5, 6, tzinfo=UTC)  # a Monday; no DST change until October
CAMPAIGN_START = datetime(2024, 6, 3, tzinfo=UTC)
MAX_CAMPAIGN_HOURS = 4 * HOURS_PER_WEEK


def true_profiles() -> tuple[Floats, Floats]:
    """P(live answer) and P(right party | live) per segment and local hour of week."""
    answer = np.full((len(SEGMENTS), HOURS_PER_WEEK), 0.05)
    right = np.zeros((len(SEGMENTS), HOURS_PER_WEEK))
    for day in range(7):
        weekend = day >= 5
        for hour in range(FIRST_HOUR, END_HOUR):
            how = day * 24 + hour
            if weekend:
                salaried = 0.34 if hour >= 10 else 0.18
            else:
                salaried = 0.40 if hour >= 18 else 0.20 if hour == 12 else 0.11
            retired = 0.42 if hour < 12 else 0.28 if hour < 17 else 0.16
            shift = 0.34 if 12 <= hour < 16 else 0.12 if hour < 10 else 0.20
            answer[:, how] = (salaried, retired * (0.85 if weekend else 1.0), shift)
            at_work = not weekend and hour < 18
            right[:, how] = (0.6 if at_work else 0.88, 0.9, 0.8)
    return answer, right


@dataclass(frozen=True, slots=True)
class Portfolio:
    segment: Ints
    zone: Ints
    reach: Floats  # personal factor on the segment's answer probability
    answer: Floats  # segment × hour of week
    right: Floats

    @classmethod
    def draw(cls, debtors: int, rng: np.random.Generator) -> Portfolio:
        answer, right = true_profiles()
        return cls(rng.choice(len(SEGMENTS), debtors, p=SEGMENT_SHARES),
                   rng.choice(len(ZONES), debtors, p=ZONE_SHARES),
                   rng.gamma(4.0, 0.25, debtors), answer, right)

    def dial(self, who: Ints, how: Ints, u_live: Floats, u_right: Floats) -> tuple[Bools, Bools]:
        p = np.minimum(self.answer[self.segment[who], how] * self.reach[who], 0.95)
        live = u_live < p
        return live, live & (u_right < self.right[self.segment[who], how])


class Clock:
    """Per UTC hour from a start: each zone's local hour of week (and if it is open)."""

    def __init__(self, start: datetime, hours: int) -> None:
        self.start = start
        zones = [ZoneInfo(z) for z in ZONES]
        self.how = np.array([[local_hour_of_week(start + timedelta(hours=t), z) for z in zones]
                             for t in range(hours)], dtype=np.int64)
        self.open = np.isin(self.how, list(WINDOW))

    def at(self, t: int) -> datetime:
        return self.start + timedelta(hours=t)


def learn(portfolio: Portfolio, weeks: int, lines: int,
          rng: np.random.Generator) -> tuple[BestTimeTable, int]:
    """Flat history: each hour `lines` debtors drawn among those inside their window."""
    clock = Clock(HISTORY_START, weeks * HOURS_PER_WEEK)
    shape = (len(SEGMENTS), HOURS_PER_WEEK)
    attempts, live, right = (np.zeros(shape, np.int64) for _ in range(3))
    for t in range(len(clock.how)):
        eligible = np.flatnonzero(clock.open[t][portfolio.zone])
        who = rng.choice(eligible, min(lines, len(eligible)), replace=False)
        how = clock.how[t][portfolio.zone[who]]
        got_live, got_right = portfolio.dial(who, how, rng.random(len(who)),
                                             rng.random(len(who)))
        seg = portfolio.segment[who]
        np.add.at(attempts, (seg, how), 1)
        np.add.at(live, (seg, how), got_live)
        np.add.at(right, (seg, how), got_right)
    counts: Counts = {(SEGMENTS[s], h): HourCounts(int(attempts[s, h]), int(live[s, h]),
                                           int(right[s, h]))
              for s in range(len(SEGMENTS)) for h in range(HOURS_PER_WEEK) if attempts[s, h]}
    return fit_best_time(counts), int(attempts.sum())


def truth_table(portfolio: Portfolio) -> BestTimeTable:
    n = 1_000_000
    counts: Counts = {(SEGMENTS[s], h): HourCounts(n, round(n * portfolio.answer[s, h]),
                                           round(n * portfolio.answer[s, h]
                                                 * portfolio.right[s, h]))
              for s in range(len(SEGMENTS)) for h in WINDOW}
    return fit_best_time(counts, Shrinkage(segment_strength=0.0, hour_strength=0.0))


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    dials: int
    live: int
    right: int
    hours: int  # UTC hours until the list was done
    idle: int  # line-hours left unused while debtors were still waiting


class Plans:
    """`plan_call` per (segment, zone) each hour: the same for every debtor of a group."""

    def __init__(self, table: BestTimeTable, clock: Clock, rule: DeferRule) -> None:
        self._table, self._clock, self._rule = table, clock, rule
        self._cache: dict[int, tuple[Bools, Floats]] = {}

    def at(self, t: int) -> tuple[Bools, Floats]:
        """(dial now, rate now), each segment × zone."""
        if t not in self._cache:
            now = self._clock.at(t)
            plans = [[plan_call(self._table, s, ZoneInfo(z), now, WINDOW, self._rule)
                      for z in ZONES] for s in SEGMENTS]
            self._cache[t] = (np.array([[p.dial_now for p in row] for row in plans]),
                              np.array([[p.rate_now for p in row] for row in plans]))
        return self._cache[t]


def campaign(name: str, portfolio: Portfolio, clock: Clock, lines: int, draws: Floats,
             plans: Plans | None, *, rank: bool = True, strict: bool = False) -> Result:
    """Dial every debtor once, `lines` per hour, in list order among those inside their
    window (`plans` None: flat). With plans: `strict` leaves deferred debtors out, else
    they only come after the others; `rank` puts those whose segment answers best now
    first (else list order)."""
    waiting = np.ones(len(portfolio.segment), dtype=bool)
    dials = live = right = idle = 0
    t = 0
    while waiting.any() and t < len(clock.how):
        candidates = np.flatnonzero(waiting & clock.open[t][portfolio.zone])
        if plans is not None and len(candidates):
            dial_now, rate = plans.at(t)
            group = (portfolio.segment[candidates], portfolio.zone[candidates])
            if strict:
                candidates = candidates[dial_now[group]]
                group = (portfolio.segment[candidates], portfolio.zone[candidates])
            # not deferred first, then by rate now (if ranking), then list order
            rate_key = -rate[group] if rank else np.zeros(len(candidates))
            candidates = candidates[np.lexsort((candidates, rate_key, ~dial_now[group]))]
        who = candidates[:lines]
        idle += lines - len(who)
        how = clock.how[t][portfolio.zone[who]]
        got_live, got_right = portfolio.dial(who, how, draws[0, who], draws[1, who])
        waiting[who] = False
        dials += len(who)
        live += int(got_live.sum())
        right += int(got_right.sum())
        t += 1
    return Result(name, dials, live, right, t, idle)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_best_time", description=__doc__)
    parser.add_argument("--debtors", type=int, default=20_000)
    parser.add_argument("--lines", type=int, default=150, help="dials per UTC hour")
    parser.add_argument("--history-weeks", type=int, default=4)
    parser.add_argument("--horizon-days", type=float, default=1.0,
                        help="how far ahead plan_call may defer (the daemon: 24 h)")
    parser.add_argument("--seed", type=int, default=20240603)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    portfolio = Portfolio.draw(args.debtors, rng)
    table, history = learn(portfolio, args.history_weeks, args.lines, rng)
    draws = rng.random((2, args.debtors))
    clock = Clock(CAMPAIGN_START, MAX_CAMPAIGN_HOURS)
    rule = DeferRule(horizon=timedelta(days=args.horizon_days))
    learned, truth = Plans(table, clock, rule), Plans(truth_table(portfolio), clock, rule)
    results = [
        campaign("flat, list order (baseline)", portfolio, clock, args.lines, draws, None),
        campaign("learned: deferral, list order", portfolio, clock, args.lines, draws,
                 learned, rank=False, strict=True),
        campaign("learned: soft defer, list order", portfolio, clock, args.lines, draws,
                 learned, rank=False),
        campaign("learned: best now first", portfolio, clock, args.lines, draws, learned),
        campaign("learned: best now, strict defer", portfolio, clock, args.lines, draws,
                 learned, strict=True),
        campaign("true profiles: best now first", portfolio, clock, args.lines, draws, truth),
    ]
    error = np.mean([abs(table.rates(SEGMENTS[s], h).answer - portfolio.answer[s, h])
                     for s in range(len(SEGMENTS)) for h in WINDOW])
    print(f"best time to call: {args.debtors:,} debtors ({len(SEGMENTS)} segments, "
          f"{len(ZONES)} zones), {args.lines} dials per hour, seed {args.seed}; deferral "
          f"horizon {args.horizon_days:g} days, margin {rule.margin:.0%}, top quantile "
          f"{rule.top_quantile:g}")
    print(f"history: {args.history_weeks} weeks flat, {history:,} dials; table strengths "
          f"per hour {table.hour_strength.answer:.0f} (answer) / "
          f"{table.hour_strength.right_party:.0f} (right party); mean |error| of the "
          f"hourly answer rates {error:.3f}")
    base = results[0]
    print(f"{'campaign: every debtor once':34} {'dials':>7} {'live/dial':>10} {'RPC/dial':>9} "
          f"{'× flat':>7} {'RPC ×':>6} {'hours':>6} {'idle':>6}")
    for r in results:
        live, rpc = r.live / r.dials, r.right / r.dials
        print(f"{r.name:34} {r.dials:7,} {live:10.4f} {rpc:9.4f} "
              f"{live / (base.live / base.dials):6.2f}× {rpc / (base.right / base.dials):5.2f}× "
              f"{r.hours:6} {r.idle:6,}")
    print(f"hours: until every debtor was dialled once; idle: line-hours unused meanwhile "
          f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
