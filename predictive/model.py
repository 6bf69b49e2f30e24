"""The pacing vocabulary shared by the simulator, the policies and the live dialer.

Pure (numpy at most): a policy sees a `DialerState` snapshot each tick and answers how
many new calls to place; it learns from `CallOutcome`s. The same policy objects run in
the discrete-event simulator and in the live campaign runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DialerState:
    """What the dialer knows at one instant. Times in seconds since the run began.

    Agents are logged in = ready + in_call + wrap_up + paused. Calls are ringing (dialled,
    no verdict yet), waiting (a person answered, no agent yet) or connected (talking to
    an agent)."""

    now: float
    agents_logged_in: int
    agents_ready: int
    agents_in_call: int
    agents_wrap_up: int
    calls_ringing: int
    calls_waiting: int
    calls_connected: int
    hour_of_day: int = 9

    @property
    def agents_paused(self) -> int:
        return (self.agents_logged_in - self.agents_ready - self.agents_in_call
                - self.agents_wrap_up)


class Result(StrEnum):
    NO_ANSWER = "no_answer"        # busy, no answer, congestion, invalid: nobody picked up
    MACHINE = "machine"            # an answering machine (correctly detected)
    CONNECTED = "connected"        # a live person reached an agent within the drop time
    ABANDONED = "abandoned"        # a live person found no agent within the drop time
    AMD_FALSE_POSITIVE = "amd_fp"  # a live person hung up on as a machine


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """One finished dial, reported to the policy (and its estimators) when known.

    `ring_s`: dial to answer or give-up. `talk_s`/`wrap_s` only for connected calls.
    `at`: when the outcome became known (seconds since the run began)."""

    at: float
    result: Result
    ring_s: float
    hour_of_day: int
    talk_s: float | None = None
    wrap_s: float | None = None


class Policy(Protocol):
    """A pacing policy. `tick_s`: how often the dialer asks it."""

    name: str
    tick_s: float

    def dials(self, state: DialerState) -> int:
        """How many new calls to place now (≥ 0)."""
        ...

    def observe(self, outcome: CallOutcome) -> None:
        """Learn from a finished call."""
        ...
