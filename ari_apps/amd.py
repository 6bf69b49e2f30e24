"""The answering-machine check, shared by the voice bot and agent calls.

The call leaves Stasis for the dialplan's AMD() (`[huilong-amd]` in
dialplans/extensions_huilong.conf), which sends it back with the verdict as Stasis
arguments; the event reader turns that StasisStart into an `AmdVerdict` for the call's
flow. Human-first: only a greeting too long or too wordy for a person is a machine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

AMD_CONTEXT = "huilong-amd"
AMD_TIMEOUT_S = 10.0  # amd.conf's total_analysis_time (5 s) and then some


@dataclass(frozen=True, slots=True)
class AmdVerdict:
    """What the dialplan's AMD() said: status HUMAN / MACHINE / NOTSURE / HANGUP and
    its cause (e.g. "LONGGREETING-2000-1500", "INITIALSILENCE-2500-2500")."""

    status: str
    cause: str


def is_machine(verdict: AmdVerdict) -> bool:
    """Human-first: only a greeting too long or too wordy for a person counts as a
    machine. Silence after answering (people often wait for the caller to speak), a
    verdict of NOTSURE, or no verdict at all, all mean a person."""
    return verdict.status == "MACHINE" and verdict.cause.startswith(("LONGGREETING", "MAXWORDS"))


class AmdControl(Protocol):
    async def subscribe_channel(self, app: str, channel_id: str) -> None: ...
    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str,
                                   priority: int) -> None: ...


async def check_for_machine(ari: AmdControl, app: str, channel_id: str,
                            verdict: Callable[[], Awaitable[AmdVerdict]]) -> AmdVerdict | None:
    """Run AMD() on the answered call; the verdict, or None when none came in time (then
    the call is treated as a person). The explicit subscription keeps the call's events
    (a hang-up) coming while it is in the dialplan, outside Stasis. `verdict` waits for
    the flow's next AmdVerdict signal."""
    await ari.subscribe_channel(app, channel_id)
    await ari.continue_in_dialplan(channel_id, AMD_CONTEXT, "s", 1)
    try:
        async with asyncio.timeout(AMD_TIMEOUT_S):
            result = await verdict()
    except TimeoutError:
        log.warning("call %s: no answering-machine verdict in %g s; treated as a person",
                    channel_id, AMD_TIMEOUT_S)
        return None
    log.info("call %s: answering-machine check %s (%s): %s", channel_id, result.status,
             result.cause or "-", "machine" if is_machine(result) else "person")
    return result
