"""The policy registry: name → factory(workload) for every pacing policy.

`huilong` is registered lazily from `predictive.policies.huilong` when that module exists;
it must offer `factory(workload)`, `make_policy(workload)` or a class `HuilongPolicy`
taking the workload.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from predictive.model import Policy
from predictive.policies.basic import FixedRatio, Preview, Progressive
from predictive.policies.vicidial import vicidial_default, vicidial_tuned
from predictive.workload import Workload

PolicyFactory = Callable[[Workload], Policy]

_BUILTIN: dict[str, PolicyFactory] = {
    "preview": lambda w: Preview(),
    "progressive": lambda w: Progressive(),
    "fixed_ratio": lambda w: FixedRatio(),
    "vicidial_default": vicidial_default,
    "vicidial_tuned": vicidial_tuned,
}


def _huilong() -> PolicyFactory | None:
    try:
        module = importlib.import_module("predictive.policies.huilong")
    except ModuleNotFoundError as exc:
        if exc.name == "predictive.policies.huilong":
            return None
        raise
    for attr in ("factory", "make_policy", "HuilongPolicy"):
        found = getattr(module, attr, None)
        if callable(found):
            return found  # type: ignore[no-any-return]
    return None


def registry() -> dict[str, PolicyFactory]:
    """Every available policy, in benchmark order."""
    out = dict(_BUILTIN)
    huilong = _huilong()
    if huilong is not None:
        out["huilong"] = huilong
    return out


def policy_names() -> list[str]:
    return list(registry())


def get_policy(name: str) -> PolicyFactory:
    """The factory for `name`; `KeyError` naming the known policies otherwise."""
    policies = registry()
    if name not in policies:
        raise KeyError(f"unknown policy {name!r} (known: {', '.join(policies)})")
    return policies[name]
