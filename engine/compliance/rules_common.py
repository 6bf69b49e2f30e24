"""What every rule shares: the evaluation context, a denial, local-time maths, and
the rules that apply everywhere (opt-out, do-not-call lists, holidays, consent,
inconvenient times).

Local-time maths: wall-clock comparisons in the debtor's zone; instants are built
with `local_instant`, which picks the first valid instant when the wall time falls
in a DST gap and the earliest one when it is ambiguous.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from engine.compliance.model import (
    GLOBAL_LIST,
    CampaignPolicy,
    ContactAttempt,
    DebtorFacts,
    NumberFacts,
    Reason,
)

ONE_DAY = timedelta(days=1)
MIDNIGHT = time(0, 0)
MAX_HOLIDAY_RUN_DAYS = 60


@dataclass(frozen=True, slots=True)
class Denial:
    """One rule's refusal: why, until when (None = never), in words."""

    reason: Reason
    until: datetime | None
    detail: str


@dataclass(frozen=True, slots=True)
class Context:
    """One evaluation: the facts, `now` in UTC, placed attempts up to `now` (oldest
    first; ties keep the order given), and the debtor's primary zone."""

    debtor: DebtorFacts
    number: NumberFacts
    policy: CampaignPolicy
    now: datetime
    history: tuple[ContactAttempt, ...]
    zone: ZoneInfo
    today: tuple[datetime, datetime]  # the local day of `now`: [start, end) in UTC

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.zone)

    def on_number(self) -> Iterable[ContactAttempt]:
        key = self.number.number_key
        return (a for a in self.history if a.number_key == key)

    def is_today(self, instant: datetime) -> bool:
        """Whether `instant` falls on the local day (primary zone) of `now`."""
        return self.today[0] <= instant < self.today[1]


def make_context(debtor: DebtorFacts, number: NumberFacts, policy: CampaignPolicy,
                 history: Iterable[ContactAttempt], now: datetime) -> Context:
    now = now.astimezone(UTC)
    placed = tuple(sorted((a for a in history if a.placed and a.at <= now),
                          key=lambda a: a.at))
    tz = zone(debtor.timezones[0])
    return Context(debtor, number, policy, now, placed, tz, local_day_bounds(now, tz))


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def local_instant(tz: ZoneInfo, day: date, wall: time, *,
                  after: datetime | None = None) -> datetime:
    """The UTC instant of `wall` on `day` in `tz`: the earliest one when ambiguous
    (or the later one if the earliest is not after `after`), the first valid instant
    (the transition) when `wall` falls in a DST gap."""
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(first, tz) == naive:
        if after is not None and first <= after:
            second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
            if second > after and _wall(second, tz) == naive:
                return second
        return first
    low = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)  # before the gap
    lo, hi = 0, int((first - low).total_seconds())          # wall(low + hi s) > naive
    while lo < hi:
        mid = (lo + hi) // 2
        if _wall(low + timedelta(seconds=mid), tz) >= naive:
            hi = mid
        else:
            lo = mid + 1
    return low + timedelta(seconds=lo)


def window_until(now: datetime, tz: ZoneInfo, start: time, end: time) -> datetime | None:
    """None if `now` is inside [start, end) local wall time, else the next start."""
    local = now.astimezone(tz)
    wall = local.time()
    if start <= wall < end:
        return None
    day = local.date() if wall < start else local.date() + ONE_DAY
    return local_instant(tz, day, start, after=now)


def local_day_bounds(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local day containing `now`."""
    day = now.astimezone(tz).date()
    return local_instant(tz, day, MIDNIGHT), local_instant(tz, day + ONE_DAY, MIDNIGHT)


@lru_cache(maxsize=256)
def holiday_dates(region: str, year: int) -> frozenset[date]:
    """Public holidays of `region` (ISO country) in `year`; empty if unknown."""
    try:
        return frozenset(holidays.country_holidays(region, years=year))
    except NotImplementedError:
        return frozenset()


def is_holiday(region: str, day: date) -> bool:
    return day in holiday_dates(region, day.year)


# --- rules that apply everywhere --------------------------------------------------


def common_denials(ctx: Context, *, avoid_holidays: bool) -> list[Denial]:
    found = [
        opt_out(ctx),
        dnc(ctx),
        consent(ctx),
        inconvenient_time(ctx),
        holiday(ctx) if avoid_holidays else None,
    ]
    return [d for d in found if d is not None]


def opt_out(ctx: Context) -> Denial | None:
    if ctx.debtor.opted_out:
        return Denial(Reason.OPT_OUT, None, "the debtor opted out of calls")
    return None


def _listing_until(on_lists: frozenset[str], expiry: Mapping[str, datetime],
                   applying: frozenset[str], now: datetime) -> tuple[str, datetime | None] | None:
    """The strictest active listing among `applying`: (list, expiry or None)."""
    active = [(name, expiry.get(name)) for name in on_lists & applying]
    active = [(name, until) for name, until in active if until is None or now < until]
    if not active:
        return None
    return max(active, key=lambda item: (item[1] is None, item[1] or now))


def dnc(ctx: Context) -> Denial | None:
    return dnc_at(ctx.policy, ctx.number, ctx.debtor, ctx.now)


def dnc_at(policy: CampaignPolicy, number: NumberFacts, debtor: DebtorFacts,
           now: datetime) -> Denial | None:
    """The do-not-call rule at `now` (UTC)."""
    applying = policy.dnc_lists | {GLOBAL_LIST}
    hits = [
        ("number", _listing_until(number.on_lists, number.list_expiry, applying, now)),
        ("debtor", _listing_until(debtor.on_lists, debtor.list_expiry, applying, now)),
    ]
    found = [(who, hit) for who, hit in hits if hit is not None]
    if not found:
        return None
    who, (name, until) = max(found, key=lambda item: (item[1][1] is None, item[1][1] or now))
    return Denial(Reason.DNC, until, f"the {who} is on do-not-call list {name!r}")


def consent(ctx: Context) -> Denial | None:
    if not ctx.policy.requires_consent:
        return None
    until = ctx.debtor.consent_until
    if until is None:
        return Denial(Reason.NO_CONSENT, None, "the campaign requires consent; none recorded")
    if ctx.now >= until:
        return Denial(Reason.NO_CONSENT, None, f"consent expired at {until.isoformat()}")
    return None


def inconvenient_time(ctx: Context) -> Denial | None:
    """Inside a stated inconvenient window: until its end (chained windows followed)."""
    t = ctx.now
    hit = False
    for _ in range(len(ctx.debtor.inconvenient) + 1):
        end = _window_end_at(ctx, t)
        if end is None:
            break
        hit, t = True, end
    if not hit:
        return None
    return Denial(Reason.INCONVENIENT_TIME, t, "the debtor said this time is inconvenient")


def _window_end_at(ctx: Context, instant: datetime) -> datetime | None:
    local = instant.astimezone(ctx.zone)
    wall = local.time()
    ends = [w.end for w in ctx.debtor.inconvenient
            if w.weekday == local.weekday() and w.start <= wall < w.end]
    if not ends:
        return None
    return local_instant(ctx.zone, local.date(), max(ends), after=instant)


def holiday(ctx: Context) -> Denial | None:
    day = ctx.local_now.date()
    region = ctx.debtor.region
    if not is_holiday(region, day):
        return None
    for _ in range(MAX_HOLIDAY_RUN_DAYS):
        day += ONE_DAY
        if not is_holiday(region, day):
            break
    until = local_instant(ctx.zone, day, MIDNIGHT, after=ctx.now)
    return Denial(Reason.HOLIDAY, until, f"public holiday in {region}")
