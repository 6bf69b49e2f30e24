"""The compliance gate: pure rules deciding whether a debtor's number may be called."""

from engine.compliance.gate import decide, explain
from engine.compliance.model import (
    CampaignPolicy,
    ContactAttempt,
    DebtorFacts,
    Decision,
    InconvenientWindow,
    NumberFacts,
    Reason,
)
from engine.compliance.packs import DEFAULT_PACKS, PackConfigError, Packs, load_packs

__all__ = [
    "DEFAULT_PACKS",
    "CampaignPolicy",
    "ContactAttempt",
    "DebtorFacts",
    "Decision",
    "InconvenientWindow",
    "NumberFacts",
    "PackConfigError",
    "Packs",
    "Reason",
    "decide",
    "explain",
    "load_packs",
]
