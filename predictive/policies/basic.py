"""The simple pacing policies: preview, progressive and a fixed dial ratio."""

from __future__ import annotations

from dataclasses import dataclass, field

from predictive.model import CallOutcome, DialerState


@dataclass(slots=True)
class Progressive:
    """One line per ready agent: dial `ready − ringing`. Never abandons a call while the
    drop time exceeds the time an agent needs to take it."""

    name: str = "progressive"
    tick_s: float = 1.0

    def dials(self, state: DialerState) -> int:
        return max(0, state.agents_ready - state.calls_ringing)

    def observe(self, outcome: CallOutcome) -> None:
        """Progressive dialling learns nothing."""


@dataclass(slots=True)
class Preview:
    """An agent reads the account for `preview_s` seconds, then dials it: one call per
    ready agent, placed only when that agent has had no call for `preview_s`.

    A ready agent without a call (`ready − ringing` of them) starts a preview clock; its
    call goes out when the clock reaches `preview_s`."""

    name: str = "preview"
    tick_s: float = 1.0
    preview_s: float = 5.0
    _started: list[float] = field(default_factory=list)  # oldest first

    def dials(self, state: DialerState) -> int:
        free = max(0, state.agents_ready - state.calls_ringing)
        while len(self._started) > free:
            self._started.pop()  # newest previews first: those agents took a call
        self._started.extend([state.now] * (free - len(self._started)))
        due = sum(1 for t in self._started if state.now - t >= self.preview_s)
        del self._started[:due]
        return due

    def observe(self, outcome: CallOutcome) -> None:
        """Preview dialling learns nothing."""


@dataclass(slots=True)
class FixedRatio:
    """`round(ratio × ready) − ringing` lines: the oldest predictive dialler."""

    ratio: float = 1.5
    name: str = "fixed_ratio"
    tick_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.ratio >= 1.0:
            raise ValueError(f"ratio must be ≥ 1, got {self.ratio!r}")

    def dials(self, state: DialerState) -> int:
        return max(0, int(self.ratio * state.agents_ready + 0.5) - state.calls_ringing)

    def observe(self, outcome: CallOutcome) -> None:
        """A fixed ratio learns nothing."""
