"""An independent recount of the campaign report from the raw tables, in plain Python,
following docs/metrics.md line by line (no rollup, no SQL aggregate), and the same
figures read out of a Report, its JSON and its CSV, for the tests to compare."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from db.analytics_model import Report, ReportRange

CALL_FIELDS = ("attempts", "answered", "live", "machine", "talk_calls", "talk_us",
               "right_party", "promise_calls", "abandoned", "bot_person", "bot_contained")
RESOLVED = {"promise", "callback", "refusal", "wrong_party", "opt_out"}
SETTLED = {"kept", "partly_kept", "broken"}


@dataclass
class Figures:
    """Everything the report says, as plain values."""

    calls: dict[int | None, dict[str, int]] = field(default_factory=dict)  # None: total
    statuses: dict[int | None, dict[str, int]] = field(default_factory=dict)
    promised: dict[int | None, dict[str, Decimal]] = field(default_factory=dict)
    recovered: dict[int | None, dict[str, Decimal]] = field(default_factory=dict)
    hours: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    days: dict[tuple[int, str], tuple[int, int, int, int]] = field(default_factory=dict)
    agents: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # µs


def _campaign(value: int | None) -> int:
    return 0 if value is None else value


def _us(delta: timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


async def recount(pool: asyncpg.Pool, period: ReportRange, campaign: int | None,
                  now: datetime) -> Figures:
    attempts = await pool.fetch(
        "SELECT a.*, d.timezone FROM attempts a JOIN debtors d ON d.id = a.debtor_id")
    outcomes = {r["attempt_id"]: r["kind"]
                for r in await pool.fetch("SELECT attempt_id, kind FROM call_outcomes")}
    to_agent = {r["attempt_id"] for r in await pool.fetch(
        "SELECT attempt_id FROM call_events WHERE kind = 'agent_connected'")}
    promises = await pool.fetch("SELECT * FROM promises")
    payments = await pool.fetch("SELECT * FROM payments")
    log = await pool.fetch("SELECT * FROM agent_state_log ORDER BY agent_id, at, id")
    by_attempt = {a["id"]: a for a in attempts}
    start, end = period.start, period.end
    wanted = [a for a in attempts if campaign is None or a["campaign_id"] == campaign]

    out = Figures()
    calls: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CALL_FIELDS, 0))
    hours: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    daily: dict[tuple[int, Any], list[int]] = defaultdict(lambda: [0, 0])
    zone = ZoneInfo(period.zone)
    window_start = period.midnight(period.first_day - timedelta(days=29))
    for a in wanted:
        answered = a["answered_at"] is not None
        live = answered and not a["machine"]
        rpc = live and a["right_party"] is True
        promised = any(p["attempt_id"] == a["id"] and p["status"] != "cancelled"
                       for p in promises)
        kind = outcomes.get(a["id"])
        bot_person = live and kind is not None and kind != "machine"
        if window_start <= a["created_at"] < end:
            counts = daily[(_campaign(a["campaign_id"]),
                            a["created_at"].astimezone(zone).date())]
            counts[0] += live
            counts[1] += live and a["abandoned"]
        if not start <= a["created_at"] < end:
            continue
        c = calls[_campaign(a["campaign_id"])]
        c["attempts"] += 1
        c["answered"] += answered
        c["live"] += live
        c["machine"] += answered and a["machine"]
        if live and a["ended_at"] is not None:
            c["talk_calls"] += 1
            c["talk_us"] += _us(a["ended_at"] - a["answered_at"])
        c["right_party"] += rpc
        c["promise_calls"] += rpc and promised
        c["abandoned"] += live and a["abandoned"]
        c["bot_person"] += bot_person
        c["bot_contained"] += bot_person and kind in RESOLVED and a["id"] not in to_agent
        hour = a["created_at"].astimezone(ZoneInfo(a["timezone"])).hour
        hours[hour][0] += 1
        hours[hour][1] += answered
        hours[hour][2] += live
    out.calls = {k: dict(v) for k, v in calls.items()}
    out.calls[None] = {f: sum(v[f] for v in calls.values()) for f in CALL_FIELDS}
    out.hours = {h: (v[0], v[1], v[2]) for h, v in hours.items()}

    for p in promises:
        a = by_attempt[p["attempt_id"]]
        if not start <= a["created_at"] < end:
            continue
        if campaign is not None and a["campaign_id"] != campaign:
            continue
        for key in (_campaign(a["campaign_id"]), None):
            statuses = out.statuses.setdefault(key, {})
            statuses[p["status"]] = statuses.get(p["status"], 0) + 1
            if p["status"] != "cancelled":
                money = out.promised.setdefault(key, {})
                money[p["currency"]] = money.get(p["currency"], Decimal(0)) + p["amount"]

    for pay in payments:
        if not start <= pay["paid_at"] < end:
            continue
        campaigns = {_campaign(by_attempt[p["attempt_id"]]["campaign_id"]) for p in promises
                     if p["debtor_id"] == pay["debtor_id"] and p["status"] != "cancelled"
                     and p["created_at"] <= pay["paid_at"]}
        if campaign is not None:
            campaigns &= {campaign}
        for key in (*campaigns, None) if campaigns else ():
            money = out.recovered.setdefault(key, {})
            money[pay["currency"]] = money.get(pay["currency"], Decimal(0)) + pay["amount"]

    for campaign_id in sorted({k[0] for k in daily}):
        for day in period.days():
            window = [daily.get((campaign_id, day - timedelta(days=n)), [0, 0])
                      for n in range(30)]
            live30, ab30 = sum(w[0] for w in window), sum(w[1] for w in window)
            if live30 or ab30:
                out.days[(campaign_id, day.isoformat())] = (window[0][0], window[0][1], live30,
                                                            ab30)

    out.agents = _agent_time(log, start, end, now)
    return out


def _agent_time(log: list[asyncpg.Record], start: datetime, end: datetime,
                now: datetime) -> dict[str, tuple[int, int, int]]:
    totals: dict[str, list[int]] = {}
    for n, row in enumerate(log):
        following = log[n + 1] if n + 1 < len(log) else None
        stop = (following["at"] if following is not None
                and following["agent_id"] == row["agent_id"] else now)
        s, e = max(row["at"], start), min(stop, end)
        if row["status"] == "offline" or e <= s:
            continue
        t = totals.setdefault(row["agent_id"], [0, 0, 0])
        t[0] += _us(e - s)
        t[1] += _us(e - s) if row["status"] == "on_call" else 0
        t[2] += _us(e - s) if row["status"] == "wrap_up" else 0
    out = {a: (t[0], t[1], t[2]) for a, t in totals.items()}
    if out:
        out[""] = tuple(sum(v[i] for v in out.values()) for i in range(3))  # type: ignore[assignment]
    return out


def from_report(report: Report) -> Figures:
    out = Figures()
    for c in (*report.campaigns, report.total):
        key = c.campaign_id
        out.calls[key] = {f: getattr(c.calls, f) for f in CALL_FIELDS}
        if c.promises.by_status:
            out.statuses[key] = dict(c.promises.by_status)
        if c.promises.promised:
            out.promised[key] = {m.currency: m.amount for m in c.promises.promised}
        if c.recovered:
            out.recovered[key] = {m.currency: m.amount for m in c.recovered}
    out.hours = {h.hour: (h.calls.attempts, h.calls.answered, h.calls.live)
                 for h in report.hours}
    out.days = {(d.campaign_id, d.day.isoformat()): (d.live, d.abandoned, d.live_30d,
                                                     d.abandoned_30d) for d in report.days}
    out.agents = {a.agent_id: (a.logged_in_us, a.on_call_us, a.wrap_up_us)
                  for a in report.agents}
    return out


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def assert_json_equals(body: dict[str, Any], counted: Figures) -> None:
    """The report API's JSON (`GET /api/report`) against the recount, figure by figure
    (money as decimal strings)."""
    rows = {c["campaign_id"]: c for c in [*body["campaigns"], body["total"]]}
    for key, figures in counted.calls.items():
        row = rows[key]
        assert row["attempts"] == figures["attempts"], key
        assert row["live_answers"] == figures["live"], key
        assert row["right_party_contacts"] == figures["right_party"], key
        assert row["abandoned"] == figures["abandoned"], key
        if figures["right_party"]:
            assert abs(row["promise_rate"]
                       - figures["promise_calls"] / figures["right_party"]) < 1e-9, key
        if figures["talk_calls"]:
            assert abs(row["average_talk_s"]
                       - figures["talk_us"] / 1e6 / figures["talk_calls"]) < 1e-6, key
    for key, statuses in counted.statuses.items():
        assert rows[key]["promises_by_status"] == statuses, key
    for key, money in counted.recovered.items():
        assert rows[key]["recovered_amount"] == {c: str(v) for c, v in money.items()}, key
    for key, money in counted.promised.items():
        assert rows[key]["promised_amount"] == {c: str(v) for c, v in money.items()}, key
    assert {h["hour"]: (h["attempts"], h["answered"], h["live_answers"])
            for h in body["hours"]} == counted.hours
    assert {(d["campaign_id"], d["day"]): (d["live_answers"], d["abandoned"],
                                           d["live_answers_30d"], d["abandoned_30d"])
            for d in body["days"]} == counted.days
