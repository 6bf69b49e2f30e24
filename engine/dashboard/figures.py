"""What the dashboard adds to the campaign report, as plain values: each campaign's
abandon cap and the live agents counted by state. Pure: no I/O."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from db.campaigns import CampaignRow
from engine.agents.state import AgentStatus
from engine.pacing import live_workload

# The cap the pacing policy gets when a campaign sets none: read from engine.pacing,
# which defines it, so the line on the chart is the limit the dialer paces to.
DEFAULT_ABANDON_CAP = live_workload(1, {}).abandon_cap


def abandon_cap(settings: Mapping[str, Any]) -> float | None:
    """The campaign's abandon cap (the setting `abandon_cap`, a fraction of live
    answers, as engine.pacing reads it); None when the setting is not a fraction
    between 0 and 1 (the dialer would refuse it, the chart shows no line)."""
    value = settings.get("abandon_cap", DEFAULT_ABANDON_CAP)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        cap = float(value)
    except ValueError:
        return None
    return cap if math.isfinite(cap) and 0 <= cap <= 1 else None


def campaign_entry(row: CampaignRow) -> dict[str, Any]:
    """One campaign for the page's selector and abandon chart."""
    return {"id": row.id, "name": row.name, "status": row.status,
            "abandon_cap": abandon_cap(row.settings)}


def agent_states(statuses: Iterable[AgentStatus]) -> dict[str, Any]:
    """Agents per state, every state listed (zero included) in the registry's order."""
    counted = Counter(statuses)
    states = {status.value: counted[status] for status in AgentStatus}
    return {"states": states, "total": sum(states.values())}
