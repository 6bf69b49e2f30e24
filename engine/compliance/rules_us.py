"""US pack, Regulation F (12 CFR 1006.6 and 1006.14).

- Calls only inside [window_start, window_end) in EVERY plausible zone of the debtor:
  the allowed window is the intersection; `until` is its next opening.
- At most `max_calls_per_debt` placed calls per debt in any rolling
  `rolling_window_days` (an attempt at `a` counts while `now < a + window`).
- None for `quiet_days_after_conversation` days after a right-party conversation
  about the debt, counted from the conversation's end.
- Opt-out, cease-communication and attorney representation block for good.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.compliance.model import ContactAttempt, Reason
from engine.compliance.packs import UsPack
from engine.compliance.rules_common import Context, Denial, window_until, zone

# Two zones whose windows never overlap make the intersection empty; one search
# step per zone per day is always enough to find a non-empty one within this.
MAX_WINDOW_SEARCH_STEPS = 64


def us_denials(ctx: Context, pack: UsPack) -> list[Denial]:
    found = [
        blocked(ctx),
        calling_window(ctx, pack),
        seven_in_seven(ctx, pack),
        after_conversation(ctx, pack),
    ]
    return [d for d in found if d is not None]


def blocked(ctx: Context) -> Denial | None:
    debtor = ctx.debtor
    if debtor.attorney:
        return Denial(Reason.US_ATTORNEY, None, "the debtor is represented by an attorney")
    if debtor.cease:
        return Denial(Reason.US_CEASE, None, "the debtor asked to cease communication")
    if debtor.opted_out:
        return Denial(Reason.US_OPT_OUT, None, "the debtor opted out of calls")
    return None


def intersection_until(now: datetime, zones: tuple[str, ...], pack: UsPack) -> datetime | None:
    """`now` if inside the window in every zone, else the earliest later instant that
    is; None if the windows never intersect."""
    t = now
    for _ in range(MAX_WINDOW_SEARCH_STEPS):
        moved = False
        for name in zones:
            until = window_until(t, zone(name), pack.window_start, pack.window_end)
            if until is not None:
                t, moved = until, True
        if not moved:
            return t
    return None


def calling_window(ctx: Context, pack: UsPack) -> Denial | None:
    zones = ctx.debtor.timezones
    until = intersection_until(ctx.now, zones, pack)
    if until == ctx.now:
        return None
    window = f"{pack.window_start:%H:%M}–{pack.window_end:%H:%M}"
    if until is None:
        return Denial(Reason.US_CALLING_WINDOW, None,
                      f"the {window} windows of {', '.join(zones)} never overlap")
    outside = [name for name in zones
               if window_until(ctx.now, zone(name), pack.window_start, pack.window_end)]
    return Denial(Reason.US_CALLING_WINDOW, until,
                  f"outside {window} local time in {', '.join(outside)}")


def _on_debt(ctx: Context) -> list[ContactAttempt]:
    ref = ctx.policy.debt_ref
    if ref is None:  # unknown debt: every call to the debtor counts (the strict reading)
        return list(ctx.history)
    return [a for a in ctx.history if a.debt_ref == ref]


def seven_in_seven(ctx: Context, pack: UsPack) -> Denial | None:
    window = timedelta(days=pack.rolling_window_days)
    recent = sorted(a.at for a in _on_debt(ctx) if a.at > ctx.now - window)
    cap = pack.max_calls_per_debt
    if len(recent) < cap:
        return None
    # Allowed again once all but cap - 1 of them have left the window.
    until = recent[len(recent) - cap] + window
    return Denial(Reason.US_SEVEN_IN_SEVEN, until,
                  f"{len(recent)} calls about this debt in the last "
                  f"{pack.rolling_window_days} days (cap {cap})")


def after_conversation(ctx: Context, pack: UsPack) -> Denial | None:
    ends = [a.at + timedelta(seconds=a.conversation_s)
            for a in _on_debt(ctx) if a.right_party_contact]
    if not ends:
        return None
    until = max(ends) + timedelta(days=pack.quiet_days_after_conversation)
    if ctx.now >= until:
        return None
    return Denial(Reason.US_AFTER_CONVERSATION, until,
                  f"a conversation about this debt ended at {max(ends).isoformat()}")
