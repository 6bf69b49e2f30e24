"""UK pack, Ofcom persistent-misuse policy; applies to automated calls only.

- No automated redial of a number within `abandon_quiet_hours` of an abandoned call.
- A number on which an answering machine was detected gets no automated repeat the
  same local day (primary zone).
"""

from __future__ import annotations

from datetime import timedelta

from engine.compliance.model import Reason
from engine.compliance.packs import UkPack
from engine.compliance.rules_common import Context, Denial


def uk_denials(ctx: Context, pack: UkPack) -> list[Denial]:
    if not ctx.policy.automated:
        return []
    found = [abandon_quiet(ctx, pack), machine_same_day(ctx, pack)]
    return [d for d in found if d is not None]


def abandon_quiet(ctx: Context, pack: UkPack) -> Denial | None:
    quiet = timedelta(hours=pack.abandon_quiet_hours)
    last = max((a.at for a in ctx.on_number() if a.abandoned), default=None)
    if last is None or ctx.now >= last + quiet:
        return None
    return Denial(Reason.UK_ABANDON_72H, last + quiet,
                  f"a call to this number was abandoned at {last.isoformat()}")


def machine_same_day(ctx: Context, pack: UkPack) -> Denial | None:
    if not pack.machine_same_day:
        return None
    if not any(a.machine and ctx.is_today(a.at) for a in ctx.on_number()):
        return None
    return Denial(Reason.UK_MACHINE_SAME_DAY, ctx.today[1],
                  "an answering machine was detected on this number today")
