"""The campaign report's figures (docs/metrics.md) as frozen dataclasses, and the pure
arithmetic on them: the date range in a zone, rates, the rolling 30-day abandon rate.

Counts are kept as counts; every rate is a property (None when its denominator is 0), so
a report can be summed across campaigns and days before any division.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

BUCKET = timedelta(minutes=15)  # the rollups' grain (migration 0009)
SPAN_GAP = timedelta(days=1)
SPAN_MAX = timedelta(days=7)
ROLLING_DAYS = 30
NO_CAMPAIGN = 0  # the rollups' key for attempts made outside any campaign
SETTLED = ("kept", "partly_kept", "broken")
PROMISE_STATUSES = ("open", "kept", "partly_kept", "broken", "cancelled")


class ReportRangeError(ValueError):
    """A range the report cannot answer (the message says why)."""


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True, slots=True)
class ReportRange:
    """Local days [first_day, end_day) in `zone`: from midnight of the first to midnight of
    the end day, which is not included."""

    first_day: date
    end_day: date
    zone: str = "UTC"

    def __post_init__(self) -> None:
        if self.end_day <= self.first_day:
            raise ReportRangeError(f"the range ends ({self.end_day}) on or before it starts "
                                   f"({self.first_day}); the end day is not included")
        try:
            tz = ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ReportRangeError(f"unknown time zone {self.zone!r}") from None
        for day in (self.first_day, self.end_day):
            start = datetime.combine(day, datetime.min.time(), tz).astimezone(UTC)
            if start.second or start.microsecond or start.minute % 15:
                raise ReportRangeError(f"midnight of {day} in {self.zone} is {start:%H:%M:%S} "
                                       "UTC, not on a quarter hour")

    @property
    def start(self) -> datetime:
        return self.midnight(self.first_day)

    @property
    def end(self) -> datetime:
        return self.midnight(self.end_day)

    def midnight(self, day: date) -> datetime:
        """The instant (UTC) the local `day` begins."""
        return datetime.combine(day, datetime.min.time(), ZoneInfo(self.zone)).astimezone(UTC)

    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n)
                for n in range((self.end_day - self.first_day).days)]


@dataclass(frozen=True, slots=True)
class Money:
    currency: str
    amount: Decimal


def money(amounts: Iterable[tuple[str, Decimal]]) -> tuple[Money, ...]:
    """Sums by currency, ordered by currency; a currency summing to nothing is left out."""
    totals: dict[str, Decimal] = {}
    for currency, amount in amounts:
        totals[currency] = totals.get(currency, Decimal(0)) + amount
    return tuple(Money(c, totals[c]) for c in sorted(totals) if totals[c])


@dataclass(frozen=True, slots=True)
class CallCounts:
    attempts: int = 0
    answered: int = 0  # by anyone or anything
    live: int = 0  # answered, not by a machine
    machine: int = 0
    talk_calls: int = 0  # live answers that have ended
    talk_us: int = 0  # their talk time, microseconds
    right_party: int = 0
    promise_calls: int = 0
    abandoned: int = 0
    bot_person: int = 0  # bot calls with a person
    bot_contained: int = 0  # of those, resolved without an agent

    def __add__(self, other: CallCounts) -> CallCounts:
        return CallCounts(*(getattr(self, f.name) + getattr(other, f.name)
                            for f in fields(self)))

    @property
    def connect_rate(self) -> float | None:
        return ratio(self.answered, self.attempts)

    @property
    def live_answer_rate(self) -> float | None:
        return ratio(self.live, self.attempts)

    @property
    def average_talk_s(self) -> float | None:
        return ratio(self.talk_us / 1e6, self.talk_calls)

    @property
    def promise_rate(self) -> float | None:
        return ratio(self.promise_calls, self.right_party)

    @property
    def abandon_rate(self) -> float | None:
        return ratio(self.abandoned, self.live)

    @property
    def bot_containment(self) -> float | None:
        return ratio(self.bot_contained, self.bot_person)


@dataclass(frozen=True, slots=True)
class PromiseCounts:
    by_status: Mapping[str, int] = field(default_factory=dict)  # promise rows per status
    promised: tuple[Money, ...] = ()  # the rows not cancelled

    @property
    def promises(self) -> int:
        return sum(n for s, n in self.by_status.items() if s != "cancelled")

    @property
    def settled(self) -> int:
        return sum(self.by_status.get(s, 0) for s in SETTLED)

    @property
    def kept(self) -> int:
        return self.by_status.get("kept", 0)

    @property
    def kept_rate(self) -> float | None:
        return ratio(self.kept, self.settled)

    def __add__(self, other: PromiseCounts) -> PromiseCounts:
        statuses = set(self.by_status) | set(other.by_status)
        return PromiseCounts(
            {s: self.by_status.get(s, 0) + other.by_status.get(s, 0) for s in sorted(statuses)},
            money([(m.currency, m.amount) for m in (*self.promised, *other.promised)]))


@dataclass(frozen=True, slots=True)
class CampaignFigures:
    campaign_id: int | None  # None: the total row; NO_CAMPAIGN: calls outside campaigns
    name: str
    calls: CallCounts
    promises: PromiseCounts
    recovered: tuple[Money, ...]


@dataclass(frozen=True, slots=True)
class HourFigures:
    hour: int  # of day, in the debtor's zone
    calls: CallCounts


@dataclass(frozen=True, slots=True)
class DayFigures:
    campaign_id: int
    day: date  # in the report's zone
    live: int
    abandoned: int
    live_30d: int  # the 30 days ending with `day`
    abandoned_30d: int

    @property
    def abandon_rate(self) -> float | None:
        return ratio(self.abandoned, self.live)

    @property
    def abandon_rate_30d(self) -> float | None:
        return ratio(self.abandoned_30d, self.live_30d)


@dataclass(frozen=True, slots=True)
class AgentFigures:
    agent_id: str  # "" for all agents together
    logged_in_us: int
    on_call_us: int
    wrap_up_us: int

    @property
    def occupancy(self) -> float | None:
        return ratio(self.on_call_us + self.wrap_up_us, self.logged_in_us)

    @property
    def talk_minutes_per_hour(self) -> float | None:
        return ratio(self.on_call_us / 60e6, self.logged_in_us / 3600e6)


@dataclass(frozen=True, slots=True)
class Report:
    range: ReportRange
    campaign_id: int | None  # the filter; None: every campaign
    generated_at: datetime
    campaigns: tuple[CampaignFigures, ...]
    total: CampaignFigures
    hours: tuple[HourFigures, ...]
    days: tuple[DayFigures, ...]
    agents: tuple[AgentFigures, ...]


def rolling_days(daily: Mapping[tuple[int, date], tuple[int, int]],
                 report_days: list[date]) -> list[DayFigures]:
    """Per campaign and report day (consecutive days): (live, abandoned) that day and over
    the 30 days ending with it. `daily` holds the counts of the days with calls, from 29
    days before the first report day on. A (campaign, day) whose window is empty is left
    out (no rate to give)."""
    if not report_days:
        return []
    first = report_days[0] - timedelta(days=ROLLING_DAYS - 1)
    span = len(report_days) + ROLLING_DAYS - 1
    out: list[DayFigures] = []
    for campaign in sorted({c for c, _ in daily}):
        counts = [daily.get((campaign, first + timedelta(days=n)), (0, 0)) for n in range(span)]
        # prefix[n]: the sums of the first n days, so a window is one subtraction
        prefix = [(0, 0)]
        for live, abandoned in counts:
            prefix.append((prefix[-1][0] + live, prefix[-1][1] + abandoned))
        for n, day in enumerate(report_days):
            live_30d = prefix[n + ROLLING_DAYS][0] - prefix[n][0]
            abandoned_30d = prefix[n + ROLLING_DAYS][1] - prefix[n][1]
            if live_30d or abandoned_30d:
                live, abandoned = counts[n + ROLLING_DAYS - 1]
                out.append(DayFigures(campaign, day, live, abandoned, live_30d, abandoned_30d))
    return out


def spans(keys: Iterable[tuple[int, datetime]]) -> list[tuple[int, datetime, datetime]]:
    """Queued (campaign, quarter hour) keys as ranges [lo, hi) per campaign, each recomputed
    by one statement: keys less than a day apart share a range (the quarter hours between
    are recomputed too, to the same rows) and a range covers at most 7 days, which bounds
    a statement's work (well inside the pool's statement timeout) when the whole history
    is queued."""
    out: list[tuple[int, datetime, datetime]] = []
    for campaign, bucket in sorted(set(keys)):
        if out and out[-1][0] == campaign and bucket - out[-1][2] <= SPAN_GAP \
                and bucket + BUCKET - out[-1][1] <= SPAN_MAX:
            out[-1] = (campaign, out[-1][1], bucket + BUCKET)
        else:
            out.append((campaign, bucket, bucket + BUCKET))
    return out


def agent_time_at(status: str, mark_at: datetime, counts: tuple[int, int, int],
                  at: datetime) -> tuple[int, int, int]:
    """(logged in, on call, wrap-up) µs of an agent up to `at`, from its last state log row
    at or before `at`: the counts up to that row plus the row's own state since."""
    gap = (at - mark_at) // timedelta(microseconds=1)
    return (counts[0] + (gap if status != "offline" else 0),
            counts[1] + (gap if status == "on_call" else 0),
            counts[2] + (gap if status == "wrap_up" else 0))
