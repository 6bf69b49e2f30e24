"""A seeded 30-day replay: a simulated campaign dials synthetic debtors through the
gate; every placed attempt becomes a row for an independent checker.

Debtors are independent (a debtor's history is only their own attempts), so each is
simulated on its own, in time order: a few random candidate instants per day on a
random number, plus a retry exactly at `until` after a denial (the boundary a real
dialer hits). A denial is remembered per number until the debtor's history changes,
so the gate is not asked again before its own `until`.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, time, timedelta
from operator import attrgetter
from typing import Any

from engine.compliance.gate import decide
from engine.compliance.model import (
    GLOBAL_LIST,
    CampaignPolicy,
    ContactAttempt,
    DebtorFacts,
    InconvenientWindow,
    NumberFacts,
)
from engine.compliance.packs import DEFAULT_PACKS, Packs

REGIONS = (  # (region, packs, campaign id, zone choices, share)
    ("CN", ("CN",), 1, ("Asia/Shanghai", "Asia/Urumqi"), 0.5),
    ("US", ("US",), 2, ("America/New_York", "America/Chicago", "America/Denver",
                        "America/Phoenix", "America/Los_Angeles", "Pacific/Honolulu"), 0.35),
    ("GB", ("UK",), 3, ("Europe/London",), 0.15),
)
NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ReplayConfig:
    debtors: int = 10_000
    days: int = 30
    seed: int = 20241005
    start: datetime = datetime(2024, 10, 5, tzinfo=UTC)  # CN holiday, UK + US DST ends
    candidates_per_day: int = 2
    eager_share: float = 0.05          # debtors tried hard on one number (hits the caps)
    eager_candidates_per_day: int = 14
    unreachable_share: float = 0.1     # own numbers never answer (third parties get tried)
    gate_enabled: bool = True


@dataclass(frozen=True, slots=True)
class ReplayDebtor:
    facts: DebtorFacts
    policy: CampaignPolicy
    numbers: tuple[NumberFacts, ...]
    eager: bool
    unreachable: bool


@dataclass(frozen=True, slots=True)
class ReplayRow:
    """One placed attempt; `seq` orders a debtor's attempts as they were placed."""

    seq: int
    debtor_id: int
    zones: tuple[str, ...]
    attempt: ContactAttempt

    def __reduce__(self) -> tuple[type[ReplayRow], tuple[object, ...]]:
        # Positional: far faster than the slots dataclass default across processes.
        return (ReplayRow, (self.seq, self.debtor_id, self.zones, self.attempt))


@dataclass(slots=True)
class ReplayResult:
    debtors: list[ReplayDebtor] = field(default_factory=list)
    rows: list[ReplayRow] = field(default_factory=list)
    decisions: int = 0
    denials: Counter[str] = field(default_factory=Counter)

    def merge(self, other: ReplayResult) -> None:
        """Append another chunk's debtors and rows (renumbering `seq`)."""
        self.debtors += other.debtors
        offset = len(self.rows)
        if offset:
            self.rows += [ReplayRow(r.seq + offset, r.debtor_id, r.zones, r.attempt)
                          for r in other.rows]
        else:  # nothing to renumber (rows are immutable: sharing them is safe)
            self.rows += other.rows
        self.decisions += other.decisions
        self.denials += other.denials

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Rows column by column: a chunk's result crosses from a worker process several
        # times faster than as ~200,000 pickled objects.
        attempts = [r.attempt for r in self.rows]
        columns = tuple(list(map(attrgetter(name), attempts)) for name in _ATTEMPT_FIELDS)
        return (_result_from_columns,
                (self.debtors, self.decisions, self.denials, [r.seq for r in self.rows],
                 [r.debtor_id for r in self.rows], [r.zones for r in self.rows], columns))


_ATTEMPT_FIELDS = tuple(f.name for f in fields(ContactAttempt))


def _result_from_columns(debtors: list[ReplayDebtor], decisions: int, denials: Counter[str],
                         seqs: list[int], debtor_ids: list[int], zones: list[tuple[str, ...]],
                         columns: tuple[list[Any], ...]) -> ReplayResult:
    attempts = map(ContactAttempt, *columns)
    return ReplayResult(debtors, list(map(ReplayRow, seqs, debtor_ids, zones, attempts)),
                        decisions, denials)


def run_replay(config: ReplayConfig = ReplayConfig(), *, packs: Packs = DEFAULT_PACKS,
               debtor_ids: Iterable[int] | None = None) -> ReplayResult:
    """Simulate `debtor_ids` (default 1..config.debtors) and return what was placed."""
    result = ReplayResult()
    for debtor_id in debtor_ids if debtor_ids is not None else range(1, config.debtors + 1):
        rng = random.Random(config.seed * 1_000_003 + debtor_id)
        debtor = make_debtor(debtor_id, rng, config)
        result.debtors.append(debtor)
        for attempt in _simulate(debtor, rng, config, packs, result):
            result.rows.append(ReplayRow(len(result.rows) + 1, debtor_id,
                                         debtor.facts.timezones, attempt))
    return result


def make_debtor(debtor_id: int, rng: random.Random, config: ReplayConfig) -> ReplayDebtor:
    region, pack_names, campaign_id, zones, _ = _pick_region(rng)
    timezones: tuple[str, ...] = (rng.choice(zones),)
    if region == "US" and rng.random() < 0.4:  # area code and address disagree
        timezones += (rng.choice([z for z in zones if z != timezones[0]]),)
    numbers = _make_numbers(debtor_id, rng, config.start, config.days)
    end = config.start + timedelta(days=config.days)
    facts = DebtorFacts(
        debtor_id=debtor_id, timezones=timezones, region=region,
        opted_out=rng.random() < 0.02, cease=region == "US" and rng.random() < 0.01,
        attorney=region == "US" and rng.random() < 0.01,
        consent_until=_consent(rng, config.start, end),
        inconvenient=_inconvenient(rng),
        own_number_keys=frozenset(n.number_key for n in numbers if not n.third_party),
        on_lists=frozenset({GLOBAL_LIST}) if rng.random() < 0.01 else frozenset(),
        list_expiry={},  # plain dicts: results cross process boundaries (pickle)
    )
    policy = CampaignPolicy(campaign_id=campaign_id, packs=pack_names,
                            dnc_lists=frozenset({f"campaign:{campaign_id}"}),
                            requires_consent=region != "CN", automated=True,
                            debt_ref=f"D{debtor_id}", overrides={})
    return ReplayDebtor(facts, policy, numbers, eager=rng.random() < config.eager_share,
                        unreachable=rng.random() < config.unreachable_share)


def _pick_region(rng: random.Random) -> tuple[str, tuple[str, ...], int, tuple[str, ...], float]:
    roll = rng.random()
    for region in REGIONS:
        if roll < region[4]:
            return region
        roll -= region[4]
    return REGIONS[-1]


def _make_numbers(debtor_id: int, rng: random.Random, start: datetime,
                  days: int) -> tuple[NumberFacts, ...]:
    numbers = []
    own = rng.randint(1, 3)
    for i in range(own + (rng.random() < 0.3)):
        lists: set[str] = set()
        expiry: dict[str, datetime] = {}
        roll = rng.random()
        if roll < 0.02:
            lists.add(GLOBAL_LIST)
        elif roll < 0.04:
            lists.add(f"campaign:{rng.randint(1, 3)}")  # sometimes another campaign's list
        elif roll < 0.06:
            lists.add(GLOBAL_LIST)
            expiry[GLOBAL_LIST] = start + timedelta(seconds=rng.randint(0, days * 86400))
        numbers.append(NumberFacts(f"n{debtor_id}-{i}", third_party=i >= own,
                                   on_lists=frozenset(lists),
                                   list_expiry=expiry))
    return tuple(numbers)


def _consent(rng: random.Random, start: datetime, end: datetime) -> datetime | None:
    roll = rng.random()
    if roll < 0.03:
        return None
    if roll < 0.13:  # expires during the replay
        return start + (end - start) * rng.random()
    return end + timedelta(days=365)


def _inconvenient(rng: random.Random) -> tuple[InconvenientWindow, ...]:
    if rng.random() >= 0.1:
        return ()
    return tuple(InconvenientWindow(rng.randint(0, 6), time(h), time(h + rng.randint(1, 3)))
                 for h in rng.sample(range(8, 19), rng.randint(1, 2)))


def _candidates(debtor: ReplayDebtor, rng: random.Random,
                config: ReplayConfig) -> list[tuple[datetime, int]]:
    per_day = config.eager_candidates_per_day if debtor.eager else config.candidates_per_day
    found = []
    for day in range(config.days):
        base = config.start + timedelta(days=day)
        for _ in range(per_day):
            index = 0 if debtor.eager else rng.randrange(len(debtor.numbers))
            found.append((base + timedelta(seconds=rng.randrange(86400)), index))
    heapq.heapify(found)
    return found


def _simulate(debtor: ReplayDebtor, rng: random.Random, config: ReplayConfig, packs: Packs,
              result: ReplayResult) -> list[ContactAttempt]:
    queue = _candidates(debtor, rng, config)
    end = config.start + timedelta(days=config.days)
    history: list[ContactAttempt] = []
    not_before: dict[int, datetime] = {}
    retries: set[tuple[datetime, int]] = set()
    while queue:
        at, index = heapq.heappop(queue)
        if config.gate_enabled and at < not_before.get(index, at):
            continue
        number = debtor.numbers[index]
        if config.gate_enabled:
            decision = decide(debtor.facts, number, debtor.policy, history, at, packs)
            result.decisions += 1
            if not decision.allowed:
                result.denials[str(decision.reason)] += 1
                until = decision.until or NEVER
                not_before[index] = until
                if until < end and (until, index) not in retries:
                    retries.add((until, index))
                    heapq.heappush(queue, (until, index))
                continue
        history.append(_outcome(rng, at, number, debtor))
        not_before.clear()
    return history


def _outcome(rng: random.Random, at: datetime, number: NumberFacts,
             debtor: ReplayDebtor) -> ContactAttempt:
    key, ref, automated = number.number_key, debtor.policy.debt_ref, debtor.policy.automated
    roll = rng.random()
    if roll < 0.45 or (debtor.unreachable and not number.third_party):
        return ContactAttempt(at=at, number_key=key, debt_ref=ref, automated=automated)
    if roll < 0.55:
        return ContactAttempt(at=at, number_key=key, debt_ref=ref, automated=automated,
                              machine=True)
    if roll < 0.60:
        return ContactAttempt(at=at, number_key=key, debt_ref=ref, automated=automated,
                              answered=True, abandoned=True)
    right_party = not number.third_party and rng.random() < 0.8
    refused = number.third_party and rng.random() < 0.3
    seconds = float(int(rng.expovariate(1 / 45)))  # whole seconds: exact in SQL too
    return ContactAttempt(at=at, number_key=key, debt_ref=ref, automated=automated,
                          answered=True, right_party=right_party, conversation_s=seconds,
                          third_party_refused=refused)
