"""Segmentation rules: debtor facts → segment, strategy and priority score.

Pure: the rules file is parsed into frozen objects (pydantic at the edge, errors name
the segment and key), and `assign(facts)` is a plain function. Money is Decimal.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_RULES = Path(__file__).with_name("default_rules.toml")
FACTS = ("overdue_days", "amount_due", "on_time_ratio", "broken_promises")


class Strategy(StrEnum):
    SMS = "sms"
    VOICE_BOT = "voice_bot"
    AGENT_CALL = "agent_call"
    FIELD_VISIT = "field_visit"


class RulesError(ValueError):
    """The rules file cannot be used; the message names the file, segment and key."""


@dataclass(frozen=True, slots=True)
class DebtorFacts:
    overdue_days: int
    amount_due: Decimal
    on_time_ratio: Decimal | None = None
    broken_promises: int = 0
    credit_rating: str | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    segment: str
    strategy: Strategy
    priority: Decimal


class _Range(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min: Decimal | None = None
    max: Decimal | None = None

    def holds(self, value: Decimal | int | None) -> bool:
        if value is None:
            return False
        if self.min is not None and value < self.min:
            return False
        return self.max is None or value <= self.max


class _Conditions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    overdue_days: _Range | None = None
    amount_due: _Range | None = None
    on_time_ratio: _Range | None = None
    broken_promises: _Range | None = None
    credit_rating: tuple[str, ...] | None = None

    def holds(self, facts: DebtorFacts) -> bool:
        for name in FACTS:
            condition: _Range | None = getattr(self, name)
            if condition is not None and not condition.holds(getattr(facts, name)):
                return False
        if self.credit_rating is not None:
            return facts.credit_rating in self.credit_rating
        return True


class _Segment(_Conditions):
    name: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    strategy: Strategy
    any: tuple[_Conditions, ...] = ()

    def matches(self, facts: DebtorFacts) -> bool:
        if not self.holds(facts):
            return False
        return not self.any or any(alternative.holds(facts) for alternative in self.any)


class _Priority(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    per_overdue_day: Decimal = Decimal(1)
    per_thousand_due: Decimal = Decimal(1)
    amount_cap: Decimal = Decimal(1_000_000)
    per_broken_promise: Decimal = Decimal(0)
    credit_rating: dict[str, Decimal] = {}

    def score(self, facts: DebtorFacts) -> Decimal:
        amount = min(facts.amount_due, self.amount_cap)
        score = (self.per_overdue_day * facts.overdue_days
                 + self.per_thousand_due * amount / 1000
                 + self.per_broken_promise * facts.broken_promises
                 + self.credit_rating.get(facts.credit_rating or "", Decimal(0)))
        return score.quantize(Decimal("0.0001"))


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    segment: tuple[_Segment, ...]
    priority: _Priority = _Priority()

    @field_validator("segment")
    @classmethod
    def _ends_with_a_catch_all(cls, segments: tuple[_Segment, ...]) -> tuple[_Segment, ...]:
        if not segments:
            raise ValueError("at least one segment is needed")
        names = [s.name for s in segments]
        if len(names) != len(set(names)):
            raise ValueError("segment names must be unique")
        last = segments[-1]
        if any(getattr(last, name) is not None for name in (*FACTS, "credit_rating")) or last.any:
            raise ValueError(f"the last segment ({last.name}) must have no conditions, "
                             "so every debtor gets one")
        return segments

    def assign(self, facts: DebtorFacts) -> Assignment:
        for segment in self.segment:
            if segment.matches(facts):
                return Assignment(segment.name, segment.strategy, self.priority.score(facts))
        raise AssertionError("the catch-all segment always matches")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.segment)


def load_rules(path: Path = DEFAULT_RULES) -> RuleSet:
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(f"{path}: cannot read the rules: {exc}") from None
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = list(error["loc"])
            if len(loc) >= 2 and loc[0] == "segment" and isinstance(loc[1], int):
                segments = data.get("segment") or []
                name = segments[loc[1]].get("name", loc[1]) if loc[1] < len(segments) else loc[1]
                loc[1] = f"[{name}]"
            problems.append(f"{'.'.join(str(p) for p in loc)}: {error['msg']}")
        raise RulesError(f"{path}: " + "; ".join(problems)) from None
