"""Rule pack parameters: one frozen dataclass per jurisdiction, with versioned defaults.

A deployment pins a version (`CN_2024`, ...) and may override single parameters from
its TOML settings, shaped like::

    [compliance.CN]
    version = "CN_2024"
    max_unanswered_per_number_per_day = 5
    window_start = "08:30"

`load_packs` turns such a mapping into `Packs`; every error names the offending key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any

from engine.compliance.model import KNOWN_PACKS


class PackConfigError(ValueError):
    """A rule pack setting is unknown or invalid; the message names the key."""


def _check_window(start: time, end: time) -> None:
    if not start < end:
        raise ValueError(f"window_start {start} must be before window_end {end}")


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if value <= 0:
            raise ValueError(f"{name} must be > 0, got {value}")


@dataclass(frozen=True, slots=True)
class CnPack:
    """China (default pack): calling window, daily caps, third-party contacts."""

    version: str = "CN_2024"
    window_start: time = time(8, 0)
    window_end: time = time(22, 0)
    max_unanswered_per_number_per_day: int = 6
    max_effective_conversations_per_day: int = 3
    effective_conversation_s: float = 30.0
    third_party_after_failed_attempts: int = 6
    third_party_after_days: int = 3
    avoid_holidays: bool = True

    def __post_init__(self) -> None:
        _check_window(self.window_start, self.window_end)
        _check_positive(
            max_unanswered_per_number_per_day=self.max_unanswered_per_number_per_day,
            max_effective_conversations_per_day=self.max_effective_conversations_per_day,
            effective_conversation_s=self.effective_conversation_s,
            third_party_after_failed_attempts=self.third_party_after_failed_attempts,
            third_party_after_days=self.third_party_after_days,
        )


@dataclass(frozen=True, slots=True)
class UsPack:
    """US Regulation F (12 CFR 1006): window in every plausible zone, 7-in-7, 7 days
    quiet after a conversation, opt-out / cease / attorney."""

    version: str = "US_REGF_2021"
    window_start: time = time(8, 0)
    window_end: time = time(21, 0)
    max_calls_per_debt: int = 7
    rolling_window_days: int = 7
    quiet_days_after_conversation: int = 7
    avoid_holidays: bool = False

    def __post_init__(self) -> None:
        _check_window(self.window_start, self.window_end)
        _check_positive(
            max_calls_per_debt=self.max_calls_per_debt,
            rolling_window_days=self.rolling_window_days,
            quiet_days_after_conversation=self.quiet_days_after_conversation,
        )


@dataclass(frozen=True, slots=True)
class UkPack:
    """UK Ofcom persistent-misuse policy for automated calls."""

    version: str = "UK_OFCOM_2016"
    abandon_quiet_hours: float = 72.0
    machine_same_day: bool = True
    avoid_holidays: bool = False

    def __post_init__(self) -> None:
        _check_positive(abandon_quiet_hours=self.abandon_quiet_hours)


CN_2024 = CnPack()
US_REGF_2021 = UsPack()
UK_OFCOM_2016 = UkPack()

VERSIONS: Mapping[str, Mapping[str, Any]] = {
    "CN": {"CN_2024": CN_2024},
    "US": {"US_REGF_2021": US_REGF_2021},
    "UK": {"UK_OFCOM_2016": UK_OFCOM_2016},
}


@dataclass(frozen=True, slots=True)
class Packs:
    """The parameters of every pack; a campaign's `packs` picks which apply."""

    cn: CnPack = CN_2024
    us: UsPack = US_REGF_2021
    uk: UkPack = UK_OFCOM_2016


DEFAULT_PACKS = Packs()
_ATTRIBUTE = {"CN": "cn", "US": "us", "UK": "uk"}


def load_packs(
    mapping: Mapping[str, object], *, base: Packs = DEFAULT_PACKS, prefix: str = "compliance"
) -> Packs:
    """Packs from a TOML-shaped mapping {pack: {param: value}}, on top of `base`.
    Raises PackConfigError naming the key (e.g. `compliance.CN.window_start`)."""
    packs = base
    for name, section in mapping.items():
        key = f"{prefix}.{name}"
        if name not in KNOWN_PACKS:
            raise PackConfigError(f"{key}: unknown rule pack (known: {', '.join(KNOWN_PACKS)})")
        if not isinstance(section, Mapping):
            raise PackConfigError(f"{key}: expected a table of parameters, got {section!r}")
        current = getattr(packs, _ATTRIBUTE[name])
        packs = dataclasses.replace(packs, **{_ATTRIBUTE[name]: _load_one(key, name, section,
                                                                          current)})
    return packs


def with_overrides(packs: Packs, overrides: Mapping[str, Mapping[str, object]]) -> Packs:
    """`packs` with a campaign's per-pack overrides applied."""
    return load_packs(overrides, base=packs, prefix="overrides") if overrides else packs


def _load_one(key: str, name: str, section: Mapping[str, object], current: Any) -> Any:
    version = section.get("version")
    if version is not None:
        if not isinstance(version, str):
            raise PackConfigError(f"{key}.version: expected a version name, got {version!r}")
        if version not in VERSIONS[name]:
            known = ", ".join(VERSIONS[name])
            raise PackConfigError(f"{key}.version: unknown version {version!r} (known: {known})")
        current = VERSIONS[name][version]
    types = {f.name: f.type for f in dataclasses.fields(current)}
    changes: dict[str, object] = {}
    for param, raw in section.items():
        if param == "version":
            continue
        if param not in types:
            raise PackConfigError(f"{key}.{param}: unknown parameter of pack {name}")
        changes[param] = _coerce(f"{key}.{param}", str(types[param]), raw)
    try:
        return dataclasses.replace(current, **changes)
    except ValueError as error:
        raise PackConfigError(f"{key}: {error}") from None


def _coerce(key: str, type_name: str, raw: object) -> object:
    if type_name == "bool":
        if isinstance(raw, bool):
            return raw
    elif type_name == "int":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
    elif type_name == "float":
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
    elif type_name == "time":
        return _coerce_time(key, raw)
    elif type_name == "str" and isinstance(raw, str):
        return raw
    raise PackConfigError(f"{key}: expected {type_name}, got {raw!r}")


def _coerce_time(key: str, raw: object) -> time:
    if isinstance(raw, time):
        return raw
    if isinstance(raw, str):
        try:
            return time.fromisoformat(raw)
        except ValueError:
            pass
    raise PackConfigError(f"{key}: expected a local time like \"08:00\", got {raw!r}")
