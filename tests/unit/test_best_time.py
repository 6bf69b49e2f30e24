"""Best time to call: the shrinkage, the fallbacks, and the dial-now-or-defer decision in
the debtor's own zone (DST and half-hour zones included), never beyond the horizon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from predictive.best_time import (
    BestTimeTable,
    DeferRule,
    Goal,
    HourCounts,
    Shrinkage,
    answer_prior,
    estimate_strength,
    every_day,
    fit_best_time,
    hour_of_week,
    hours_ahead,
    initial_answer_rate,
    local_hour_of_week,
    plan_call,
    quantile,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
RAW = Shrinkage(segment_strength=0.0, hour_strength=0.0)  # no shrinkage: raw rates
DAYTIME = every_day(8, 21)


def table_of(rates: dict[int, float], segment: str = "s", n: int = 10_000,
             rpc_share: float = 0.5) -> BestTimeTable:
    """A table whose `segment` has exactly these answer rates (raw, n attempts each)."""
    counts = {(segment, how): HourCounts(n, round(p * n), round(p * n * rpc_share))
              for how, p in rates.items()}
    return fit_best_time(counts, RAW)


def monday(hour: int, minute: int = 0, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(2024, 6, 3, hour, minute, tzinfo=zone)  # 3 June 2024 is a Monday


# --- hours of week --------------------------------------------------------------------


def test_hour_of_week_counts_from_monday_midnight_in_the_debtors_zone() -> None:
    """Steps: Monday 00:00, Monday 20:00, Sunday 23:59; one UTC instant seen from
    Shanghai and New York. Expected: 0, 20, 167; Monday 20:00 in Shanghai, Monday 08:00
    in New York."""
    assert hour_of_week(monday(0)) == 0
    assert hour_of_week(monday(20)) == 20
    assert hour_of_week(datetime(2024, 6, 9, 23, 59)) == 167
    instant = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
    assert local_hour_of_week(instant, SHANGHAI) == 20
    assert local_hour_of_week(instant, NEW_YORK) == 8
    with pytest.raises(ValueError, match="aware"):
        local_hour_of_week(datetime(2024, 6, 3, 12, 0), SHANGHAI)


# --- shrinkage ------------------------------------------------------------------------


def test_fixed_strengths_give_the_beta_binomial_posterior_means() -> None:
    """Steps: segment a: hour 10 with 900 attempts / 270 live / 90 right party, hour 11
    with 10 / 10 / 5; segment b: hour 10 with 100 / 10 / 2; k = 50 for segments, 20 for
    hours. Expected: campaign mean = pooled raw rate; segment mean = (hits + 50·campaign)
    / (n + 50); hour = (hits + 20·segment mean) / (n + 20), for both goals."""
    counts = {("a", 10): HourCounts(900, 270, 90), ("a", 11): HourCounts(10, 10, 5),
              ("b", 10): HourCounts(100, 10, 2)}
    table = fit_best_time(counts, Shrinkage(segment_strength=50.0, hour_strength=20.0))
    assert table.attempts == 1010
    assert table.campaign.answer == pytest.approx(290 / 1010)
    assert table.campaign.right_party == pytest.approx(97 / 1010)
    mean_a = (280 + 50 * 290 / 1010) / (910 + 50)
    assert table.mean("a").answer == pytest.approx(mean_a)
    assert table.rates("a", 11).answer == pytest.approx((10 + 20 * mean_a) / (10 + 20))
    rpc_a = (95 + 50 * 97 / 1010) / (910 + 50)
    assert table.rates("a", 10).right_party == pytest.approx((90 + 20 * rpc_a) / (900 + 20))
    assert table.hour_strength.answer == 20.0 and table.segment_strength.right_party == 50.0


def test_thin_hour_is_pulled_to_the_segment_mean_and_a_busy_hour_keeps_its_rate() -> None:
    """Steps: 40 hours with 5 000 dials each at true rates 0.10–0.40 (seeded), plus one
    hour with 6 dials that all answered; strengths estimated. Expected: every busy hour
    within 0.01 of its raw rate; the thin hour far below its raw 100 % and nearer the
    segment mean than to 1."""
    rng = np.random.default_rng(7)
    truth = np.linspace(0.10, 0.40, 40)
    counts = {}
    for how, p in enumerate(truth, start=8):
        live = int(rng.binomial(5_000, p))
        counts[("s", how)] = HourCounts(5_000, live, live // 2)
    counts[("s", 100)] = HourCounts(6, 6, 6)
    table = fit_best_time(counts)
    for how in range(8, 48):
        raw = counts[("s", how)].live / 5_000
        assert table.rates("s", how).answer == pytest.approx(raw, abs=0.01)
    thin = table.rates("s", 100).answer
    mean = table.mean("s").answer
    assert thin < 0.6
    assert thin - mean < 1.0 - thin


def test_method_of_moments_recovers_the_prior_strength() -> None:
    """Steps: 168 cells whose true rates are drawn from Beta(k·m, k·(1 − m)) with k = 60,
    m = 0.3, 4 000 attempts each. Expected: the estimate within 25 % of 60. With every
    cell at the same true rate: no spread beyond noise, the ceiling."""
    rng = np.random.default_rng(11)
    k, m = 60.0, 0.3
    theta = rng.beta(k * m, k * (1 - m), 168)
    cells = [(int(rng.binomial(4_000, t)), 4_000, m) for t in theta]
    assert estimate_strength(cells, Shrinkage()) == pytest.approx(k, rel=0.25)
    flat = [(int(rng.binomial(300, 0.2)), 300, 0.2) for _ in range(168)]
    assert estimate_strength(flat, Shrinkage(max_strength=3_000.0)) >= 1_000.0
    assert estimate_strength([(5, 10, 0.3)], Shrinkage()) == Shrinkage().max_strength


def test_unknown_segment_and_undialled_hour_fall_back() -> None:
    """Steps: segment a dialled at hours 9 and 10 only, segment b at hour 9. Expected: a
    segment never seen has the campaign mean at every hour; a's hour 3 (never dialled)
    has a's mean; no data at all gives zero rates and no answer prior."""
    counts = {("a", 9): HourCounts(400, 200, 100), ("a", 10): HourCounts(400, 40, 10),
              ("b", 9): HourCounts(200, 20, 20)}
    table = fit_best_time(counts)
    assert table.rates("zz", 9) == table.campaign
    assert table.rates(None, 40) == table.campaign
    assert table.rates("a", 3) == table.mean("a")
    assert table.score("a", monday(3)) == table.mean("a")
    empty = fit_best_time({})
    assert (empty.attempts, empty.campaign.answer, empty.rates("a", 9).answer) == (0, 0.0, 0.0)
    assert answer_prior(empty, {("a", "Asia/Shanghai"): 1.0}, monday(9)) is None


def test_counts_are_checked() -> None:
    """Expected: more right-party contacts than live answers, or an hour of week outside
    0..167, is a ValueError."""
    with pytest.raises(ValueError, match="right_party"):
        HourCounts(10, 2, 3)
    with pytest.raises(ValueError, match="hour of week"):
        fit_best_time({("a", 168): HourCounts(1, 0, 0)})


def test_best_hours_ranks_the_allowed_hours() -> None:
    """Steps: rates 0.1 at 9, 0.4 at 19, 0.3 at 20 and 0.4 at 43 (Tuesday 19:00).
    Expected: best first, ties to the earlier hour, only allowed hours; by right-party
    contacts the same order here."""
    table = table_of({9: 0.1, 19: 0.4, 20: 0.3, 43: 0.4})
    assert table.best_hours("s", [9, 19, 20, 43], 3) == [19, 43, 20]
    assert table.best_hours("s", [9, 20], 5) == [20, 9]
    assert table.best_hours("s", [9, 19, 20], 2, Goal.RIGHT_PARTY) == [19, 20]


# --- dial now or defer ----------------------------------------------------------------


EVENINGS = {**{d * 24 + h: 0.1 for d in range(7) for h in range(8, 21)},
            **{d * 24 + h: 0.4 for d in range(7) for h in (18, 19, 20)}}


def test_a_poor_morning_defers_to_the_evening_in_the_debtors_zone() -> None:
    """Steps: a segment answering 0.1 by day and 0.4 at 18–20 local; a Shanghai debtor at
    Monday 09:15 local, window 08–21. Expected: defer until Monday 18:00 Shanghai, given
    in UTC (10:00)."""
    plan = plan_call(table_of(EVENINGS), "s", SHANGHAI, monday(9, 15), DAYTIME)
    assert not plan.dial_now
    assert plan.until == datetime(2024, 6, 3, 10, 0, tzinfo=UTC)
    assert plan.until is not None and plan.until.tzinfo is UTC
    assert plan.rate_now == pytest.approx(0.1) and plan.best_ahead == pytest.approx(0.4)
    assert plan.as_record()["best_time"] == "defer"
    assert plan.as_record()["until"] == "2024-06-03T10:00:00+00:00"


def test_the_same_instant_is_a_different_hour_for_each_zone() -> None:
    """Steps: the evening table; the UTC instant 2024-06-03 10:30 is 18:30 in Shanghai and
    06:30 in New York. Expected: the Shanghai debtor is dialled now (its best hour); the
    New York one is deferred to 18:00 New York time (22:00 UTC)."""
    instant = datetime(2024, 6, 3, 10, 30, tzinfo=UTC)
    table = table_of(EVENINGS)
    assert plan_call(table, "s", SHANGHAI, instant, DAYTIME).dial_now
    plan = plan_call(table, "s", NEW_YORK, instant, DAYTIME)
    assert plan.until == datetime(2024, 6, 3, 22, 0, tzinfo=UTC)


def test_dial_now_when_the_gain_is_small_or_the_hour_already_good() -> None:
    """Steps: (1) 0.30 now, 0.33 later: under the 20 % margin; (2) now is the second best
    of the day (0.35; best 0.45 later, the rest 0.1): in the top quarter; (3) every rate
    zero; (4) the same as (1) with a 5 % margin. Expected: dial now in (1)–(3); defer in
    (4)."""
    close = {**{h: 0.30 for h in range(8, 21)}, 15: 0.33}
    assert plan_call(table_of(close), "s", SHANGHAI, monday(9, 5), DAYTIME).dial_now
    good = {**{h: 0.1 for h in range(8, 21)}, 9: 0.35, 15: 0.45}
    plan = plan_call(table_of(good), "s", SHANGHAI, monday(9, 5), DAYTIME)
    assert plan.dial_now and plan.top_rate <= 0.35
    zero = {h: 0.0 for h in range(8, 21)}
    assert plan_call(table_of(zero), "s", SHANGHAI, monday(9, 5), DAYTIME).dial_now
    eager = DeferRule(margin=0.05)
    assert not plan_call(table_of(close), "s", SHANGHAI, monday(9, 5), DAYTIME, eager).dial_now


def test_no_deferral_beyond_the_horizon() -> None:
    """Steps: a segment that answers 0.5 at weekends (08–21) and 0.1 on weekdays; a
    debtor on Monday 09:00. Expected: with the default one-day horizon, and with one
    ending just before Saturday 08:00, dial now; with seven days, defer to Saturday 08:00
    local."""
    rates = {**{d * 24 + h: 0.1 for d in range(5) for h in range(8, 21)},
             **{d * 24 + h: 0.5 for d in (5, 6) for h in range(8, 21)}}
    table = table_of(rates)
    assert plan_call(table, "s", SHANGHAI, monday(9), DAYTIME).dial_now
    short = DeferRule(horizon=timedelta(days=4, hours=23))
    assert plan_call(table, "s", SHANGHAI, monday(9), DAYTIME, short).dial_now
    week = DeferRule(horizon=timedelta(days=7))
    plan = plan_call(table, "s", SHANGHAI, monday(9), DAYTIME, week)
    assert plan.until == datetime(2024, 6, 8, 8, 0, tzinfo=SHANGHAI)


def test_no_deferral_into_a_closed_hour_or_to_a_lone_peak() -> None:
    """Steps: 0.1 by day, 0.35 at 19–20 and 0.6 at 21–23 (outside the 08–21 window); a
    debtor on Monday 09:00. Expected: deferred to 19:00, never to 21:00 or later; with
    every hour allowed, to 21:00. A single 0.5 hour in the day (a lone peak, less than a
    fifth of the hours) moves nobody."""
    rates = {**{h: 0.1 for h in range(8, 21)}, 19: 0.35, 20: 0.35, 21: 0.6, 22: 0.6,
             23: 0.6}
    table = table_of(rates)
    assert plan_call(table, "s", SHANGHAI, monday(9), DAYTIME).until == monday(19)
    anytime = plan_call(table, "s", SHANGHAI, monday(9), lambda local: True)
    assert anytime.until == monday(21)
    peak = {**{h: 0.1 for h in range(8, 21)}, 15: 0.5}
    assert plan_call(table_of(peak), "s", SHANGHAI, monday(9), DAYTIME).dial_now


def test_the_target_is_the_earliest_hour_nearly_as_good_as_the_best() -> None:
    """Steps: 0.1 now (Monday 09:00), 0.38 at 14–16, 0.40 at 19–20. Expected: defer to
    14:00 (within 5 % of the best, and sooner); with near_best 0, to 19:00."""
    rates = {**{h: 0.1 for h in range(8, 21)}, 14: 0.38, 15: 0.38, 16: 0.38, 19: 0.40,
             20: 0.40}
    table = table_of(rates)
    assert plan_call(table, "s", SHANGHAI, monday(9), DAYTIME).until == monday(14)
    exact = DeferRule(near_best=0.0)
    assert plan_call(table, "s", SHANGHAI, monday(9), DAYTIME, exact).until == monday(19)


def test_deferral_across_daylight_saving_changes_lands_on_the_local_hour() -> None:
    """Steps: a segment best on Sunday 09:00–12:59 local; a New York debtor on Saturday
    22:00 before the spring change (10 March 2024) and before the autumn one (3 November).
    Expected: Sunday 09:00 local both times: 13:00 UTC (EDT) in March, 14:00 UTC (EST)
    in November; the local hours ahead skip 02:00 in March and repeat 01:00 in
    November."""
    rates = {**{d * 24 + h: 0.1 for d in range(7) for h in range(8, 21)},
             **{6 * 24 + h: 0.5 for h in range(9, 13)}}
    table = table_of(rates)
    spring = datetime(2024, 3, 9, 22, 0, tzinfo=NEW_YORK)
    autumn = datetime(2024, 11, 2, 22, 0, tzinfo=NEW_YORK)
    assert plan_call(table, "s", NEW_YORK, spring, DAYTIME).until == datetime(
        2024, 3, 10, 13, 0, tzinfo=UTC)
    assert plan_call(table, "s", NEW_YORK, autumn, DAYTIME).until == datetime(
        2024, 11, 3, 14, 0, tzinfo=UTC)
    hours = [s.astimezone(NEW_YORK).hour for s in hours_ahead(
        datetime(2024, 3, 10, 0, 30, tzinfo=NEW_YORK), NEW_YORK, timedelta(hours=4))]
    assert hours == [1, 3, 4, 5]  # four real hours: 02:00 does not exist
    hours = [s.astimezone(NEW_YORK).hour for s in hours_ahead(
        datetime(2024, 11, 3, 0, 30, tzinfo=NEW_YORK), NEW_YORK, timedelta(hours=4))]
    assert hours == [1, 1, 2, 3]


def test_half_hour_zones_step_on_local_hours() -> None:
    """Steps: a Kolkata debtor (UTC+5:30) at 10:10 local. Expected: the next local hour
    starts at 11:00 local = 05:30 UTC; a naive `now` is refused."""
    starts = hours_ahead(datetime(2024, 6, 3, 10, 10, tzinfo=KOLKATA), KOLKATA,
                         timedelta(hours=3))
    assert starts[0] == datetime(2024, 6, 3, 5, 30, tzinfo=UTC)
    assert [s.astimezone(KOLKATA).hour for s in starts] == [11, 12, 13]
    with pytest.raises(ValueError, match="aware"):
        plan_call(table_of(EVENINGS), "s", KOLKATA, datetime(2024, 6, 3, 10), DAYTIME)


def test_right_party_goal_uses_the_right_party_rates() -> None:
    """Steps: mornings answer 0.4 but only a tenth are the debtor (a family phone);
    evenings answer 0.3, all of them the debtor. Expected: by answers dial now at 09:00;
    by right-party contacts defer to 18:00."""
    counts = {**{("s", h): HourCounts(1_000, 400, 40) for h in range(8, 18)},
              **{("s", h): HourCounts(1_000, 300, 300) for h in range(18, 21)}}
    table = fit_best_time(counts, RAW)
    assert plan_call(table, "s", SHANGHAI, monday(9), DAYTIME).dial_now
    plan = plan_call(table, "s", SHANGHAI, monday(9), DAYTIME, goal=Goal.RIGHT_PARTY)
    assert plan.until == monday(18) and plan.as_record()["goal"] == "right_party"


# --- pacing's starting value ----------------------------------------------------------


def test_initial_answer_rate_weighs_the_mix_at_each_debtors_local_hour() -> None:
    """Steps: segment a answers 0.2 at Monday 09:00 and 0.5 at Monday 21:00; segment b
    0.1 at Monday 09:00; at 01:00 UTC (09:00 Shanghai) a mix of 3 a's in Shanghai, 1 a in
    New York (Sunday 21:00 there, never dialled: a's mean) and 1 b in Shanghai.
    Expected: the weighted mean of those rates; the prior's weight capped at 100."""
    counts = {("a", 9): HourCounts(1_000, 200, 100), ("a", 21): HourCounts(1_000, 500, 250),
              ("b", 9): HourCounts(1_000, 100, 50)}
    table = fit_best_time(counts, RAW)
    at = datetime(2024, 6, 3, 1, 0, tzinfo=UTC)
    mix = {("a", "Asia/Shanghai"): 3.0, ("a", "America/New_York"): 1.0,
           ("b", "Asia/Shanghai"): 1.0}
    expected = (3 * 0.2 + 1 * 0.35 + 1 * 0.1) / 5
    assert initial_answer_rate(table, mix, at) == pytest.approx(expected)
    prior = answer_prior(table, mix, at)
    assert prior is not None
    assert prior.mean == pytest.approx(expected) and prior.weight == 100.0
    assert initial_answer_rate(table, {}, at) == pytest.approx(table.campaign.answer)


def test_quantile_interpolates_like_numpy() -> None:
    values = [0.3, 0.1, 0.4, 0.2, 0.25]
    for q in (0.0, 0.5, 0.75, 0.9, 1.0):
        assert quantile(values, q) == pytest.approx(float(np.quantile(values, q)))


def test_defer_rule_is_checked() -> None:
    """Expected: a negative margin or a quantile outside [0, 1] is a ValueError."""
    with pytest.raises(ValueError, match="margin"):
        DeferRule(margin=-0.1)
    with pytest.raises(ValueError, match="top_quantile"):
        DeferRule(top_quantile=1.5)
