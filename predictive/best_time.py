"""Best time to call: answer and right-party-contact rates by hour of week, per segment.

Pure: counts in (`db/best_time.py` reads them), decisions out.

- Hours of week are the debtor's wall clock: `weekday * 24 + hour`, Monday 0, 0..167.
  That is the hour the debtor experiences, and what "call at another hour" changes.
- `fit_best_time` turns counts per (segment, hour of week) into a `BestTimeTable` of
  shrunk rates, on two levels of empirical-Bayes beta-binomial shrinkage:
  segment mean = (hits_s + k_seg·campaign mean) / (attempts_s + k_seg), and
  hour rate = (hits_sh + k_hour·segment mean) / (attempts_sh + k_hour).
  A segment never seen falls back to the campaign mean, an hour never dialled to its
  segment's mean. Each k (one per level, shared by the segments; for answers and
  right-party contacts apart) is fixed in `Shrinkage` or, by default, estimated by the
  method of moments (`estimate_strength`).
- `plan_call`: the scheduler's question for a debtor the gate allows now — dial now, or
  defer to a clearly better hour that is allowed and within the horizon (`DeferRule`).
- `answer_prior`: the starting answer rate for the pacing estimators
  (`predictive.estimators.AnswerRate.prior_mean` / `prior_weight`) for a mix of debtors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

HOURS_PER_WEEK = 168
ONE_HOUR = timedelta(hours=1)

HourOfWeek = int  # weekday * 24 + hour in the debtor's zone; Monday 0..23, Sunday 144..167
Segment = str | None  # None: debtors not segmented yet, a segment of their own
# Any segment key type (str, or str | None): Mapping keys are invariant, so a dict keyed by
# plain str would not pass where Mapping[tuple[Segment, ...], ...] is asked for.
SegmentKey = TypeVar("SegmentKey", bound=str | None)
# Whether a local hour may be used; called with the hour's start in the debtor's zone.
AllowedHour = Callable[[datetime], bool]


def hour_of_week(local: datetime) -> HourOfWeek:
    """The hour of week of a wall-clock time (aware in the debtor's zone, or naive local)."""
    return local.weekday() * 24 + local.hour


def local_hour_of_week(instant: datetime, zone: ZoneInfo) -> HourOfWeek:
    """The hour of week at `instant` (aware) on a wall clock in `zone`."""
    return hour_of_week(_aware(instant).astimezone(zone))


def within(hours: Collection[HourOfWeek]) -> AllowedHour:
    """An `AllowedHour` from a set of hours of week."""
    allowed = frozenset(hours)
    return lambda local: hour_of_week(local) in allowed


def every_day(first_hour: int, end_hour: int) -> frozenset[HourOfWeek]:
    """The hours of week from `first_hour` to before `end_hour` on every day (8, 21:
    08:00–20:59)."""
    return frozenset(day * 24 + h for day in range(7) for h in range(first_hour, end_hour))


class Goal(StrEnum):
    """What a dial is for: a live answer, or a right-party contact (the debtor confirmed)."""

    ANSWER = "answer"
    RIGHT_PARTY = "right_party"


@dataclass(frozen=True, slots=True)
class HourCounts:
    """Finished dials in one cell: attempts, live answers (answered, not a machine), and
    right-party contacts (live answers with the debtor confirmed)."""

    attempts: int
    live: int
    right_party: int

    def __post_init__(self) -> None:
        if not 0 <= self.right_party <= self.live <= self.attempts:
            raise ValueError(f"need 0 <= right_party <= live <= attempts, got {self}")

    def __add__(self, other: HourCounts) -> HourCounts:
        return HourCounts(self.attempts + other.attempts, self.live + other.live,
                          self.right_party + other.right_party)

    def hits(self, goal: Goal) -> int:
        return self.live if goal is Goal.ANSWER else self.right_party


NO_COUNTS = HourCounts(0, 0, 0)
Counts = Mapping[tuple[Segment, HourOfWeek], HourCounts]


@dataclass(frozen=True, slots=True)
class PerGoal:
    """One value for each goal: live answers and right-party contacts."""

    answer: float
    right_party: float

    def of(self, goal: Goal) -> float:
        return self.answer if goal is Goal.ANSWER else self.right_party


Rates = PerGoal  # expected live answers and right-party contacts per attempt
Strengths = PerGoal  # the prior strength of each, in pseudo-attempts
NO_STRENGTH = Strengths(0.0, 0.0)  # frozen: safe as a shared default


@dataclass(frozen=True, slots=True)
class Shrinkage:
    """Prior strengths (in pseudo-attempts at the mean one level up).

    `segment_strength`, `hour_strength`: fixed values, or None to estimate each by the
    method of moments from the spread between cells with at least `min_cell_attempts`
    attempts, clamped to [`min_strength`, `max_strength`]: the floor keeps a thin cell
    from being trusted as if the spread were huge, the ceiling is "no spread seen"."""

    segment_strength: float | None = None
    hour_strength: float | None = None
    min_strength: float = 10.0
    max_strength: float = 5_000.0
    min_cell_attempts: int = 30


@dataclass(frozen=True, slots=True)
class SegmentProfile:
    """One segment's shrunk mean and its 168 shrunk hourly rates."""

    mean: Rates
    attempts: int
    answer: tuple[float, ...]
    right_party: tuple[float, ...]

    def at(self, how: HourOfWeek) -> Rates:
        return Rates(self.answer[how], self.right_party[how])


@dataclass(frozen=True, slots=True)
class BestTimeTable:
    """Shrunk rates per segment and hour of week; see the module docstring."""

    campaign: Rates
    attempts: int
    segments: Mapping[Segment, SegmentProfile] = field(default_factory=dict)
    segment_strength: Strengths = NO_STRENGTH
    hour_strength: Strengths = NO_STRENGTH

    def rates(self, segment: Segment, how: HourOfWeek) -> Rates:
        """The rates of `segment` at `how`: an unknown segment has the campaign mean."""
        profile = self.segments.get(segment)
        return self.campaign if profile is None else profile.at(how % HOURS_PER_WEEK)

    def score(self, segment: Segment, local: datetime) -> Rates:
        """The rates at the wall-clock time `local` (see `hour_of_week`)."""
        return self.rates(segment, hour_of_week(local))

    def mean(self, segment: Segment) -> Rates:
        """The segment's (shrunk) mean over all hours; the campaign's if never seen."""
        profile = self.segments.get(segment)
        return self.campaign if profile is None else profile.mean

    def best_hours(self, segment: Segment, allowed_hours: Iterable[HourOfWeek], n: int,
                   goal: Goal = Goal.ANSWER) -> list[HourOfWeek]:
        """The `n` allowed hours of week with the highest rate, best first (ties: earlier)."""
        ranked = sorted(set(allowed_hours), key=lambda h: (-self.rates(segment, h).of(goal), h))
        return ranked[:n]


def fit_best_time(counts: Mapping[tuple[SegmentKey, HourOfWeek], HourCounts],
                  shrinkage: Shrinkage = Shrinkage()) -> BestTimeTable:
    """The table from counts per (segment, hour of week); see the module docstring."""
    for _, how in counts:
        if not 0 <= how < HOURS_PER_WEEK:
            raise ValueError(f"hour of week {how} outside 0..{HOURS_PER_WEEK - 1}")
    by_segment: dict[Segment, list[HourCounts]] = {}
    for (segment, how), cell in counts.items():
        by_segment.setdefault(segment, [NO_COUNTS] * HOURS_PER_WEEK)[how] += cell
    totals = {s: sum(cells, NO_COUNTS) for s, cells in by_segment.items()}
    everything = sum(totals.values(), NO_COUNTS)
    n = everything.attempts
    campaign = Rates(everything.live / n if n else 0.0, everything.right_party / n if n else 0.0)

    def strength(fixed: float | None, cells: list[tuple[HourCounts, float]], goal: Goal) -> float:
        if fixed is not None:
            return fixed
        return estimate_strength(((c.hits(goal), c.attempts, m) for c, m in cells), shrinkage)

    seg_k = Strengths(*(strength(shrinkage.segment_strength,
                                 [(t, campaign.of(g)) for t in totals.values()], g)
                        for g in Goal))
    means = {s: Rates(*(_shrunk(t.hits(g), t.attempts, campaign.of(g), seg_k.of(g))
                        for g in Goal)) for s, t in totals.items()}
    hour_k = Strengths(*(strength(shrinkage.hour_strength,
                                  [(c, means[s].of(g)) for s, cells in by_segment.items()
                                   for c in cells], g)
                         for g in Goal))
    profiles = {s: SegmentProfile(
        mean=means[s], attempts=totals[s].attempts,
        answer=tuple(_shrunk(c.live, c.attempts, means[s].answer, hour_k.answer)
                     for c in cells),
        right_party=tuple(_shrunk(c.right_party, c.attempts, means[s].right_party,
                                  hour_k.right_party) for c in cells))
        for s, cells in by_segment.items()}
    return BestTimeTable(campaign, n, profiles, seg_k, hour_k)


def estimate_strength(cells: Iterable[tuple[int, int, float]], shrinkage: Shrinkage) -> float:
    """Method-of-moments prior strength k from cells (hits, attempts, prior mean m).

    If a cell's true rate is Beta(k·m, k·(1 − m)), its raw rate r = hits/n has
    E[(r − m)²] = m(1 − m)·(v + (1 − v)/n) with v = 1/(k + 1), so
    ((r − m)²/(m(1 − m)) − 1/n) / (1 − 1/n) is an unbiased estimate of v per cell. The
    average over cells (those with at least `min_cell_attempts`) gives k = 1/v − 1. The
    means m come from the same data, which biases v slightly low (k high: a little more
    shrinkage) when there are few cells. No spread beyond noise: `max_strength`."""
    estimates = []
    for hits, n, m in cells:
        if n < max(shrinkage.min_cell_attempts, 2) or not 0.0 < m < 1.0:
            continue
        z = (hits / n - m) ** 2 / (m * (1.0 - m))
        estimates.append((z - 1.0 / n) / (1.0 - 1.0 / n))
    if len(estimates) < 2:
        return shrinkage.max_strength
    v = sum(estimates) / len(estimates)
    if v <= 0.0:
        return shrinkage.max_strength
    return min(max(1.0 / v - 1.0, shrinkage.min_strength), shrinkage.max_strength)


def _shrunk(hits: int, attempts: int, prior_mean: float, k: float) -> float:
    return (hits + k * prior_mean) / (attempts + k) if attempts + k > 0 else prior_mean


# --- the scheduler's question --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeferRule:
    """When a debtor the gate allows now is held back for a better hour.

    Defer only if both hold, else dial now:
    - the current hour's rate is below the `top_quantile` of the rates of the hours the
      debtor can be called in (now and the allowed hours ahead within the horizon). In the
      top fifth already: dial. One better hour may exist, but sending every debtor to it
      queues them at its lines while the good hours of today go unused; so a lone peak
      (a single great hour in the week) moves nobody, a good stretch (the evenings) does;
    - some allowed hour ahead has a rate above `(1 + margin)` × the current one. The
      margin covers estimation noise and the cost of waiting (a later contact, a window
      or a cap that may close, a promise made later).
    The target is the earliest hour ahead within `near_best` (relative) of the best one
    ahead: nearly as good, and sooner.
    `horizon`: how far ahead to look. A day by default (every hour of the day is in
    reach, no debtor waits a week); a campaign with a weekly rhythm may give 7 days.
    Deferral is a preference, not a rule: when lines would otherwise idle, the scheduler
    should dial deferred debtors too (capacity unused now is lost).
"""

    margin: float = 0.2
    top_quantile: float = 0.8
    near_best: float = 0.05
    horizon: timedelta = timedelta(days=1)

    def __post_init__(self) -> None:
        if self.margin < 0 or not 0 <= self.top_quantile <= 1 or not 0 <= self.near_best < 1:
            raise ValueError(f"need margin >= 0, top_quantile in [0, 1], near_best in [0, 1):"
                             f" {self}")


@dataclass(frozen=True, slots=True)
class CallPlan:
    """Dial now, or defer until `until` (UTC, the start of the better local hour)."""

    dial_now: bool
    until: datetime | None
    rate_now: float
    best_ahead: float  # best rate among the allowed hours ahead (rate_now if none)
    top_rate: float  # the rate at the rule's top quantile of the candidate hours
    goal: Goal = Goal.ANSWER

    def as_record(self) -> dict[str, Any]:
        """For `campaign_targets.last_decision` (what `huilong explain` shows)."""
        return {"best_time": "dial_now" if self.dial_now else "defer",
                "until": None if self.until is None else self.until.isoformat(),
                "goal": str(self.goal), "rate_now": round(self.rate_now, 4),
                "best_ahead": round(self.best_ahead, 4), "top_rate": round(self.top_rate, 4)}


def plan_call(table: BestTimeTable, segment: Segment, zone: ZoneInfo, now: datetime,
              allowed: AllowedHour | Collection[HourOfWeek], rule: DeferRule = DeferRule(),
              goal: Goal = Goal.ANSWER) -> CallPlan:
    """Dial now or defer (see `DeferRule`). The current hour is taken as callable (the
    compliance gate has just allowed it); `allowed` says which later local hours may be
    used: a set of hours of week, or a predicate on each hour's local start."""
    is_allowed = allowed if callable(allowed) else within(allowed)
    rate_now = table.rates(segment, local_hour_of_week(now, zone)).of(goal)
    ahead = [(start, table.rates(segment, hour_of_week(start.astimezone(zone))).of(goal))
             for start in hours_ahead(now, zone, rule.horizon)
             if is_allowed(start.astimezone(zone))]
    if not ahead:
        return CallPlan(True, None, rate_now, rate_now, rate_now, goal)
    best = max(rate for _, rate in ahead)
    top = quantile([rate_now, *(rate for _, rate in ahead)], rule.top_quantile)
    if rate_now >= top or best <= rate_now * (1.0 + rule.margin):
        return CallPlan(True, None, rate_now, best, top, goal)
    until = next(start for start, rate in ahead
                 if rate >= best * (1.0 - rule.near_best) and rate > rate_now * (1 + rule.margin))
    return CallPlan(False, until, rate_now, best, top, goal)


def hours_ahead(now: datetime, zone: ZoneInfo, horizon: timedelta) -> list[datetime]:
    """The starts (UTC) of the local hours after the current one that begin before
    `now + horizon`. Stepping in UTC from the current local hour's start keeps to local
    hour boundaries across DST changes (a skipped hour never appears, a repeated one
    appears twice)."""
    now = _aware(now).astimezone(UTC)
    local = now.astimezone(zone)
    start = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    end = now + horizon
    starts = []
    step = start + ONE_HOUR
    while step < end:
        starts.append(step)
        step += ONE_HOUR
    return starts


def quantile(values: list[float], q: float) -> float:
    """The `q` quantile with linear interpolation between order statistics (numpy's
    default), for a handful of values."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- where the pacing estimators start ------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnswerPrior:
    """`AnswerRate(prior_mean=mean, prior_weight=weight)`: weight in pseudo-dials."""

    mean: float
    weight: float


def initial_answer_rate(table: BestTimeTable, mix: Mapping[tuple[SegmentKey, str], float],
                        at: datetime, goal: Goal = Goal.ANSWER) -> float:
    """The expected rate of a dial at `at` (aware) for a campaign whose debtors are
    `mix`: (segment, zone name) → weight (e.g. pending targets). Empty mix: the campaign
    mean."""
    total = sum(w for w in mix.values() if w > 0)
    if total <= 0:
        return table.campaign.of(goal)
    return sum(w * table.rates(segment, local_hour_of_week(at, ZoneInfo(zone))).of(goal)
               for (segment, zone), w in mix.items() if w > 0) / total


def answer_prior(table: BestTimeTable, mix: Mapping[tuple[SegmentKey, str], float],
                 at: datetime, max_weight: float = 100.0) -> AnswerPrior | None:
    """The pacing estimators' starting answer rate, or None without history. The weight
    is capped (default 100 pseudo-dials): today's list is not last quarter's, so the
    campaign's own first hundred or so dials should be able to overrule it."""
    if table.attempts == 0:
        return None
    return AnswerPrior(initial_answer_rate(table, mix, at, Goal.ANSWER),
                       min(max_weight, float(table.attempts)))


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"need an aware datetime, got {instant!r}")
    return instant
