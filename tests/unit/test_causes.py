"""Q.850 hangup cause → final disposition of a collection attempt."""

from __future__ import annotations

import pytest

from engine.call.causes import RETRYABLE, UNANSWERED_CAUSES, Disposition, disposition_for

D = Disposition

# Written out independently of the module's table: what each cause means for an attempt.
EXPECTED = {
    1: D.INVALID_NUMBER, 2: D.INVALID_NUMBER, 3: D.INVALID_NUMBER, 22: D.INVALID_NUMBER,
    28: D.INVALID_NUMBER,
    16: D.NO_ANSWER, 18: D.NO_ANSWER, 19: D.NO_ANSWER,
    17: D.BUSY,
    20: D.UNREACHABLE, 27: D.UNREACHABLE,
    21: D.REJECTED,
    31: D.FAILED,
    34: D.CONGESTION, 38: D.CONGESTION, 41: D.CONGESTION, 42: D.CONGESTION, 44: D.CONGESTION,
    47: D.CONGESTION, 58: D.CONGESTION,
}


@pytest.mark.parametrize(("cause", "expected"), sorted(EXPECTED.items()))
def test_unanswered_cause_table(cause: int, expected: Disposition) -> None:
    """Steps: an unanswered call ends with `cause`, we did not hang up.
    Expected: the disposition a collector would write down for that cause."""
    assert disposition_for(answered=False, cause=cause, we_hung_up=False) is expected


def test_module_table_has_no_cause_beyond_the_expected_ones() -> None:
    """Steps: compare the module's table with the expected one.
    Expected: same causes and meanings (a new mapping must be reviewed here too)."""
    assert dict(UNANSWERED_CAUSES) == EXPECTED


@pytest.mark.parametrize("cause", [0, 999, -1, 102, 127])
def test_unknown_causes_are_failed_never_busy_or_no_answer(cause: int) -> None:
    """Steps: unanswered call ending with cause 0, 999, a negative or an unlisted one.
    Expected: FAILED."""
    assert disposition_for(answered=False, cause=cause, we_hung_up=False) is D.FAILED


def test_no_cause_at_all_is_lost() -> None:
    """Steps: unanswered call whose end no channel event described (cause None).
    Expected: LOST, distinct from FAILED."""
    assert disposition_for(answered=False, cause=None, we_hung_up=False) is D.LOST


@pytest.mark.parametrize("cause", [None, 0, 16, 17, 34, 999])
@pytest.mark.parametrize("we_hung_up", [False, True])
def test_answered_wins_over_cause_and_our_hangup(cause: int | None, we_hung_up: bool) -> None:
    """Steps: an answered call ends with any cause, hung up by us or not.
    Expected: ANSWERED every time."""
    assert disposition_for(answered=True, cause=cause, we_hung_up=we_hung_up) is D.ANSWERED


@pytest.mark.parametrize("cause", [None, 0, 16, 17, 19, 34, 999])
def test_we_hung_up_before_answer_is_cancelled(cause: int | None) -> None:
    """Steps: unanswered call that we hung up, whatever cause Asterisk reports.
    Expected: CANCELLED (our decision, not the debtor's line)."""
    assert disposition_for(answered=False, cause=cause, we_hung_up=True) is D.CANCELLED


def test_retryable_dispositions() -> None:
    """Steps: read RETRYABLE. Expected: a person reached, a wrong number or an explicit
    rejection is not retried; every line or engine problem is."""
    assert set(D) - RETRYABLE == {D.ANSWERED, D.INVALID_NUMBER, D.REJECTED}


def test_disposition_values_are_stable_strings() -> None:
    """Steps: read the values stored in the database. Expected: the documented spellings."""
    assert [d.value for d in D] == [
        "answered", "busy", "no_answer", "congestion", "invalid_number", "rejected",
        "unreachable", "cancelled", "failed", "lost"]
