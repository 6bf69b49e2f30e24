"""The campaign's `best_time` setting: defaults and errors that name the field."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.best_time_planner import BestTimeError, parse_setting
from predictive.best_time import Goal, every_day


def test_defaults_rank_by_right_party_within_the_usual_day() -> None:
    assert parse_setting(True) == (Goal.RIGHT_PARTY, every_day(8, 21), timedelta(hours=24))
    goal, hours, horizon = parse_setting({"goal": "answer", "hours": [9, 20], "horizon_h": 6})
    assert (goal, horizon) == (Goal.ANSWER, timedelta(hours=6))
    assert hours == every_day(9, 20) and len(hours) == 7 * 11


@pytest.mark.parametrize(("setting", "field"), [
    ({"goal": "money"}, "best_time.goal"),
    ({"hours": [21, 8]}, "best_time.hours"),
    ({"hours": [8]}, "best_time.hours"),
    ({"horizon_h": 0}, "best_time.horizon_h"),
    ({"horizon_h": "soon"}, "best_time.horizon_h"),
])
def test_bad_settings_name_the_field(setting: dict[str, object], field: str) -> None:
    with pytest.raises(BestTimeError, match=field):
        parse_setting(setting)
