"""What the compliance gate decides on, and what it answers. Pure data, no I/O.

Times are aware datetimes; the gate works in UTC and converts to the debtor's zones
itself. A debtor's `timezones` lists every plausible zone (area code, address, ...),
the first being the primary one used for "local day" rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from types import MappingProxyType

GLOBAL_LIST = "global"
KNOWN_PACKS = ("CN", "US", "UK")

_EMPTY: Mapping[str, datetime] = MappingProxyType({})
_NO_OVERRIDES: Mapping[str, Mapping[str, object]] = MappingProxyType({})


class Reason(StrEnum):
    """Stable reason codes: stored with each decision, shown by `huilong explain`."""

    CN_QUIET_HOURS = "cn.quiet_hours"
    CN_NUMBER_DAILY_CAP = "cn.number_daily_cap"
    CN_DEBTOR_CONVERSATION_CAP = "cn.debtor_conversation_cap"
    CN_THIRD_PARTY_NOT_YET = "cn.third_party_not_yet"
    CN_THIRD_PARTY_REFUSED = "cn.third_party_refused"
    US_CALLING_WINDOW = "us.calling_window"
    US_SEVEN_IN_SEVEN = "us.seven_in_seven"
    US_AFTER_CONVERSATION = "us.after_conversation"
    US_OPT_OUT = "us.opt_out"
    US_CEASE = "us.cease"
    US_ATTORNEY = "us.attorney"
    UK_ABANDON_72H = "uk.abandon_72h"
    UK_MACHINE_SAME_DAY = "uk.machine_same_day"
    OPT_OUT = "opt_out"
    DNC = "dnc"
    HOLIDAY = "holiday"
    NO_CONSENT = "no_consent"
    INCONVENIENT_TIME = "inconvenient_time"


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


@dataclass(frozen=True, slots=True)
class InconvenientWindow:
    """A debtor's stated bad time: `weekday` (0 = Monday) from `start` to `end`
    (exclusive), debtor local time (primary zone)."""

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0..6 (Monday = 0), got {self.weekday}")
        if not self.start < self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")


@dataclass(frozen=True, slots=True)
class ContactAttempt:
    """One past attempt. `at` is when it was placed; a conversation ends at
    `at + conversation_s`. `answered` means a person (not a machine) picked up."""

    at: datetime
    number_key: str
    debt_ref: str | None = None
    placed: bool = True
    answered: bool = False
    right_party: bool = False
    conversation_s: float = 0.0
    abandoned: bool = False
    machine: bool = False
    automated: bool = True
    third_party_refused: bool = False

    def __post_init__(self) -> None:
        _require_aware("ContactAttempt.at", self.at)

    def __reduce__(self) -> tuple[type[ContactAttempt], tuple[object, ...]]:
        # Positional fields: pickles (a replay's rows crossing processes) several times
        # faster than the slots dataclass default (__getstate__ via fields()).
        return (ContactAttempt, (self.at, self.number_key, self.debt_ref, self.placed,
                                 self.answered, self.right_party, self.conversation_s,
                                 self.abandoned, self.machine, self.automated,
                                 self.third_party_refused))

    @property
    def right_party_contact(self) -> bool:
        return self.placed and self.answered and self.right_party


@dataclass(frozen=True, slots=True)
class DebtorFacts:
    """The debtor as the gate needs it. `on_lists` / `list_expiry` are do-not-call
    listings of the debtor (a name absent from `list_expiry` never expires)."""

    debtor_id: int
    timezones: tuple[str, ...]
    region: str
    opted_out: bool = False
    cease: bool = False
    attorney: bool = False
    consent_until: datetime | None = None
    inconvenient: tuple[InconvenientWindow, ...] = ()
    own_number_keys: frozenset[str] = frozenset()
    on_lists: frozenset[str] = frozenset()
    list_expiry: Mapping[str, datetime] = field(default_factory=lambda: _EMPTY, hash=False)

    def __post_init__(self) -> None:
        if not self.timezones:
            raise ValueError(f"debtor {self.debtor_id}: at least one time zone is required")
        _require_aware("DebtorFacts.consent_until", self.consent_until)


@dataclass(frozen=True, slots=True)
class NumberFacts:
    """A number by its blind-index key; `third_party` when it belongs to someone
    other than the debtor. Listings as on `DebtorFacts`."""

    number_key: str
    third_party: bool = False
    on_lists: frozenset[str] = frozenset()
    list_expiry: Mapping[str, datetime] = field(default_factory=lambda: _EMPTY, hash=False)


@dataclass(frozen=True, slots=True)
class CampaignPolicy:
    """The campaign's side: which rule packs apply, which do-not-call lists (besides
    the global one), whether consent is required, whether calls are automated, the
    debt being collected, and per-pack parameter overrides ({"CN": {"...": 5}})."""

    campaign_id: int | None = None
    packs: tuple[str, ...] = ("CN",)
    dnc_lists: frozenset[str] = frozenset()
    requires_consent: bool = False
    automated: bool = True
    debt_ref: str | None = None
    overrides: Mapping[str, Mapping[str, object]] = field(default_factory=lambda: _NO_OVERRIDES,
                                                        hash=False)

    def __post_init__(self) -> None:
        unknown = [name for name in self.packs if name not in KNOWN_PACKS]
        if unknown:
            raise ValueError(f"unknown rule pack(s) {unknown}; known: {', '.join(KNOWN_PACKS)}")


@dataclass(frozen=True, slots=True)
class Decision:
    """Allowed (with `next_allowed_at`: earliest further attempt once this one is
    placed, None = never) or denied (`reason`, `until` = when allowed, None = never).
    `details` has one line per rule that denied."""

    allowed: bool
    reason: Reason | None = None
    until: datetime | None = None
    next_allowed_at: datetime | None = None
    details: tuple[str, ...] = ()
