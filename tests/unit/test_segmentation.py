"""Segmentation rules: the shipped default, the rules-file validation, priorities."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.segmentation.rules import DebtorFacts, RulesError, Strategy, load_rules

RULES = load_rules()


def facts(days: int, amount: str, ratio: str | None = None, broken: int = 0,
          rating: str | None = None) -> DebtorFacts:
    return DebtorFacts(overdue_days=days, amount_due=Decimal(amount),
                       on_time_ratio=None if ratio is None else Decimal(ratio),
                       broken_promises=broken, credit_rating=rating)


@pytest.mark.parametrize(("debtor", "segment", "strategy"), [
    (facts(3, "800", "0.95"), "early_reliable", Strategy.SMS),
    (facts(3, "800", None), "early", Strategy.VOICE_BOT),          # no history: not "reliable"
    (facts(3, "800", "0.95", broken=1), "early", Strategy.VOICE_BOT),
    (facts(20, "20000", "0.5", broken=1), "early", Strategy.VOICE_BOT),
    (facts(20, "20000", "0.5", broken=2), "mid", Strategy.AGENT_CALL),
    (facts(60, "999.99"), "mid_small", Strategy.VOICE_BOT),
    (facts(60, "1000.01"), "mid", Strategy.AGENT_CALL),
    (facts(120, "50000"), "late_large_or_repeated", Strategy.FIELD_VISIT),
    (facts(120, "100", broken=3), "late_large_or_repeated", Strategy.FIELD_VISIT),
    (facts(120, "49999.99", broken=2), "late", Strategy.AGENT_CALL),
])
def test_default_rules_follow_the_collection_practice(debtor, segment, strategy):
    """Steps: assign representative debtors with the shipped rules.
    Expected: gentle strategies for short overdue and good history, a person for long
    overdue, field visits for large or repeatedly broken debts; boundaries inclusive."""
    result = RULES.assign(debtor)
    assert (result.segment, result.strategy) == (segment, strategy)


def test_priority_is_exact_decimal_and_orders_longest_and_largest_first():
    """Steps: score three debtors.
    Expected: exact Decimal scores (1/day + 2/thousand + 10/broken + rating); more days
    or more money never scores lower."""
    assert RULES.assign(facts(10, "1500")).priority == Decimal("13.0000")
    assert RULES.assign(facts(10, "1500", broken=2, rating="C")).priority == Decimal("48.0000")
    assert RULES.assign(facts(200, "100")).priority > RULES.assign(facts(100, "100")).priority


@settings(max_examples=300)
@given(days=st.integers(0, 3650), amount=st.decimals("0", "10000000", places=2),
       ratio=st.none() | st.decimals("0", "1", places=3), broken=st.integers(0, 50),
       rating=st.none() | st.sampled_from(["A", "B", "C", "D", "Z"]),
       more_days=st.integers(0, 100), more_amount=st.decimals("0", "100000", places=2))
def test_every_debtor_gets_a_segment_and_priority_is_monotonic(days, amount, ratio, broken,
                                                               rating, more_days, more_amount):
    """Steps: any facts, then the same debtor more overdue and owing more.
    Expected: a segment from the file always; the priority never decreases."""
    base = DebtorFacts(days, amount, ratio, broken, rating)
    worse = DebtorFacts(days + more_days, amount + more_amount, ratio, broken, rating)
    assert RULES.assign(base).segment in RULES.names
    assert RULES.assign(worse).priority >= RULES.assign(base).priority


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_rules_file_without_a_catch_all_is_refused(tmp_path):
    """Steps: a rules file whose last segment has a condition.
    Expected: RulesError naming the file and the segment that must catch the rest."""
    path = write(tmp_path, 'version = 1\n[[segment]]\nname = "only"\nstrategy = "sms"\n'
                           'overdue_days = { max = 5 }\n')
    with pytest.raises(RulesError, match=r"rules\.toml.*only.*no conditions"):
        load_rules(path)


def test_errors_name_the_segment_and_key(tmp_path):
    """Steps: a segment with an unknown strategy and a misspelt condition key.
    Expected: one RulesError naming segment [first] and both keys."""
    path = write(tmp_path, 'version = 1\n[[segment]]\nname = "first"\nstrategy = "letter"\n'
                           'overdue_dayz = { max = 5 }\n[[segment]]\nname = "rest"\n'
                           'strategy = "sms"\n')
    with pytest.raises(RulesError) as error:
        load_rules(path)
    message = str(error.value)
    assert "segment.[first].strategy" in message and "segment.[first].overdue_dayz" in message


def test_unreadable_rules_file_is_a_clear_error(tmp_path):
    """Steps: a rules file that is not TOML. Expected: RulesError naming the file."""
    with pytest.raises(RulesError, match=r"rules\.toml: cannot read"):
        load_rules(write(tmp_path, "version = = 1"))
