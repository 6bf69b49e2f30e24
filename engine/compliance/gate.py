"""The compliance gate: may this number of this debtor be called now?

`decide` runs the common rules and every pack the campaign names; strictest wins:
any denial beats an allow, and among denials the one allowed latest (None = never)
gives the reason. `until` is then the earliest instant at or after that at which no
rule denies (given the same history), so a dialer that retries exactly at `until`
is let through. For an allow, `next_allowed_at` is found the same way with this
attempt added to the history as placed and unanswered — the outcome that restricts
least, so the dialer may ask again then (and will get the real answer).

`decide` runs on the fast path (engine/compliance/fastpath.py: the history indexed
once per call, each rule a few bisections); `reference_decide` is the straightforward
evaluation (`evaluate` / `settle`: every rule over the whole history at every instant
looked at). Both give identical Decisions; the reference is kept as the specification
the fast path is tested and benchmarked against.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from engine.compliance.fastpath import FastGate
from engine.compliance.model import (
    CampaignPolicy,
    ContactAttempt,
    DebtorFacts,
    Decision,
    NumberFacts,
)
from engine.compliance.packs import DEFAULT_PACKS, Packs, with_overrides
from engine.compliance.rules_cn import cn_denials
from engine.compliance.rules_common import Denial, common_denials, make_context
from engine.compliance.rules_uk import uk_denials
from engine.compliance.rules_us import us_denials

# Each step moves strictly later; real rule sets settle within a handful.
MAX_SETTLE_STEPS = 64


def decide(debtor: DebtorFacts, number: NumberFacts, policy: CampaignPolicy,
           history: Sequence[ContactAttempt], now: datetime,
           packs: Packs = DEFAULT_PACKS) -> Decision:
    """Allow or deny calling `number` of `debtor` at `now` (aware) for `policy`.
    `history`: this debtor's past attempts on any number."""
    if now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    packs = with_overrides(packs, policy.overrides)
    gate = FastGate.build(debtor, number, policy, history, packs, horizon=now)
    if gate is None:
        return _reference(debtor, number, policy, history, now, packs)
    denials = gate.denials(now)
    if denials:
        worst = strictest(denials)
        until = worst.until
        if until is not None:
            if until < now:  # no rule does this, but the index only looks forward
                earlier = FastGate.build(debtor, number, policy, history, packs, horizon=until)
                if earlier is None:  # unreachable: the same history indexed above
                    return _reference(debtor, number, policy, history, now, packs)
                gate = earlier
            until = gate.settle(until, MAX_SETTLE_STEPS)
        details = tuple(f"{d.reason}: {d.detail}" for d in denials)
        return Decision(False, worst.reason, _utc(until), None, details)
    gate.add_placed(now)
    later = gate.settle(now, MAX_SETTLE_STEPS, just_placed=True)
    return Decision(True, None, None, _utc(later), ())


def reference_decide(debtor: DebtorFacts, number: NumberFacts, policy: CampaignPolicy,
                     history: Sequence[ContactAttempt], now: datetime,
                     packs: Packs = DEFAULT_PACKS) -> Decision:
    """`decide` by the straightforward evaluation (every rule over the whole history,
    again at every instant `settle` looks at): the specification of the fast path."""
    if now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    return _reference(debtor, number, policy, history, now,
                      with_overrides(packs, policy.overrides))


def _reference(debtor: DebtorFacts, number: NumberFacts, policy: CampaignPolicy,
               history: Sequence[ContactAttempt], now: datetime, packs: Packs) -> Decision:
    denials = evaluate(debtor, number, policy, history, now, packs)
    if denials:
        worst = strictest(denials)
        until = None if worst.until is None else settle(
            debtor, number, policy, history, worst.until, packs)
        details = tuple(f"{d.reason}: {d.detail}" for d in denials)
        return Decision(False, worst.reason, _utc(until), None, details)
    placed = ContactAttempt(at=now, number_key=number.number_key, debt_ref=policy.debt_ref,
                            automated=policy.automated)
    later = settle(debtor, number, policy, (*history, placed), now, packs)
    return Decision(True, None, None, _utc(later), ())


def evaluate(debtor: DebtorFacts, number: NumberFacts, policy: CampaignPolicy,
             history: Sequence[ContactAttempt], now: datetime, packs: Packs) -> list[Denial]:
    """Every denial at `now`, pack rules first, in a stable order."""
    ctx = make_context(debtor, number, policy, history, now)
    found: list[Denial] = []
    avoid_holidays = False
    if "US" in policy.packs:
        found += us_denials(ctx, packs.us)
        avoid_holidays |= packs.us.avoid_holidays
    if "CN" in policy.packs:
        found += cn_denials(ctx, packs.cn)
        avoid_holidays |= packs.cn.avoid_holidays
    if "UK" in policy.packs:
        found += uk_denials(ctx, packs.uk)
        avoid_holidays |= packs.uk.avoid_holidays
    return found + common_denials(ctx, avoid_holidays=avoid_holidays)


def strictest(denials: Sequence[Denial]) -> Denial:
    """The denial allowed latest; None (never) beats every time; first on ties."""
    best = denials[0]
    for denial in denials[1:]:
        if best.until is None:
            break
        if denial.until is None or denial.until > best.until:
            best = denial
    return best


def settle(debtor: DebtorFacts, number: NumberFacts, policy: CampaignPolicy,
           history: Sequence[ContactAttempt], start: datetime, packs: Packs) -> datetime | None:
    """The earliest instant >= `start` at which no rule denies; None if never."""
    t = start
    for _ in range(MAX_SETTLE_STEPS):
        denials = evaluate(debtor, number, policy, history, t, packs)
        if not denials:
            return t
        until = strictest(denials).until
        if until is None:
            return None
        if until <= t:
            raise AssertionError(f"rule {strictest(denials).reason} did not move past {t}")
        t = until
    return None


def explain(decision: Decision) -> str:
    """One human line: the verdict, the main reason and when calling is next allowed."""
    if decision.allowed:
        if decision.next_allowed_at is None:
            return "allowed; no further attempt will be allowed after this one"
        return f"allowed; next attempt allowed from {_when(decision.next_allowed_at)}"
    main = decision.details[0] if decision.details else str(decision.reason)
    for line in decision.details:
        if line.startswith(f"{decision.reason}:"):
            main = line
            break
    if decision.until is None:
        return f"denied ({main}); never allowed"
    return f"denied ({main}); allowed from {_when(decision.until)}"


def _utc(instant: datetime | None) -> datetime | None:
    return None if instant is None else instant.astimezone(UTC)


def _when(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
