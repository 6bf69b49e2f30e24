"""The report's pure parts: the range of local days, rates, sums by currency, the rolling
30-day abandon rate, the query parameters and the CSV/terminal rendering."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from db.analytics_model import (
    AgentFigures,
    CallCounts,
    CampaignFigures,
    DayFigures,
    HourFigures,
    Money,
    PromiseCounts,
    Report,
    ReportRange,
    ReportRangeError,
    agent_time_at,
    money,
    rolling_days,
    spans,
)
from engine.report_format import (
    QueryError,
    parse_query,
    parse_range,
    report_csv,
    report_json,
    report_text,
)


@pytest.mark.parametrize(("zone", "start"), [
    ("UTC", "2024-06-01T00:00:00+00:00"),
    ("Asia/Shanghai", "2024-05-31T16:00:00+00:00"),
    ("Asia/Kolkata", "2024-05-31T18:30:00+00:00"),
    ("Asia/Kathmandu", "2024-05-31T18:15:00+00:00"),
    ("America/New_York", "2024-06-01T04:00:00+00:00"),
])
def test_range_starts_at_local_midnight(zone: str, start: str) -> None:
    period = ReportRange(date(2024, 6, 1), date(2024, 7, 1), zone)
    assert period.start == datetime.fromisoformat(start)
    assert period.start.tzinfo is not None and period.end > period.start
    assert len(period.days()) == 30


def test_range_across_a_clock_change_is_23_hours_that_day() -> None:
    period = ReportRange(date(2024, 3, 10), date(2024, 3, 11), "America/New_York")
    assert period.end - period.start == timedelta(hours=23)


@pytest.mark.parametrize(("first", "end", "zone", "message"), [
    (date(2024, 6, 2), date(2024, 6, 1), "UTC", "before it starts"),
    (date(2024, 6, 1), date(2024, 6, 1), "UTC", "before it starts"),
    (date(2024, 6, 1), date(2024, 6, 2), "Mars/Olympus", "unknown time zone"),
    (date(1960, 6, 1), date(1960, 6, 2), "Africa/Monrovia", "not on a quarter hour"),
])
def test_range_refuses(first: date, end: date, zone: str, message: str) -> None:
    with pytest.raises(ReportRangeError, match=message):
        ReportRange(first, end, zone)


def test_rates_are_none_without_a_denominator() -> None:
    empty = CallCounts()
    assert empty.connect_rate is None and empty.abandon_rate is None
    assert empty.average_talk_s is None and empty.bot_containment is None
    calls = CallCounts(attempts=4, answered=2, live=1, talk_calls=1, talk_us=90_500_000,
                       right_party=1, promise_calls=1, abandoned=1, bot_person=2,
                       bot_contained=1)
    assert calls.connect_rate == 0.5 and calls.live_answer_rate == 0.25
    assert calls.average_talk_s == 90.5 and calls.promise_rate == 1.0
    assert calls.abandon_rate == 1.0 and calls.bot_containment == 0.5
    assert (calls + calls).attempts == 8 and (calls + empty) == calls


def test_money_sums_by_currency_and_never_across() -> None:
    assert money([("USD", Decimal("1.10")), ("CNY", Decimal("2")), ("USD", Decimal("0.90"))]) \
        == (Money("CNY", Decimal("2")), Money("USD", Decimal("2.00")))
    assert money([("CNY", Decimal("0"))]) == ()


def test_kept_rate_counts_settled_rows_only() -> None:
    a = PromiseCounts({"kept": 1, "open": 3, "cancelled": 2},
                      (Money("CNY", Decimal("10")),))
    b = PromiseCounts({"broken": 1, "partly_kept": 2}, (Money("CNY", Decimal("5")),))
    total = a + b
    assert total.promises == 7 and total.settled == 4 and total.kept_rate == 0.25
    assert total.promised == (Money("CNY", Decimal("15")),)
    assert PromiseCounts().kept_rate is None


def test_rolling_window_is_the_day_and_the_29_before() -> None:
    first = date(2024, 6, 1)
    daily = {
        (1, first - timedelta(days=30)): (100, 50),  # outside every window shown
        (1, first - timedelta(days=29)): (10, 1),  # in the first day's window only
        (1, first): (10, 0),
        (1, first + timedelta(days=1)): (0, 1),
        (2, first - timedelta(days=40)): (5, 5),  # never in a window shown
    }
    days = rolling_days(daily, [first, first + timedelta(days=1)])
    assert days == [
        DayFigures(1, first, 10, 0, 20, 1),
        DayFigures(1, first + timedelta(days=1), 0, 1, 10, 1),
    ]
    assert days[0].abandon_rate == 0.0 and days[0].abandon_rate_30d == 0.05
    assert days[1].abandon_rate is None


def test_spans_merge_near_quarter_hours_per_campaign() -> None:
    t = datetime(2024, 6, 1, tzinfo=UTC)
    q = timedelta(minutes=15)
    keys = [(1, t), (1, t), (1, t + 2 * q), (1, t + timedelta(days=3)), (2, t + q),
            (0, t)]
    assert spans(keys) == [
        (0, t, t + q),
        (1, t, t + 3 * q),  # the quarter hour between is recomputed too
        (1, t + timedelta(days=3), t + timedelta(days=3) + q),  # more than a day apart
        (2, t + q, t + 2 * q),
    ]


def test_spans_stop_at_7_days() -> None:
    t = datetime(2024, 1, 1, tzinfo=UTC)
    keys = [(1, t + timedelta(hours=h)) for h in range(0, 24 * 10, 6)]
    ranges = spans(keys)
    assert len(ranges) == 2
    assert all(hi - lo <= timedelta(days=7) for _, lo, hi in ranges)
    assert ranges[0][2] <= ranges[1][1]


def test_agent_time_carries_the_last_state_on() -> None:
    mark = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
    counts = (100, 20, 10)
    later = mark + timedelta(seconds=30)
    assert agent_time_at("on_call", mark, counts, later) == (30_000_100, 30_000_020, 10)
    assert agent_time_at("wrap_up", mark, counts, later) == (30_000_100, 20, 30_000_010)
    assert agent_time_at("paused", mark, counts, later) == (30_000_100, 20, 10)
    assert agent_time_at("offline", mark, counts, later) == counts


def test_query_defaults_to_the_last_30_days_in_the_zone() -> None:
    now = datetime(2024, 6, 30, 20, 0, tzinfo=UTC)  # already 1 July in Shanghai
    period, campaign = parse_query({"tz": "Asia/Shanghai"}, now)
    assert (period.first_day, period.end_day, campaign) == (date(2024, 6, 2),
                                                            date(2024, 7, 2), None)
    period, campaign = parse_query({"from": "2024-06-01", "campaign": "7"}, now)
    assert period == ReportRange(date(2024, 6, 1), date(2024, 7, 1)) and campaign == 7


@pytest.mark.parametrize(("query", "message"), [
    ({"from": "June"}, "from"),
    ({"to": "2024-13-01"}, "to"),
    ({"campaign": "x1"}, "campaign"),
    ({"campaign": "²"}, "campaign"),
    ({"tz": "Nowhere/Else"}, "tz"),
    ({"from": "2024-06-02", "to": "2024-06-01"}, "before it starts"),
    ({"from": "1990-01-01", "to": "2024-01-01"}, "longer than"),
])
def test_query_refuses(query: dict[str, str], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(query, datetime(2024, 6, 30, tzinfo=UTC))


def test_range_with_one_end_given() -> None:
    now = datetime(2024, 6, 30, tzinfo=UTC)
    assert parse_range(None, "2024-06-11", "UTC", now).first_day == date(2024, 5, 12)
    assert parse_range("2024-06-20", None, "UTC", now).end_day == date(2024, 7, 1)


def sample_report() -> Report:
    calls = CallCounts(attempts=3, answered=2, live=2, talk_calls=1, talk_us=60_000_000,
                       right_party=1, promise_calls=1, abandoned=1)
    promises = PromiseCounts({"kept": 1}, (Money("CNY", Decimal("100.00")),))
    campaign = CampaignFigures(1, "=SUM(A1)", calls, promises,
                               (Money("USD", Decimal("5.00")),))
    total = CampaignFigures(None, "all", calls, promises, (Money("USD", Decimal("5.00")),))
    period = ReportRange(date(2024, 6, 1), date(2024, 6, 2))
    return Report(period, None, datetime(2024, 6, 2, tzinfo=UTC), (campaign,), total,
                  (HourFigures(9, calls),), (DayFigures(1, date(2024, 6, 1), 2, 1, 2, 1),),
                  (AgentFigures("1001", 3_600_000_000, 1_800_000_000, 600_000_000),))


def test_csv_has_a_column_per_currency_and_inert_names() -> None:
    rows = list(csv.DictReader(io.StringIO(report_csv(sample_report()))))
    assert [r["campaign"] for r in rows] == ["'=SUM(A1)", "all"]
    assert rows[0]["promised_amount_CNY"] == "100.00"
    assert rows[0]["recovered_amount_USD"] == "5.00"
    assert rows[0]["promised_amount_USD"] == "0" and rows[1]["campaign_id"] == ""
    assert rows[0]["abandon_rate"] == "0.5" and rows[0]["kept_rate"] == "1"
    agents = list(csv.DictReader(io.StringIO(report_csv(sample_report(), "agents"))))
    assert agents[0]["occupancy"] == "0.666667"
    assert agents[0]["talk_minutes_per_hour"] == "30"
    assert agents[0]["logged_in_s"] == "3600"
    with pytest.raises(ValueError, match="unknown table"):
        report_csv(sample_report(), "money")


def test_json_keeps_money_as_strings_and_rates_as_fractions() -> None:
    body = report_json(sample_report())
    assert body["total"]["recovered_amount"] == {"USD": "5.00"}
    assert body["total"]["abandon_rate"] == 0.5
    assert body["agents"][0]["logged_in_s"] == 3600.0
    assert body["from"] == "2024-06-01" and body["to"] == "2024-06-02"


def test_terminal_text_shows_every_table() -> None:
    text = report_text(sample_report())
    for heading in ("calls", "promises and money", "by hour of day", "abandon rate per day",
                    "agents"):
        assert heading in text
    assert "CNY 100.00" in text and "66.7%" in text
