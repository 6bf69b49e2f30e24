"""China pack: calling window, daily caps, third-party contacts.

- No attempt outside [window_start, window_end) debtor local time (primary zone).
- At most `max_unanswered_per_number_per_day` unanswered attempts per number per
  local day (answered attempts do not count).
- At most `max_effective_conversations_per_day` effective conversations per debtor
  per local day, robot calls included (right party, >= `effective_conversation_s`).
- A third-party number only while the debtor is unreachable: the last N attempts on
  the debtor's own numbers all failed, or N days have passed since the last
  right-party contact (or, if there was none, since the first own-number attempt);
  never again once that contact refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.compliance.model import ContactAttempt, Reason
from engine.compliance.packs import CnPack
from engine.compliance.rules_common import (
    Context,
    Denial,
    window_until,
)


def cn_denials(ctx: Context, pack: CnPack) -> list[Denial]:
    found = [
        third_party_refused(ctx),
        third_party_not_yet(ctx, pack),
        quiet_hours(ctx, pack),
        number_daily_cap(ctx, pack),
        debtor_conversation_cap(ctx, pack),
    ]
    return [d for d in found if d is not None]


def quiet_hours(ctx: Context, pack: CnPack) -> Denial | None:
    until = window_until(ctx.now, ctx.zone, pack.window_start, pack.window_end)
    if until is None:
        return None
    local = ctx.local_now.strftime("%H:%M")
    return Denial(Reason.CN_QUIET_HOURS, until,
                  f"{local} local is outside {pack.window_start:%H:%M}–{pack.window_end:%H:%M}")


def number_daily_cap(ctx: Context, pack: CnPack) -> Denial | None:
    count = sum(1 for a in ctx.on_number()
                if not a.answered and ctx.is_today(a.at))
    if count < pack.max_unanswered_per_number_per_day:
        return None
    return Denial(Reason.CN_NUMBER_DAILY_CAP, ctx.today[1],
                  f"{count} unanswered attempts on this number today "
                  f"(cap {pack.max_unanswered_per_number_per_day})")


def is_effective(attempt: ContactAttempt, pack: CnPack) -> bool:
    return attempt.right_party_contact and attempt.conversation_s >= pack.effective_conversation_s


def debtor_conversation_cap(ctx: Context, pack: CnPack) -> Denial | None:
    count = sum(1 for a in ctx.history
                if is_effective(a, pack) and ctx.is_today(a.at))
    if count < pack.max_effective_conversations_per_day:
        return None
    return Denial(Reason.CN_DEBTOR_CONVERSATION_CAP, ctx.today[1],
                  f"{count} effective conversations with the debtor today "
                  f"(cap {pack.max_effective_conversations_per_day})")


def third_party_refused(ctx: Context) -> Denial | None:
    if not ctx.number.third_party:
        return None
    if any(a.third_party_refused for a in ctx.on_number()):
        return Denial(Reason.CN_THIRD_PARTY_REFUSED, None, "this contact refused further calls")
    return None


def third_party_not_yet(ctx: Context, pack: CnPack) -> Denial | None:
    if not ctx.number.third_party:
        return None
    own = ctx.debtor.own_number_keys
    own_attempts = [a for a in ctx.history if a.number_key in own]
    needed = pack.third_party_after_failed_attempts
    recent = own_attempts[-needed:]
    if len(recent) == needed and not any(a.right_party_contact for a in recent):
        return None
    since = _unreachable_since(ctx, own_attempts)
    until = None if since is None else since + timedelta(days=pack.third_party_after_days)
    if until is not None and ctx.now >= until:
        return None
    return Denial(Reason.CN_THIRD_PARTY_NOT_YET, until,
                  "the debtor is not yet unreachable on their own numbers")


def _unreachable_since(ctx: Context, own_attempts: list[ContactAttempt]) -> datetime | None:
    contacts = [a.at for a in ctx.history if a.right_party_contact]
    if contacts:
        return max(contacts)
    return min((a.at for a in own_attempts), default=None)
