"""UK pack (Ofcom): 72 h after an abandoned call, no repeat the day a machine
answered — automated calls only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.compliance import (
    CampaignPolicy,
    ContactAttempt,
    DebtorFacts,
    NumberFacts,
    Packs,
    Reason,
    decide,
)
from engine.compliance.packs import UkPack

UK = CampaignPolicy(campaign_id=3, packs=("UK",), automated=True)
LONDON = DebtorFacts(9, ("Europe/London",), "GB", own_number_keys=frozenset({"n-1"}))
NUMBER = NumberFacts("n-1")
DAY = timedelta(days=1)


@settings(max_examples=200, deadline=None)
@given(abandoned_at=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2025, 1, 1),
                                 timezones=st.just(UTC)),
       later_s=st.integers(0, 5 * 24 * 3600))
def test_no_automated_redial_within_72h_of_abandon(abandoned_at: datetime,
                                                   later_s: int) -> None:
    """Steps: an abandoned call at any instant; ask any time in the next 5 days.
    Expected: denied uk.abandon_72h iff less than 72 h have passed, until exactly
    abandoned_at + 72 h; an agent (non-automated) campaign is not held back."""
    history = [ContactAttempt(abandoned_at, "n-1", answered=True, abandoned=True)]
    now = abandoned_at + timedelta(seconds=later_s)
    decision = decide(LONDON, NUMBER, UK, history, now)
    if later_s < 72 * 3600:
        assert decision.reason is Reason.UK_ABANDON_72H
        assert decision.until == abandoned_at + timedelta(hours=72)
        agent = CampaignPolicy(campaign_id=3, packs=("UK",), automated=False)
        assert decide(LONDON, NUMBER, agent, history, now).allowed
    else:
        assert decision.allowed


def test_machine_same_local_day_across_dst_end() -> None:
    """Steps: a machine answered at 09:00 BST on 2024-10-27 (clocks go back at 02:00);
    ask at 23:30 GMT the same day, then at 00:00 GMT on 2024-10-28, and on another
    number at 23:30.
    Expected: denied uk.machine_same_day until 2024-10-28 00:00 GMT; allowed at that
    instant; the other number allowed."""
    history = [ContactAttempt(datetime(2024, 10, 27, 8, tzinfo=UTC), "n-1", machine=True)]
    late = datetime(2024, 10, 27, 23, 30, tzinfo=UTC)
    decision = decide(LONDON, NUMBER, UK, history, late)
    assert decision.reason is Reason.UK_MACHINE_SAME_DAY
    assert decision.until == datetime(2024, 10, 28, 0, tzinfo=UTC)
    assert decide(LONDON, NUMBER, UK, history, decision.until).allowed
    assert decide(LONDON, NumberFacts("n-2"), UK, history, late).allowed


def test_machine_rule_can_be_switched_off() -> None:
    """Steps: same machine history, pack with machine_same_day=False.
    Expected: allowed."""
    history = [ContactAttempt(datetime(2024, 10, 27, 8, tzinfo=UTC), "n-1", machine=True)]
    packs = Packs(uk=UkPack(machine_same_day=False))
    assert decide(LONDON, NUMBER, UK, history, datetime(2024, 10, 27, 12, tzinfo=UTC),
                  packs).allowed
