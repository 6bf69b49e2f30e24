"""The campaign report's parameters (a range of local days, a campaign) as the API and the
command line take them, and the report (db.analytics_model.Report) as JSON, CSV tables and
terminal text.

Money goes out as decimal strings per currency (never floats); rates as fractions
(0.25, not 25 %), empty or null where nothing was there to divide.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from db.analytics_model import (
    AgentFigures,
    CampaignFigures,
    DayFigures,
    HourFigures,
    Money,
    Report,
    ReportRange,
    ReportRangeError,
)
from engine.portfolio.validate import make_inert

TABLES = ("campaigns", "hours", "days", "agents")
DEFAULT_DAYS = 30
MAX_DAYS = 3660  # ten years: beyond that a typo, not a question


class QueryError(ValueError):
    """A query parameter the report cannot use (the message says which and why)."""


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


def parse_range(first: str | None, end: str | None, zone: str, now: datetime,
                days: int = DEFAULT_DAYS) -> ReportRange:
    """Local days [first, end) in `zone`; a missing end is tomorrow (today included), a
    missing start `days` days before the end."""
    try:
        today = now.astimezone(ZoneInfo(zone)).date()
    except (KeyError, ValueError):
        raise QueryError(f"tz: unknown time zone {zone!r}") from None
    end_day = _day(end, "to") if end else today + timedelta(days=1)
    first_day = _day(first, "from") if first else end_day - timedelta(days=days)
    if (end_day - first_day).days > MAX_DAYS:
        raise QueryError(f"the range is longer than {MAX_DAYS} days")
    try:
        return ReportRange(first_day, end_day, zone)
    except ReportRangeError as exc:
        raise QueryError(str(exc)) from None


def parse_query(query: Mapping[str, str], now: datetime) -> tuple[ReportRange, int | None]:
    campaign = query.get("campaign") or None
    if campaign is not None and not (campaign.isascii() and campaign.isdigit()):
        raise QueryError(f"campaign: {campaign!r} is not a campaign id")
    period = parse_range(query.get("from") or None, query.get("to") or None,
                         query.get("tz") or "UTC", now)
    return period, int(campaign) if campaign is not None else None


def _amounts(amounts: tuple[Money, ...]) -> dict[str, str]:
    return {m.currency: str(m.amount) for m in amounts}


def campaign_json(figures: CampaignFigures) -> dict[str, Any]:
    c, p = figures.calls, figures.promises
    return {
        "campaign_id": figures.campaign_id, "campaign": figures.name,
        "attempts": c.attempts, "answered": c.answered, "connect_rate": c.connect_rate,
        "live_answers": c.live, "live_answer_rate": c.live_answer_rate, "machine": c.machine,
        "talk_calls": c.talk_calls, "average_talk_s": c.average_talk_s,
        "right_party_contacts": c.right_party, "promise_calls": c.promise_calls,
        "promise_rate": c.promise_rate, "promises": p.promises,
        "promised_amount": _amounts(p.promised), "promises_by_status": dict(p.by_status),
        "settled": p.settled, "kept": p.kept, "kept_rate": p.kept_rate,
        "recovered_amount": _amounts(figures.recovered),
        "abandoned": c.abandoned, "abandon_rate": c.abandon_rate,
        "bot_calls_with_person": c.bot_person, "bot_contained": c.bot_contained,
        "bot_containment": c.bot_containment,
    }


def hour_json(hour: HourFigures) -> dict[str, Any]:
    c = hour.calls
    return {"hour": hour.hour, "attempts": c.attempts, "answered": c.answered,
            "connect_rate": c.connect_rate, "live_answers": c.live,
            "live_answer_rate": c.live_answer_rate}


def day_json(day: DayFigures) -> dict[str, Any]:
    return {"campaign_id": day.campaign_id, "day": day.day.isoformat(),
            "live_answers": day.live, "abandoned": day.abandoned,
            "abandon_rate": day.abandon_rate, "live_answers_30d": day.live_30d,
            "abandoned_30d": day.abandoned_30d, "abandon_rate_30d": day.abandon_rate_30d}


def agent_json(agent: AgentFigures) -> dict[str, Any]:
    return {"agent_id": agent.agent_id or "all", "logged_in_s": agent.logged_in_us / 1e6,
            "on_call_s": agent.on_call_us / 1e6, "wrap_up_s": agent.wrap_up_us / 1e6,
            "occupancy": agent.occupancy, "talk_minutes_per_hour": agent.talk_minutes_per_hour}


def report_json(report: Report) -> dict[str, Any]:
    r = report.range
    return {
        "from": r.first_day.isoformat(), "to": r.end_day.isoformat(), "zone": r.zone,
        "campaign_id": report.campaign_id, "generated_at": report.generated_at.isoformat(),
        "campaigns": [campaign_json(c) for c in report.campaigns],
        "total": campaign_json(report.total),
        "hours": [hour_json(h) for h in report.hours],
        "days": [day_json(d) for d in report.days],
        "agents": [agent_json(a) for a in report.agents],
    }


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):  # six decimals at most, no trailing zeros
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return make_inert(str(value))  # campaign names are free text


def _flat(row: dict[str, Any], currencies: Sequence[str]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if not isinstance(v, dict)}
    for key in ("promised_amount", "recovered_amount"):
        if key in row:
            for currency in currencies:
                out[f"{key}_{currency}"] = row[key].get(currency, "0")
    return out


def report_csv(report: Report, table: str = "campaigns") -> str:
    """One table of the report as CSV (header first); amounts one column per currency."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; one of {', '.join(TABLES)}")
    rows: list[dict[str, Any]]
    if table == "campaigns":
        all_rows = [*report.campaigns, report.total]
        currencies = sorted({m.currency for c in all_rows for m in (*c.promises.promised,
                                                                       *c.recovered)})
        rows = [_flat(campaign_json(c), currencies) for c in all_rows]
    else:
        render: dict[str, Callable[[Any], dict[str, Any]]] = {
            "hours": hour_json, "days": day_json, "agents": agent_json}
        source: dict[str, Sequence[Any]] = {
            "hours": report.hours, "days": report.days, "agents": report.agents}
        rows = [render[table](item) for item in source[table]]
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


# -- the terminal ---------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _money_text(amounts: tuple[Money, ...]) -> str:
    return "; ".join(f"{m.currency} {m.amount:,.2f}" for m in amounts) or "-"


def _width(text: str) -> int:
    """Terminal columns: Chinese, Japanese and Korean characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - _width(text))
    return fill + text if right else text + fill


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    cells = [[str(v) for v in header], *[[str(v) for v in row] for row in rows]]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(_pad(v, w, right=i > 0)
                               for i, (v, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def report_text(report: Report) -> str:
    r = report.range
    rows = [*report.campaigns, report.total]
    lines = [f"report {r.first_day} .. {r.end_day} (end day excluded), {r.zone}"
             + (f", campaign {report.campaign_id}" if report.campaign_id is not None else ""),
             "", "calls"]
    lines += _table(
        ("campaign", "attempts", "connect", "live", "live rate", "avg talk s", "RPC",
         "abandoned", "abandon", "bot contained"),
        [(c.name[:28], c.calls.attempts, _pct(c.calls.connect_rate), c.calls.live,
          _pct(c.calls.live_answer_rate),
          "-" if c.calls.average_talk_s is None else f"{c.calls.average_talk_s:.1f}",
          c.calls.right_party, c.calls.abandoned, _pct(c.calls.abandon_rate),
          _pct(c.calls.bot_containment)) for c in rows])
    lines += ["", "promises and money"]
    lines += _table(
        ("campaign", "promise calls", "promise rate", "promised", "settled", "kept rate",
         "recovered"),
        [(c.name[:28], c.calls.promise_calls, _pct(c.calls.promise_rate),
          _money_text(c.promises.promised), c.promises.settled, _pct(c.promises.kept_rate),
          _money_text(c.recovered)) for c in rows])
    lines += ["", "by hour of day, the debtor's local time"]
    lines += _table(("hour", "attempts", "connect", "live", "live rate"),
                    [(f"{h.hour:02d}", h.calls.attempts, _pct(h.calls.connect_rate),
                      h.calls.live, _pct(h.calls.live_answer_rate)) for h in report.hours])
    names = {c.campaign_id: c.name for c in report.campaigns}
    last_day = r.days()[-1]
    # The days with calls, and the last one (the 30-day rate as the range ends); the
    # JSON and CSV have every day.
    shown = [d for d in report.days if d.live or d.abandoned or d.day == last_day]
    lines += ["", "abandon rate per day (of live answers; 30 days: the window ending that day)"]
    lines += _table(("campaign", "day", "live", "abandoned", "rate", "live 30d", "rate 30d"),
                    [(names.get(d.campaign_id, str(d.campaign_id))[:28], d.day, d.live,
                      d.abandoned, _pct(d.abandon_rate), d.live_30d,
                      _pct(d.abandon_rate_30d)) for d in shown])
    lines += ["", "agents (all campaigns)"]
    lines += _table(("agent", "logged in h", "on call h", "wrap-up h", "occupancy",
                     "talk min/h"),
                    [(a.agent_id or "all", f"{a.logged_in_us / 3600e6:.2f}",
                      f"{a.on_call_us / 3600e6:.2f}", f"{a.wrap_up_us / 3600e6:.2f}",
                      _pct(a.occupancy),
                      "-" if a.talk_minutes_per_hour is None
                      else f"{a.talk_minutes_per_hour:.1f}") for a in report.agents])
    return "\n".join(lines) + "\n"
