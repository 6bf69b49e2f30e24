"""30-day replay through the compliance gate, checked by the independent SQL checker."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

import asyncpg

from db.compliance_check import RULES, count_violations
from engine.compliance.replay import ReplayConfig, ReplayResult, run_replay

WORKERS = 2


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The replay builds ~400,000 long-lived, acyclic rows (and unpickles and merges
    them): the cyclic collector would only rescan them, for a quarter of the time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _chunk(config: ReplayConfig, ids: range) -> ReplayResult:
    with _gc_paused():
        return run_replay(config, debtor_ids=ids)


async def _replay_parallel(config: ReplayConfig) -> ReplayResult:
    step = -(-config.debtors // WORKERS)
    chunks = [range(i, min(i + step, config.debtors + 1)) for i in range(1, config.debtors + 1,
                                                                         step)]
    loop = asyncio.get_running_loop()
    with _gc_paused():
        with ProcessPoolExecutor(max_workers=WORKERS) as pool:
            parts = await asyncio.gather(*(loop.run_in_executor(pool, _chunk, config, ids)
                                           for ids in chunks))
        result = ReplayResult()
        for part in parts:
            result.merge(part)
    return result


async def test_replay_10000_debtors_30_days_has_zero_violations(db_pool: asyncpg.Pool) -> None:
    """Steps: simulate 10,000 debtors (CN, US with one or two zones, UK; DNC, opt-outs,
    consent expiring, inconvenient times, third parties, CN National Day, UK and US
    DST ends) dialled for 30 days through the gate; load every placed attempt into
    PostgreSQL and count violations of every rule with SQL.
    Expected: every rule was exercised (each reason code denied something), many
    attempts were placed, and every rule's violation count is 0."""
    result = await _replay_parallel(ReplayConfig(debtors=10_000))
    assert len(result.rows) > 100_000
    assert {"cn.quiet_hours", "cn.number_daily_cap", "cn.debtor_conversation_cap",
            "cn.third_party_not_yet", "cn.third_party_refused", "us.calling_window",
            "us.seven_in_seven", "us.after_conversation", "uk.abandon_72h",
            "uk.machine_same_day", "dnc", "holiday", "no_consent",
            "inconvenient_time"} <= set(result.denials)
    violations = await count_violations(db_pool, result)
    assert set(violations) == set(RULES)
    assert violations == dict.fromkeys(RULES, 0)


async def test_checker_catches_a_replay_without_the_gate(db_pool: asyncpg.Pool) -> None:
    """Steps: the same simulation for 400 debtors with the gate switched off (every
    candidate is placed), then the SQL checker.
    Expected: non-zero violation counts for at least 10 rules, including the quiet
    hours, the US window, 7-in-7, DNC and the CN number cap."""
    result = run_replay(ReplayConfig(debtors=400, gate_enabled=False))
    violations = await count_violations(db_pool, result)
    caught = {rule for rule, count in violations.items() if count > 0}
    assert len(caught) >= 10, violations
    assert {"cn.quiet_hours", "us.calling_window", "us.seven_in_seven", "dnc",
            "cn.number_daily_cap"} <= caught
