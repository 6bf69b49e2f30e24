"""Best-time counts against a real PostgreSQL (no Asterisk): a small hand-made history of
dials to debtors in Shanghai and New York; the counts per segment and hour of week in each
debtor's own zone (daylight saving included), what counts as a live answer and a
right-party contact, which attempts are left out, and the campaign's pending mix."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from db.best_time import fetch_hour_counts, load_best_time, pending_mix
from predictive.best_time import HourCounts, Shrinkage

NOW = datetime(2024, 6, 10, 0, 0, tzinfo=UTC)
# debtor → (zone, segment)
DEBTORS = {1: ("Asia/Shanghai", "salaried"), 2: ("America/New_York", "salaried"),
           3: ("Asia/Shanghai", "retired"), 4: ("America/New_York", None)}


@dataclass(frozen=True)
class Dial:
    debtor: int
    placed: str | None  # originated_at, UTC; None: never placed
    live: bool = False  # a person answered
    machine: bool = False  # a machine answered
    right_party: bool | None = None
    campaign: int = 1
    final: bool = True


# 2024-06-03 is a Monday. 12:00 UTC is Monday 20:00 in Shanghai, Monday 08:00 in New York.
DIALS = [
    Dial(1, "2024-06-03 12:00", live=True, right_party=True),
    Dial(1, "2024-06-03 12:20", live=True, right_party=False),  # someone else answered
    Dial(1, "2024-06-03 12:40"),  # nobody
    Dial(2, "2024-06-03 12:00", live=True, right_party=True),
    Dial(2, "2024-06-03 12:59", machine=True, right_party=True),  # a machine is no contact
    Dial(2, "2024-01-15 13:00", live=True),  # January (EST): 08:00 local too; > 90 days ago
    Dial(3, "2024-06-09 15:30", live=True),  # Sunday 23:30 in Shanghai: the last hour
    Dial(3, "2024-06-04 01:00", campaign=2),  # Tuesday 09:00 Shanghai, another campaign
    Dial(4, "2024-06-05 14:10", live=True, right_party=True),  # no segment; Wed 10:10 NY
    Dial(1, "2024-06-03 13:00", live=True, final=False),  # still talking: not yet
    Dial(1, None),  # never placed (the carrier refused before originate): not a dial
    Dial(1, "2024-06-10 00:00", live=True),  # at `now`: outside [now − 90 d, now)
]


async def seed(pool: asyncpg.Pool) -> None:
    await pool.execute("INSERT INTO campaigns (id, name) VALUES (1, 'one'), (2, 'two')")
    for debtor, (zone, segment) in DEBTORS.items():
        await pool.execute(
            "INSERT INTO debtors (id, external_id, timezone, segment) VALUES ($1, $2, $3, $4)",
            debtor, f"D{debtor}", zone, segment)
        await pool.execute(
            "INSERT INTO debtor_phones (id, debtor_id, phone_enc, phone_bidx, key_id, masked)"
            " VALUES ($1, $1, '\\x00', int8send($1), 'k', '+86***')", debtor)
    for dial in DIALS:
        placed = (None if dial.placed is None
                  else datetime.fromisoformat(dial.placed).replace(tzinfo=UTC))
        created = (placed or NOW - timedelta(days=1)) - timedelta(seconds=2)
        answered = placed + timedelta(seconds=5) if placed and (dial.live or dial.machine) else None
        ended = None if not dial.final else (answered or created) + timedelta(seconds=30)
        await pool.execute(
            "INSERT INTO attempts (id, campaign_id, debtor_id, phone_id, state, disposition,"
            " created_at, originated_at, answered_at, ended_at, machine, right_party)"
            " VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            uuid.uuid4(), dial.campaign, dial.debtor, "final" if dial.final else "answered",
            "done" if dial.final else None, created, placed, answered, ended, dial.machine,
            dial.right_party)


@pytest.fixture
async def history(db_pool: asyncpg.Pool) -> asyncpg.Pool:
    await seed(db_pool)
    return db_pool


async def test_counts_by_segment_and_hour_of_week_in_the_debtors_zone(history) -> None:
    """Steps: the history; counts of campaign 1 over the 90 days before 10 June. Expected:
    the same UTC instant counts at Monday 20:00 for the Shanghai debtor and at Monday 08:00
    for the New York one; Sunday 23:30 in Shanghai is hour 167; a machine is neither a live
    answer nor a contact; a wrong party is a live answer, not a contact; the unsegmented
    debtor has its own row; the call still going, the one never placed, the one at `now`,
    January's and campaign 2's are left out."""
    counts = await fetch_hour_counts(history, campaign_id=1, now=NOW)
    assert counts == {
        ("salaried", 20): HourCounts(attempts=3, live=2, right_party=1),
        ("salaried", 8): HourCounts(attempts=2, live=1, right_party=1),
        ("retired", 167): HourCounts(attempts=1, live=1, right_party=0),
        (None, 2 * 24 + 10): HourCounts(attempts=1, live=1, right_party=1),
    }


async def test_lookback_campaign_filter_and_daylight_saving(history) -> None:
    """Steps: every campaign over 180 days. Expected: campaign 2's Tuesday 09:00 in
    Shanghai appears; January's New York call (13:00 UTC, EST) lands on the same local
    Monday 08:00 as June's (12:00 UTC, EDT)."""
    counts = await fetch_hour_counts(history, lookback=timedelta(days=180), now=NOW)
    assert counts[("retired", 24 + 9)] == HourCounts(1, 0, 0)
    assert counts[("salaried", 8)] == HourCounts(attempts=3, live=2, right_party=1)
    assert sum(c.attempts for c in counts.values()) == 9


async def test_the_table_from_the_database(history) -> None:
    """Steps: the table of campaign 1 without shrinkage. Expected: 7 dials, 5 live, 3
    contacts; the Shanghai evening's raw rates; an hour never dialled has its segment's
    mean; a segment never seen has the campaign's."""
    table = await load_best_time(history, campaign_id=1, now=NOW,
                                 shrinkage=Shrinkage(segment_strength=0.0, hour_strength=0.0))
    assert table.attempts == 7
    assert table.campaign.answer == pytest.approx(5 / 7)
    assert table.campaign.right_party == pytest.approx(3 / 7)
    assert table.rates("salaried", 20).answer == pytest.approx(2 / 3)
    assert table.rates("salaried", 20).right_party == pytest.approx(1 / 3)
    assert table.rates("salaried", 100) == table.mean("salaried")
    assert table.mean("salaried").answer == pytest.approx(3 / 5)
    assert table.rates("unknown", 20) == table.campaign


async def test_pending_mix_counts_debtors_by_segment_and_zone(history) -> None:
    """Steps: campaign 1 targets debtors 1–4; debtor 2's is done. Expected: pending by
    (segment, zone): one each of salaried Shanghai, retired Shanghai, unsegmented New
    York."""
    for debtor in DEBTORS:
        await history.execute(
            "INSERT INTO campaign_targets (campaign_id, debtor_id, phone_id, status)"
            " VALUES (1, $1, $1, $2)", debtor, "done" if debtor == 2 else "pending")
    assert await pending_mix(history, 1) == {
        ("salaried", "Asia/Shanghai"): 1.0, ("retired", "Asia/Shanghai"): 1.0,
        (None, "America/New_York"): 1.0}
