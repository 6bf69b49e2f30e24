"""The dashboard's pure parts: how its script writes the report's figures
(engine/dashboard/static/format.js, run under Node), the campaigns' abandon caps and the
agents counted by state (engine.dashboard.figures)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from db.campaigns import CampaignRow
from engine.agents.state import AgentStatus
from engine.dashboard.figures import (
    DEFAULT_ABANDON_CAP,
    abandon_cap,
    agent_states,
    campaign_entry,
)

FORMAT_JS = Path(__file__).resolve().parents[2] / "engine" / "dashboard" / "static" / "format.js"
NODE = shutil.which("node") or shutil.which("nodejs")

# (function, arguments, what it returns) — the arguments as the report's JSON has them.
CASES: list[tuple[str, list[Any], Any]] = [
    ("rate", [0.5], "50.0%"),
    ("rate", [2 / 3], "66.7%"),
    ("rate", [0.0005], "0.1%"),
    ("rate", [0.1225], "12.3%"),  # exactly 12.25 %: a tie rounds up (Python's .1f: 12.2)
    ("rate", [1], "100.0%"),
    ("rate", [None], "–"),  # nothing to divide
    ("count", [0], "0"),
    ("count", [1234567], "1,234,567"),
    ("count", [None], "–"),
    ("money", [{"USD": "70.00", "CNY": "1234567.89"}], "CNY 1,234,567.89 · USD 70.00"),
    ("money", [{"CNY": "0.10"}], "CNY 0.10"),
    ("money", [{"JPY": "-1500"}], "JPY -1,500"),
    # digits beyond a double's precision are kept: the amount is never a number
    ("money", [{"CNY": "12345678901234567.89"}], "CNY 12,345,678,901,234,567.89"),
    ("money", [{}], "–"),
    ("minutes", [9.25], "9.3 min"),
    ("minutes", [0], "0.0 min"),
    ("seconds", [85.14], "85.1 s"),
    ("format", ["rate", 0.25], "25.0%"),
    ("metricValue", [{"attempts": 3}, "attempts"], 3),
    ("metricValue", [{"talk_calls": 4, "average_talk_s": 90}, "talk_minutes"], 6),
    ("metricValue", [{"talk_calls": 0, "average_talk_s": None}, "talk_minutes"], 0),
    ("metricValue", [{"kept_rate": None}, "kept_rate"], None),
    ("share", [3, 12], 0.25),
    ("share", [3, 0], None),
    ("addDays", ["2024-02-28", 1], "2024-02-29"),
    ("addDays", ["2024-03-01", -1], "2024-02-29"),
    ("addDays", ["2024-12-31", 1], "2025-01-01"),
    ("daysFrom", ["2024-12-30", "2025-01-02"], ["2024-12-30", "2024-12-31", "2025-01-01"]),
    ("daysFrom", ["2024-06-01", "2024-06-01"], []),
]
FAILING: list[tuple[str, list[Any], str]] = [
    ("format", ["percent", 0.5], "no format for percent"),
    ("metricValue", [{"attempts": 3}, "attempt"], "the report has no figure attempt"),
]

RUNNER = """
const f = require(process.argv[1]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
console.log(JSON.stringify(cases.map(([name, args]) => {
  try { return {value: f[name](...args)}; } catch (e) { return {error: e.message}; }
})));
"""


def run_format_js(cases: list[tuple[str, list[Any], Any]]) -> list[dict[str, Any]]:
    if NODE is None:
        pytest.skip("Node is not installed")
    done = subprocess.run([NODE, "-e", RUNNER, str(FORMAT_JS)],
                          input=json.dumps([[n, a] for n, a, _ in cases]),
                          capture_output=True, text=True, timeout=30, check=True)
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def test_format_js_writes_figures_as_the_page_shows_them() -> None:
    """Steps: each case through format.js in Node. Expected: rates as percentages with
    one decimal (half up), counts and amounts with grouped digits (amounts as their own
    digits, however many), nothing to show as a dash, days as ISO dates across month and
    year ends; an unknown format or figure is an error naming it."""
    results = run_format_js([*CASES, *FAILING])
    for (name, args, expected), result in zip([*CASES, *FAILING], results, strict=True):
        if (name, args, expected) in FAILING:
            assert result == {"error": expected}, (name, args)
        else:
            assert result == {"value": expected}, (name, args)


@pytest.mark.parametrize(("settings", "cap"), [
    ({}, DEFAULT_ABANDON_CAP),
    ({"abandon_cap": 0.05}, 0.05),
    ({"abandon_cap": "0.02"}, 0.02),
    ({"abandon_cap": 0}, 0.0),
    ({"abandon_cap": 1}, 1.0),
    ({"abandon_cap": 1.5}, None),
    ({"abandon_cap": -0.01}, None),
    ({"abandon_cap": "three"}, None),
    ({"abandon_cap": True}, None),
    ({"abandon_cap": None}, None),
    ({"abandon_cap": math.nan}, None),
])
def test_abandon_cap_is_the_pacing_setting(settings: dict[str, Any], cap: float | None) -> None:
    """Steps: campaign settings with and without `abandon_cap`. Expected: the pacing
    default (3 %) without it, the setting as a fraction, None for anything else."""
    assert DEFAULT_ABANDON_CAP == 0.03
    assert abandon_cap(settings) == cap


def test_campaign_entry_and_agent_states() -> None:
    """Steps: a campaign row with a Chinese name; agents in three states. Expected: the
    selector's entry with its cap; every state counted, absent ones as 0, in the
    registry's order."""
    row = CampaignRow(7, "春季 bot", "bot", "running", {"abandon_cap": 0.04},
                      datetime(2024, 6, 1, tzinfo=UTC))
    assert campaign_entry(row) == {"id": 7, "name": "春季 bot", "status": "running",
                                   "abandon_cap": 0.04}
    counted = agent_states([AgentStatus.READY, AgentStatus.ON_CALL, AgentStatus.READY,
                            AgentStatus.PAUSED])
    assert counted == {"states": {"offline": 0, "ready": 2, "reserved": 0, "on_call": 1,
                                  "wrap_up": 0, "paused": 1}, "total": 4}
    assert list(counted["states"]) == [s.value for s in AgentStatus]
