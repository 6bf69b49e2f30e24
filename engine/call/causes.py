"""Final dispositions of a call attempt, derived from Q.850 hangup causes.

One table, read top to bottom by a person: the cause Asterisk reports on
ChannelDestroyed → what it means for a collection attempt. An answered call is
`answered` whatever the cause that ended it; a call we hung up ourselves before
answer is `cancelled`. Anything the table does not know — cause 0 included — is
`failed`, never silently a busy or no-answer.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType


class Disposition(StrEnum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    INVALID_NUMBER = "invalid_number"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"
    FAILED = "failed"
    LOST = "lost"


# Q.850 cause → disposition for calls that were never answered.
UNANSWERED_CAUSES: MappingProxyType[int, Disposition] = MappingProxyType({
    1: Disposition.INVALID_NUMBER,   # unallocated number (SIP 404)
    2: Disposition.INVALID_NUMBER,   # no route to the specified transit network
    3: Disposition.INVALID_NUMBER,   # no route to destination
    22: Disposition.INVALID_NUMBER,  # number changed (SIP 410)
    28: Disposition.INVALID_NUMBER,  # invalid number format (SIP 484)
    16: Disposition.NO_ANSWER,       # cleared while ringing: the callee let it go
    17: Disposition.BUSY,            # user busy (SIP 486/600)
    18: Disposition.NO_ANSWER,       # no user responding (SIP 408)
    19: Disposition.NO_ANSWER,       # alerted, no answer (SIP 480 / our ring timeout)
    20: Disposition.UNREACHABLE,     # subscriber absent (phone off)
    27: Disposition.UNREACHABLE,     # destination out of order (SIP 502)
    21: Disposition.REJECTED,        # call rejected (SIP 403/603)
    31: Disposition.FAILED,          # normal, unspecified
    34: Disposition.CONGESTION,      # no circuit available (SIP 503)
    38: Disposition.CONGESTION,      # network out of order
    41: Disposition.CONGESTION,      # temporary failure
    42: Disposition.CONGESTION,      # switching equipment congestion
    44: Disposition.CONGESTION,      # requested channel not available
    47: Disposition.CONGESTION,      # resource unavailable
    58: Disposition.CONGESTION,      # bearer capability not available (SIP 488)
})


def disposition_for(*, answered: bool, cause: int | None, we_hung_up: bool) -> Disposition:
    """The final disposition of one attempt.

    `cause` is the Q.850 cause from Asterisk (None when no channel event said one).
    """
    if answered:
        return Disposition.ANSWERED
    if we_hung_up:
        return Disposition.CANCELLED
    if cause is None:
        return Disposition.LOST
    return UNANSWERED_CAUSES.get(cause, Disposition.FAILED)


RETRYABLE: frozenset[Disposition] = frozenset({
    Disposition.BUSY, Disposition.NO_ANSWER, Disposition.CONGESTION, Disposition.UNREACHABLE,
    Disposition.CANCELLED, Disposition.FAILED, Disposition.LOST,
})
