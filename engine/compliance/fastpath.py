"""The gate's fast path: the same rules as `rules_*`, over a per-call index.

The reference evaluation (gate.evaluate / gate.settle) rebuilds a context and rescans
the whole history for every rule at every instant it looks at. Here the history is
sorted once per call and each rule gets a sorted list of the times it counts —
unanswered attempts on the number, effective conversations, calls about the debt,
abandoned and machine-answered calls, ... — so each rule at an instant `t` is a
couple of bisections ("attempts placed at or before t within this window").

A call only evaluates instants >= its `horizon` (`now`; settle moves strictly later),
so each list keeps just the history its rule can still see from then on: the local
days from yesterday's (daily caps, machine), the rolling window (7-in-7), the quiet
period (abandoned calls); only the rules that look back without bound (conversation
ends, third-party reachability) take the whole history. For an allow, the attempt
it assumes is inserted in place, and the first settle step re-checks only the rules
that such an attempt can change. The local-time maths is memoised (day bounds per zone
and date, the fold / gap analysis of a wall time per zone, day and time).

It answers exactly what the reference answers — the same denials, in the same order,
with the same untils and details — which tests/unit/test_compliance_fastpath.py checks
against the reference on random histories. Ties are kept as the reference keeps them
(stable sort by time; `max` keeps the first maximum). One input shape is left to the
reference: attempt times whose tzinfo is not a fixed offset (aware datetimes in the
same ZoneInfo zone compare by wall clock, not as instants, so the reference's order is
not the instant order); `build` then returns None.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort_right
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from operator import attrgetter
from zoneinfo import ZoneInfo

from engine.compliance.model import (
    GLOBAL_LIST,
    CampaignPolicy,
    ContactAttempt,
    DebtorFacts,
    NumberFacts,
    Reason,
)
from engine.compliance.packs import Packs
from engine.compliance.rules_common import (
    MAX_HOLIDAY_RUN_DAYS,
    MIDNIGHT,
    ONE_DAY,
    Denial,
    dnc_at,
    is_holiday,
    local_instant,
    zone,
)
from engine.compliance.rules_us import MAX_WINDOW_SEARCH_STEPS

_AT = attrgetter("at")
_PLACED = attrgetter("placed")
_RIGHT_PARTY = attrgetter("right_party")
_TZINFO = attrgetter("tzinfo")


# --- memoised local-time maths (same answers as rules_common) ----------------------


@lru_cache(maxsize=8192)
def _instant_parts(tz: ZoneInfo, day: date, wall: time) -> tuple[datetime, datetime | None, bool]:
    """What `local_instant(tz, day, wall, after=...)` needs, independent of `after`:
    (earliest instant, the later one when ambiguous or None, whether `wall` exists)."""
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) != naive:  # in a gap
        return local_instant(tz, day, wall), None, False
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if second.astimezone(tz).replace(tzinfo=None) != naive:
        return first, None, True
    return first, second, True


def fast_local_instant(tz: ZoneInfo, day: date, wall: time, after: datetime | None) -> datetime:
    """`rules_common.local_instant`, memoised."""
    first, second, exists = _instant_parts(tz, day, wall)
    if (exists and after is not None and first <= after and second is not None
            and second > after):
        return second
    return first


@lru_cache(maxsize=8192)
def _day_bounds(tz: ZoneInfo, day: date) -> tuple[datetime, datetime]:
    return local_instant(tz, day, MIDNIGHT), local_instant(tz, day + ONE_DAY, MIDNIGHT)


def fast_window_until(now: datetime, tz: ZoneInfo, start: time, end: time,
                      local: datetime | None = None) -> datetime | None:
    """`rules_common.window_until`, memoised; `local` = `now` in `tz` if known."""
    if local is None:
        local = now.astimezone(tz)
    wall = local.time()
    if start <= wall < end:
        return None
    day = local.date() if wall < start else local.date() + ONE_DAY
    return fast_local_instant(tz, day, start, now)


@lru_cache(maxsize=4096)
def _holiday_run_end(region: str, day: date) -> date | None:
    """The first day after the run of public holidays containing `day`; None if
    `day` is not one (as `rules_common.holiday` walks it)."""
    if not is_holiday(region, day):
        return None
    for _ in range(MAX_HOLIDAY_RUN_DAYS):
        day += ONE_DAY
        if not is_holiday(region, day):
            break
    return day


# --- the per-call index -------------------------------------------------------------


class FastGate:
    """One decision's view of the history; `denials(t)` = gate.evaluate(..., t)."""

    __slots__ = (
        "_ab_times", "_avoid_holidays", "_blocked", "_cn", "_cn_third",
        "_debt_rpc_maxend", "_debt_rpc_times", "_debt_times", "_debtor", "_dnc", "_eff",
        "_machine", "_number", "_own_rpc", "_own_times", "_packs", "_policy", "_refused",
        "_rpc_times", "_uk", "_unanswered", "_us", "_zone",
    )

    def __init__(self, debtor: DebtorFacts, number: NumberFacts, policy: CampaignPolicy,
                 packs: Packs) -> None:
        self._debtor = debtor
        self._number = number
        self._policy = policy
        self._packs = packs
        names = policy.packs
        self._us = "US" in names
        self._cn = "CN" in names
        self._uk = "UK" in names and policy.automated
        self._cn_third = self._cn and number.third_party
        self._zone = zone(debtor.timezones[0])
        self._avoid_holidays = (("US" in names and packs.us.avoid_holidays)
                                or ("CN" in names and packs.cn.avoid_holidays)
                                or ("UK" in names and packs.uk.avoid_holidays))
        applying = policy.dnc_lists | {GLOBAL_LIST}
        self._dnc = bool(number.on_lists & applying or debtor.on_lists & applying)
        self._blocked: Denial | None = None
        if debtor.attorney:
            self._blocked = Denial(Reason.US_ATTORNEY, None,
                                   "the debtor is represented by an attorney")
        elif debtor.cease:
            self._blocked = Denial(Reason.US_CEASE, None,
                                   "the debtor asked to cease communication")
        elif debtor.opted_out:
            self._blocked = Denial(Reason.US_OPT_OUT, None, "the debtor opted out of calls")
        # Per rule, the times (as given: detail lines print them) of the attempts it
        # counts, in the reference's order (stable sort by time).
        self._unanswered: list[datetime] = []
        self._eff: list[datetime] = []
        self._refused: list[datetime] = []
        self._rpc_times: list[datetime] = []
        self._own_times: list[datetime] = []
        self._own_rpc: list[bool] = []
        self._debt_times: list[datetime] = []
        self._debt_rpc_times: list[datetime] = []
        self._debt_rpc_maxend: list[datetime] = []
        self._ab_times: list[datetime] = []
        self._machine: list[datetime] = []

    @classmethod
    def build(cls, debtor: DebtorFacts, number: NumberFacts, policy: CampaignPolicy,
              history: Sequence[ContactAttempt], packs: Packs,
              horizon: datetime) -> FastGate | None:
        """Index `history` for deciding on `number` at instants >= `horizon` only
        (each rule keeps just the attempts it can need from then on); None if an
        attempt's time is not in a fixed-offset zone (see the module docstring)."""
        placed = sorted(filter(_PLACED, history), key=_AT)
        ats = [a.at for a in placed]
        if ats:
            for tz in set(map(_TZINFO, ats)):
                if type(tz) is not timezone:
                    return None
        gate = cls(debtor, number, policy, packs)
        start = horizon.astimezone(UTC)
        key = number.number_key
        cn = gate._cn
        machine_rule = gate._uk and packs.uk.machine_same_day
        if cn or machine_rule:  # rules of the local day: from the start of today on (from
            # yesterday's: a transition at midnight could step the local date back)
            day = start.astimezone(gate._zone).date() - ONE_DAY
            day_start = _day_bounds(gate._zone, day)[0]
            today = placed[bisect_left(ats, day_start):]
            if cn:
                effective_s = packs.cn.effective_conversation_s
                gate._unanswered = [a.at for a in today
                                    if a.number_key == key and not a.answered]
                gate._eff = [a.at for a in today if a.answered and a.right_party
                             and a.conversation_s >= effective_s]
            if machine_rule:
                gate._machine = [a.at for a in today if a.number_key == key and a.machine]
        if gate._uk:  # only an abandon within the quiet period can deny from `start` on
            quiet = timedelta(hours=packs.uk.abandon_quiet_hours)
            recent = placed[bisect_right(ats, start - quiet):]
            gate._ab_times = [a.at for a in recent if a.number_key == key and a.abandoned]
        if gate._us:
            ref = policy.debt_ref
            window = timedelta(days=packs.us.rolling_window_days)
            recent = placed[bisect_right(ats, start - window):]
            gate._debt_times = [a.at for a in recent if ref is None or a.debt_ref == ref]
            # a conversation's end may be any time after its start: every one counts
            maxend = gate._debt_rpc_maxend
            for a in filter(_RIGHT_PARTY, placed):
                if a.answered and (ref is None or a.debt_ref == ref):
                    end = a.at + timedelta(seconds=a.conversation_s)
                    gate._debt_rpc_times.append(a.at)
                    maxend.append(end if not maxend or end > maxend[-1] else maxend[-1])
        if gate._cn_third:  # unreachable since ...: the whole history
            own_keys = debtor.own_number_keys
            gate._refused = [a.at for a in placed
                             if a.number_key == key and a.third_party_refused]
            gate._rpc_times = [a.at for a in filter(_RIGHT_PARTY, placed) if a.answered]
            own = [a for a in placed if a.number_key in own_keys]
            gate._own_times = [a.at for a in own]
            gate._own_rpc = [bool(a.answered and a.right_party) for a in own]
        return gate

    def add_placed(self, now: datetime) -> None:
        """Add the attempt `gate.decide` assumes for `next_allowed_at` (in place): at
        `now` on this number, about the campaign's debt, placed and unanswered."""
        at = now.astimezone(UTC)
        if self._cn:
            insort_right(self._unanswered, at)
        if self._us:  # its debt_ref is the campaign's: it is always "about the debt"
            insort_right(self._debt_times, at)
        if self._cn_third and self._number.number_key in self._debtor.own_number_keys:
            position = bisect_right(self._own_times, at)
            self._own_times.insert(position, at)
            self._own_rpc.insert(position, False)

    # --- evaluation -----------------------------------------------------------------

    def denials(self, instant: datetime, details: bool = True) -> list[Denial]:
        """gate.evaluate at `instant`; without `details` the detail lines are empty
        (settle only needs reasons and untils)."""
        t = instant if instant.tzinfo is UTC else instant.astimezone(UTC)
        local = t.astimezone(self._zone)
        found: list[Denial] = []
        today: tuple[datetime, datetime] | None = None
        if self._us:
            self._us_denials(t, details, found)
        if self._cn:
            today = _day_bounds(self._zone, local.date())
            self._cn_denials(t, local, today, details, found)
        if self._uk:
            self._uk_denials(t, local, today, details, found)
        self._common(t, local, found)
        return found

    def placed_denials(self, instant: datetime) -> list[Denial]:
        """`denials(instant, details=False)` once `add_placed(instant)` was called,
        given that `denials(instant)` before it was empty: only the rules that count
        an unanswered, unabandoned, machine-free attempt on this number can have
        changed (the rest see the same facts at the same instant)."""
        t = instant if instant.tzinfo is UTC else instant.astimezone(UTC)
        found: list[Denial] = []
        if self._us:
            self._seven_in_seven(t, False, found)
        if self._cn:
            if self._cn_third:
                not_yet = self._third_party_not_yet(t)
                if not_yet is not None:
                    found.append(not_yet)
            today = _day_bounds(self._zone, t.astimezone(self._zone).date())
            self._number_daily_cap(t, today, False, found)
        return found

    def _us_denials(self, t: datetime, details: bool, found: list[Denial]) -> None:
        pack = self._packs.us
        if self._blocked is not None:
            found.append(self._blocked)
        # calling window: the intersection over every plausible zone
        zones = self._debtor.timezones
        until: datetime | None = None
        u = t
        for _ in range(MAX_WINDOW_SEARCH_STEPS):
            moved = False
            for name in zones:
                w = fast_window_until(u, zone(name), pack.window_start, pack.window_end)
                if w is not None:
                    u, moved = w, True
            if not moved:
                until = u
                break
        if until != t:
            window = f"{pack.window_start:%H:%M}–{pack.window_end:%H:%M}" if details else ""
            if until is None:
                found.append(Denial(Reason.US_CALLING_WINDOW, None,
                                    f"the {window} windows of {', '.join(zones)} never overlap"
                                    if details else ""))
            else:
                text = ""
                if details:
                    outside = [name for name in zones
                               if fast_window_until(t, zone(name), pack.window_start,
                                                    pack.window_end)]
                    text = f"outside {window} local time in {', '.join(outside)}"
                found.append(Denial(Reason.US_CALLING_WINDOW, until, text))
        self._seven_in_seven(t, details, found)
        # after a conversation
        k = bisect_right(self._debt_rpc_times, t)
        if k:
            last_end = self._debt_rpc_maxend[k - 1]
            quiet_until = last_end + timedelta(days=pack.quiet_days_after_conversation)
            if not t >= quiet_until:
                found.append(Denial(Reason.US_AFTER_CONVERSATION, quiet_until,
                                    f"a conversation about this debt ended at "
                                    f"{last_end.isoformat()}" if details else ""))

    def _seven_in_seven(self, t: datetime, details: bool, found: list[Denial]) -> None:
        pack = self._packs.us
        times = self._debt_times
        window_td = timedelta(days=pack.rolling_window_days)
        k = bisect_right(times, t)
        lo = bisect_right(times, t - window_td, 0, k)
        count = k - lo
        cap = pack.max_calls_per_debt
        if count >= cap:
            found.append(Denial(Reason.US_SEVEN_IN_SEVEN, times[lo + count - cap] + window_td,
                                f"{count} calls about this debt in the last "
                                f"{pack.rolling_window_days} days (cap {cap})"
                                if details else ""))

    def _cn_denials(self, t: datetime, local: datetime, today: tuple[datetime, datetime],
                    details: bool, found: list[Denial]) -> None:
        pack = self._packs.cn
        if self._cn_third:
            if self._refused and self._refused[0] <= t:
                found.append(Denial(Reason.CN_THIRD_PARTY_REFUSED, None,
                                    "this contact refused further calls"))
            not_yet = self._third_party_not_yet(t)
            if not_yet is not None:
                found.append(not_yet)
        until = fast_window_until(t, self._zone, pack.window_start, pack.window_end, local)
        if until is not None:
            text = ""
            if details:
                text = (f"{local.strftime('%H:%M')} local is outside "
                        f"{pack.window_start:%H:%M}–{pack.window_end:%H:%M}")
            found.append(Denial(Reason.CN_QUIET_HOURS, until, text))
        self._number_daily_cap(t, today, details, found)
        count = _count_today(self._eff, t, today)
        cap = pack.max_effective_conversations_per_day
        if count >= cap:
            found.append(Denial(Reason.CN_DEBTOR_CONVERSATION_CAP, today[1],
                                f"{count} effective conversations with the debtor today "
                                f"(cap {cap})" if details else ""))

    def _number_daily_cap(self, t: datetime, today: tuple[datetime, datetime], details: bool,
                          found: list[Denial]) -> None:
        count = _count_today(self._unanswered, t, today)
        cap = self._packs.cn.max_unanswered_per_number_per_day
        if count >= cap:
            found.append(Denial(Reason.CN_NUMBER_DAILY_CAP, today[1],
                                f"{count} unanswered attempts on this number today "
                                f"(cap {cap})" if details else ""))

    def _third_party_not_yet(self, t: datetime) -> Denial | None:
        pack = self._packs.cn
        k = bisect_right(self._own_times, t)
        needed = pack.third_party_after_failed_attempts
        if k >= needed and not any(self._own_rpc[k - needed:k]):
            return None
        contacts = bisect_right(self._rpc_times, t)
        if contacts:
            since: datetime | None = self._rpc_times[contacts - 1]
        else:
            since = self._own_times[0] if k else None
        until = None if since is None else since + timedelta(days=pack.third_party_after_days)
        if until is not None and t >= until:
            return None
        return Denial(Reason.CN_THIRD_PARTY_NOT_YET, until,
                      "the debtor is not yet unreachable on their own numbers")

    def _uk_denials(self, t: datetime, local: datetime, today: tuple[datetime, datetime] | None,
                    details: bool, found: list[Denial]) -> None:
        pack = self._packs.uk
        k = bisect_right(self._ab_times, t)
        if k:
            first = bisect_left(self._ab_times, self._ab_times[k - 1], 0, k)
            last = self._ab_times[first]  # max() keeps the first of equal maxima
            until = last + timedelta(hours=pack.abandon_quiet_hours)
            if not t >= until:
                found.append(Denial(Reason.UK_ABANDON_72H, until,
                                    f"a call to this number was abandoned at {last.isoformat()}"
                                    if details else ""))
        if pack.machine_same_day and self._machine:
            if today is None:
                today = _day_bounds(self._zone, local.date())
            if _count_today(self._machine, t, today):
                found.append(Denial(Reason.UK_MACHINE_SAME_DAY, today[1],
                                    "an answering machine was detected on this number today"))

    def _common(self, t: datetime, local: datetime, found: list[Denial]) -> None:
        debtor = self._debtor
        if debtor.opted_out:
            found.append(Denial(Reason.OPT_OUT, None, "the debtor opted out of calls"))
        if self._dnc:
            listed = dnc_at(self._policy, self._number, debtor, t)
            if listed is not None:
                found.append(listed)
        if self._policy.requires_consent:
            until = debtor.consent_until
            if until is None:
                found.append(Denial(Reason.NO_CONSENT, None,
                                    "the campaign requires consent; none recorded"))
            elif t >= until:
                found.append(Denial(Reason.NO_CONSENT, None,
                                    f"consent expired at {until.isoformat()}"))
        if debtor.inconvenient:
            inconvenient = self._inconvenient(t)
            if inconvenient is not None:
                found.append(inconvenient)
        if self._avoid_holidays:
            end = _holiday_run_end(debtor.region, local.date())
            if end is not None:
                found.append(Denial(Reason.HOLIDAY,
                                    fast_local_instant(self._zone, end, MIDNIGHT, t),
                                    f"public holiday in {debtor.region}"))

    def _inconvenient(self, t: datetime) -> Denial | None:
        windows = self._debtor.inconvenient
        tz = self._zone
        hit = False
        for _ in range(len(windows) + 1):
            local = t.astimezone(tz)
            wall = local.time()
            weekday = local.weekday()
            ends = [w.end for w in windows if w.weekday == weekday and w.start <= wall < w.end]
            if not ends:
                break
            hit, t = True, fast_local_instant(tz, local.date(), max(ends), t)
        if not hit:
            return None
        return Denial(Reason.INCONVENIENT_TIME, t, "the debtor said this time is inconvenient")

    def settle(self, start: datetime, max_steps: int, *,
               just_placed: bool = False) -> datetime | None:
        """gate.settle from `start`: the earliest instant >= start no rule denies.
        `just_placed`: `add_placed(start)` was just called on an index that denied
        nothing at `start` (the first step needs only `placed_denials`)."""
        t = start
        for step in range(max_steps):
            found = (self.placed_denials(t) if just_placed and step == 0
                     else self.denials(t, details=False))
            if not found:
                return t
            best = found[0]  # gate.strictest
            for denial in found[1:]:
                if best.until is None:
                    break
                if denial.until is None or denial.until > best.until:
                    best = denial
            until, reason = best.until, best.reason
            if until is None:
                return None
            if until <= t:
                raise AssertionError(f"rule {reason} did not move past {t}")
            t = until
        return None


def _count_today(times: list[datetime], t: datetime, today: tuple[datetime, datetime]) -> int:
    """How many of `times` (sorted) are <= t and within [today)."""
    if not times:
        return 0
    start = bisect_left(times, today[0])
    stop = min(bisect_right(times, t), bisect_left(times, today[1]))
    return max(0, stop - start)
