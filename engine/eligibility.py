"""The compliance gate wired to the database: for a leased debtor, which number may be
called now — the debtor's own numbers first, then contact persons' — or when to come
back. Also `huilong explain`, which shows the same decisions to a person.

The gate itself (`engine/compliance/`) is pure; this module only gathers its inputs and
records what it said.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
import phonenumbers
from phonenumbers import timezone as phone_timezones

from db.crypto import PiiCipher
from db.debtors import PHONE_PURPOSE
from db.eligibility import CampaignRecord, DebtorRecord, load_campaign, load_debtor
from db.pool import connection
from db.targets import Target
from engine.campaign import Eligibility
from engine.compliance.gate import decide, explain
from engine.compliance.model import (
    CampaignPolicy,
    ContactAttempt,
    DebtorFacts,
    Decision,
    InconvenientWindow,
    NumberFacts,
)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class NumberDecision:
    phone_id: int
    masked: str
    owner: str
    decision: Decision


@dataclass(frozen=True, slots=True)
class GateRun:
    """The decisions for each of a debtor's numbers, and what they were based on."""

    numbers: list[NumberDecision]
    inputs: dict[str, Any]


class EligibilityChecker:
    """The runner's `check`: the first number the gate allows, else the earliest time."""

    def __init__(self, pool: asyncpg.Pool, cipher: PiiCipher,
                 clock: Callable[[], datetime] = _now) -> None:
        self._pool = pool
        self._cipher = cipher
        self._clock = clock

    async def __call__(self, target: Target) -> Eligibility:
        now = self._clock()
        run = await decide_numbers(self._pool, self._cipher, target.debtor_id,
                                   target.campaign_id, now)
        decisions = _from_target_phone(run.numbers, target.phone_id)
        record = {"at": now.isoformat(), "inputs": run.inputs,
                  "numbers": [_as_record(d) for d in decisions]}
        for number in decisions:
            if number.decision.allowed:
                return Eligibility(number.phone_id, decision={**record, "allowed": True})
        return Eligibility(None, until=_earliest(d.decision.until for d in decisions),
                           decision={**record, "allowed": False})


async def decide_numbers(pool: asyncpg.Pool, cipher: PiiCipher, debtor_id: int,
                         campaign_id: int | None, now: datetime) -> GateRun:
    debtor = await load_debtor(pool, debtor_id, campaign_id, now)
    if debtor is None:
        return GateRun([], {})
    campaign = await load_campaign(pool, campaign_id)
    policy = campaign_policy(campaign)
    facts = debtor_facts(debtor, cipher, every_plausible_zone="US" in policy.packs)
    history = [ContactAttempt(
        at=a.at, number_key=a.phone_key, placed=a.placed, answered=a.answered,
        right_party=a.right_party, conversation_s=a.conversation_s, abandoned=a.abandoned,
        machine=a.machine, automated=a.automated, third_party_refused=a.third_party_refused)
        for a in debtor.history]
    result = []
    for phone in debtor.phones:
        lists = [entry for entry in debtor.listings if entry.phone_key == phone.key]
        number = NumberFacts(number_key=phone.key, third_party=phone.owner != "self",
                             on_lists=frozenset(e.list_name for e in lists),
                             list_expiry=_expiries(lists))
        result.append(NumberDecision(phone.id, phone.masked, phone.owner,
                                     decide(facts, number, policy, history, now)))
    inputs = {"packs": list(policy.packs), "timezones": list(facts.timezones),
              "region": facts.region, "history_attempts": len(history),
              "debtor_lists": sorted(facts.on_lists), "opted_out": facts.opted_out,
              "cease": facts.cease, "attorney": facts.attorney}
    return GateRun(result, inputs)


def debtor_facts(debtor: DebtorRecord, cipher: PiiCipher, *,
                 every_plausible_zone: bool) -> DebtorFacts:
    listed = [entry for entry in debtor.listings if entry.phone_key is None]
    zones = _plausible_zones(debtor, cipher) if every_plausible_zone else (debtor.timezone,)
    return DebtorFacts(
        debtor_id=debtor.id, timezones=zones, region=debtor.region,
        opted_out=debtor.opted_out, cease=debtor.cease, attorney=debtor.attorney,
        consent_until=debtor.consent_until,
        inconvenient=tuple(InconvenientWindow(int(w["weekday"]), time.fromisoformat(w["start"]),
                                              time.fromisoformat(w["end"]))
                           for w in debtor.inconvenient),
        own_number_keys=frozenset(p.key for p in debtor.phones if p.owner == "self"),
        on_lists=frozenset(e.list_name for e in listed), list_expiry=_expiries(listed))


def campaign_policy(campaign: CampaignRecord | None) -> CampaignPolicy:
    if campaign is None:
        return CampaignPolicy()
    settings = campaign.settings
    return CampaignPolicy(
        # An explicitly empty list means no country pack: only the common rules apply.
        campaign_id=campaign.id, packs=tuple(settings.get("packs", ("CN",))),
        dnc_lists=campaign.list_names,
        requires_consent=bool(settings.get("requires_consent", False)),
        automated=bool(settings.get("automated", True)),
        overrides=settings.get("pack_overrides") or {})


def _plausible_zones(debtor: DebtorRecord, cipher: PiiCipher) -> tuple[str, ...]:
    """The debtor's own zone first, then every zone its own numbers point at: under
    Regulation F an area code and an address can disagree, and the calling window must
    hold in all of them."""
    zones = [debtor.timezone]
    for phone in debtor.phones:
        if phone.owner != "self":
            continue
        number = phonenumbers.parse(cipher.decrypt(phone.enc, phone.key_id, purpose=PHONE_PURPOSE))
        for zone in phone_timezones.time_zones_for_number(number):
            if zone not in zones and _known_zone(zone):
                zones.append(zone)
    return tuple(zones)


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _expiries(entries: Iterable[Any]) -> dict[str, datetime]:
    """List name → when the listing ends; a name with any never-ending entry is left out
    (absent = never expires)."""
    never: set[str] = set()
    latest: dict[str, datetime] = {}
    for entry in entries:
        if entry.expires_at is None:
            never.add(entry.list_name)
        elif entry.list_name not in latest or entry.expires_at > latest[entry.list_name]:
            latest[entry.list_name] = entry.expires_at
    return {name: at for name, at in latest.items() if name not in never}


def _from_target_phone(numbers: list[NumberDecision], phone_id: int) -> list[NumberDecision]:
    """The target's own number first, then the ones after it, then the ones before: a
    retry on the next number (engine/retry.py) does not fall back to the number it left
    while that one is still allowed."""
    at = next((i for i, n in enumerate(numbers) if n.phone_id == phone_id), 0)
    return numbers[at:] + numbers[:at]


def _earliest(times: Iterable[datetime | None]) -> datetime | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


def _as_record(number: NumberDecision) -> dict[str, Any]:
    d = number.decision
    def iso(instant: datetime | None) -> str | None:
        return None if instant is None else instant.isoformat()

    return {"phone_id": number.phone_id, "allowed": d.allowed,
            "reason": None if d.reason is None else str(d.reason), "until": iso(d.until),
            "next_allowed_at": iso(d.next_allowed_at), "details": list(d.details)}


async def explain_debtor(pool: asyncpg.Pool, cipher: PiiCipher, external_id: str, *,
                         campaign_id: int | None,
                         clock: Callable[[], datetime] = _now) -> list[str] | None:
    """Lines for `huilong explain`: per number (masked), the decision, the reason and the
    next allowed time (UTC and the debtor's local time)."""
    from db.eligibility import debtor_id_for

    debtor_id = await debtor_id_for(pool, external_id)
    if debtor_id is None:
        return None
    now = clock()
    debtor = await load_debtor(pool, debtor_id, campaign_id, now)
    assert debtor is not None
    local = ZoneInfo(debtor.timezone)
    priority = "-" if debtor.priority is None else debtor.priority
    lines = [f"debtor {external_id}: segment {debtor.segment or '-'}, strategy "
             f"{debtor.strategy or '-'}, priority {priority}",
             f"now {now:%Y-%m-%d %H:%M} UTC = {now.astimezone(local):%Y-%m-%d %H:%M} "
             f"{debtor.timezone}; campaign {campaign_id if campaign_id is not None else '(none)'}"]
    for number in (await decide_numbers(pool, cipher, debtor_id, campaign_id, now)).numbers:
        d = number.decision
        when = d.next_allowed_at if d.allowed else d.until
        local_when = f" ({when.astimezone(local):%Y-%m-%d %H:%M} local)" if when else ""
        lines.append(f"  {number.masked:16} {number.owner:11} {explain(d)}{local_when}")
        lines.extend(f"      {detail}" for detail in d.details[1:])
    if not debtor.phones:
        lines.append("  no phone numbers")
    if campaign_id is not None:
        lines.extend(await _target_lines(pool, debtor_id, campaign_id, local))
    return lines


async def _target_lines(pool: asyncpg.Pool, debtor_id: int, campaign_id: int,
                        local: ZoneInfo) -> list[str]:
    """Where the debtor stands in the campaign's list: retries, re-queued work and a
    best-time deferral wait there even when the gate would allow a call now."""
    async with connection(pool) as conn:
        row = await conn.fetchrow(
            "SELECT status, reason, tries, next_allowed_at, last_decision FROM campaign_targets"
            " WHERE campaign_id = $1 AND debtor_id = $2", campaign_id, debtor_id)
    if row is None:
        return [f"  not in campaign {campaign_id}'s list"]
    when = row["next_allowed_at"]
    wait = "" if when is None else (
        f", not before {when:%Y-%m-%d %H:%M} UTC ({when.astimezone(local):%Y-%m-%d %H:%M} local)")
    lines = [f"  in the list: {row['status']} ({row['reason']}), {row['tries']} tries{wait}"]
    decision = json.loads(row["last_decision"]) if row["last_decision"] else {}
    best = decision.get("best_time")
    if isinstance(best, dict) and best.get("best_time") == "defer":
        lines.append(f"      best time: waits for a better hour ({best['goal']} rate "
                     f"{best['rate_now']:.0%} now, {best['best_ahead']:.0%} then)")
    return lines
