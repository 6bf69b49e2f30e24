"""Live pacing on the lab: agents on real SIP phones, the real PBX and carrier, one
campaign per policy, beside the simulator's prediction for the same workload.

    .venv/bin/python -m tests.bench.bench_pacing_live [--debtors N] [--policies a,b]

The workload (tests/bench/live_pacing.json: 5 agents, answer probability, ring, talk and
wrap-up times scaled down so a list of 200 takes minutes, the 2 s drop time and the 3 %
abandon cap) is used twice:
- live: the debtors are drawn from it (seeded, the same list for every policy): each
  rings for a drawn time on the carrier, then a person answers (and hangs up a drawn talk
  time later) or the line is busy or not answered. Five sipp phones register as agents
  and answer every call offered (ringing 0.2 s); wrap-up is the daemon's timer. The daemon
  runs in this process with the policy set on the campaign.
- simulated: `predictive.simulator` runs the same policy on the same workload (steady
  state: `hours` × `days` of dialling, no list to run out).
Live figures, from the database:
- occupancy = time agents were on a call or in wrap-up ÷ time logged in, from the start
  of the campaign to its last dial (after that the list is empty and agents idle);
- abandon rate = answered calls abandoned with the message ÷ answered calls;
- talk min/agent-h, answer → agent median latency, and the duration of the run.
`huilong` dials progressively until it has seen 40 live answers and 20 connected calls
(its warm-up); the "after warm-up" columns count only what followed.
The lab is started if it is not running, and stopped again if it was started here; the
database is a throwaway cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import numpy as np

from db.campaigns import CampaignRepository
from db.migrate import migrate
from db.pool import create_pool
from engine.daemon import Daemon
from engine.lab.carrier import Network, Scenario
from engine.lab.lab import Lab, write_lab_config
from engine.lab.phones import AgentPhone, free_udp_port
from engine.settings import BotSettings, load_settings
from predictive.policies import registry
from predictive.simulator import simulate
from predictive.workload import Workload, load_workload
from tests.bench.postgres import bench_database
from tests.integration.labkit import add_agents, load_campaign, remove_agents, wait_until

PROJECT_DIR = Path(__file__).resolve().parents[2]
WORKLOAD = Path(__file__).resolve().parent / "live_pacing.json"
PASSWORD = "bench-agent-phone"
PHONE_RING_MS = 200
MAX_RING_S = 25.0  # under the dialer's ring timeout
WARM_UP_LIVE = 40  # huilong's min_live


@dataclass(frozen=True, slots=True)
class Line:
    """One drawn debtor: ring time, whether a person answers, how long they talk."""

    ring_s: float
    live: bool
    talk_s: float
    busy: bool


def draw_lines(workload: Workload, count: int) -> list[Line]:
    rng = np.random.default_rng(workload.seed)
    p = workload.mean_answer_probability
    rings = np.clip(workload.dial_seconds.sample(rng, count), 0.2, MAX_RING_S)
    talks = workload.talk_seconds.sample(rng, count)
    draws = rng.random(count)
    busy = rng.random(count) < 0.25  # of those nobody answers: a busy line, else no answer
    return [Line(float(rings[i]), bool(draws[i] < p), float(talks[i]), bool(busy[i]))
            for i in range(count)]


def scenarios_for(lines: list[Line], prefix: str) -> list[Scenario]:
    out = []
    for i, line in enumerate(lines):
        number = f"{prefix}{i:05d}"
        if line.live:
            # The person's clock starts at answer; the agent joins ~0.3 s later.
            out.append(Scenario(number, Network.ANSWER, ring_s=round(line.ring_s, 2),
                                hold_s=round(line.talk_s + 0.3, 2)))
        else:
            out.append(Scenario(number, Network.BUSY if line.busy else Network.NO_ANSWER,
                                ring_s=round(line.ring_s, 2)))
    return out


@dataclass(frozen=True, slots=True)
class LiveResult:
    policy: str
    seconds: float
    dials: int
    answered: int
    bridged: int
    abandoned: int
    occupancy: float
    talk_min_per_agent_hour: float
    latency_ms: float
    warm_occupancy: float
    warm_abandon: float
    pauses: dict[str, int]  # agents paused during the run, by reason (unreachable, …)


def occupancy(log: list[asyncpg.Record], start: datetime, end: datetime) -> tuple[float, float]:
    """(busy ÷ logged in, talk seconds) over [start, end) from agent_state_log rows
    (agent_id, status, at) sorted by agent and time."""
    busy = logged = talk = 0.0
    by_agent: dict[str, list[tuple[datetime, str]]] = {}
    for row in log:
        by_agent.setdefault(row["agent_id"], []).append((row["at"], row["status"]))
    for changes in by_agent.values():
        status = "offline"
        cursor = start
        for at, new_status in changes:
            if at <= start:
                status = new_status
                continue
            if at >= end:
                break
            busy, logged, talk = _account(status, (at - cursor).total_seconds(),
                                          busy, logged, talk)
            status, cursor = new_status, at
        busy, logged, talk = _account(status, (end - cursor).total_seconds(), busy, logged, talk)
    return (busy / logged if logged else float("nan")), talk


def _account(status: str, seconds: float, busy: float, logged: float,
             talk: float) -> tuple[float, float, float]:
    if status != "offline":
        logged += seconds
    if status in ("on_call", "wrap_up"):
        busy += seconds
    if status == "on_call":
        talk += seconds
    return busy, logged, talk


async def measure(pool: asyncpg.Pool, policy: str, campaign_id: int, start: datetime,
                  agents: int) -> LiveResult:
    rows = await pool.fetch(
        "SELECT a.created_at, a.answered_at, a.abandoned, a.ended_at,"
        " (SELECT (e.detail->>'latency_ms')::float FROM call_events e"
        "   WHERE e.attempt_id = a.id AND e.kind = 'agent_connected' LIMIT 1) AS latency_ms,"
        " EXISTS (SELECT 1 FROM call_events e WHERE e.attempt_id = a.id"
        "   AND e.kind = 'agent_connected') AS bridged"
        " FROM attempts a WHERE a.campaign_id = $1 ORDER BY a.created_at", campaign_id)
    last_dial = max(r["created_at"] for r in rows)
    last_end = max(r["ended_at"] for r in rows)
    log = await pool.fetch("SELECT agent_id, status, at FROM agent_state_log"
                           " WHERE at <= $1 ORDER BY agent_id, at", last_end)
    occ, talk_s = occupancy(log, start, last_dial)
    answered = [r for r in rows if r["answered_at"] is not None]
    # After warm-up: from the answer that made WARM_UP_LIVE live answers on.
    warm = sorted(answered, key=lambda r: r["answered_at"])[WARM_UP_LIVE:]
    warm_start = warm[0]["answered_at"] if warm else last_dial
    warm_occ, _ = occupancy(log, warm_start, last_dial) if warm_start < last_dial else (
        float("nan"), 0.0)
    latencies = [r["latency_ms"] for r in rows if r["latency_ms"] is not None]
    pauses: dict[str, int] = {}
    for row in await pool.fetch("SELECT reason FROM agent_state_log WHERE status = 'paused'"
                                " AND at BETWEEN $1 AND $2", start, last_end):
        pauses[row["reason"] or "-"] = pauses.get(row["reason"] or "-", 0) + 1
    window_h = (last_dial - start).total_seconds() / 3600
    return LiveResult(
        policy=policy, seconds=(last_end - start).total_seconds(), dials=len(rows),
        answered=len(answered), bridged=sum(r["bridged"] for r in rows),
        abandoned=sum(r["abandoned"] for r in rows), occupancy=occ,
        talk_min_per_agent_hour=talk_s / 60 / (agents * window_h) if window_h else 0.0,
        latency_ms=statistics.median(latencies) if latencies else float("nan"),
        warm_occupancy=warm_occ,
        warm_abandon=(sum(r["abandoned"] for r in warm) / len(warm)) if warm else float("nan"),
        pauses=pauses)


async def run_policy(daemon: Daemon, lab: Lab, settings, pool: asyncpg.Pool,
                     workload: Workload, lines: list[Line], policy: str, prefix: str,
                     agent_ids: tuple[str, ...]) -> LiveResult:
    scenarios = scenarios_for(lines, prefix)
    await asyncio.to_thread(lab.carrier.apply, scenarios)
    p = workload.mean_answer_probability
    loaded = await load_campaign(pool, settings, scenarios, name=f"live-{policy}", start=False,
                                 options={"agents": True, "pacing": policy,
                                          "answer_probability_guess": p,
                                          "ring_seconds_guess": workload.dial_seconds.mean,
                                          "talk_seconds_guess": workload.talk_seconds.mean,
                                          "wrap_seconds_guess": workload.wrap_seconds.mean,
                                          "drop_seconds": workload.drop_seconds,
                                          "abandon_cap": workload.abandon_cap})
    agents = daemon.agents
    assert agents is not None
    for agent_id in agent_ids:
        agents.request(agent_id, "login")
    start = datetime.now(UTC)
    began = time.monotonic()
    await CampaignRepository(pool).set_status(loaded.campaign_id, "running")

    async def all_final() -> bool:
        left = await pool.fetchval(
            "SELECT count(*) FROM campaign_targets t LEFT JOIN attempts a"
            " ON a.id = t.attempt_id WHERE t.campaign_id = $1"
            " AND (t.status <> 'done' OR a.state IS DISTINCT FROM 'final')",
            loaded.campaign_id)
        return left == 0

    # Polled slowly: this process is the daemon being measured.
    await wait_until(all_final, timeout=60 + 20 * len(lines), what=f"{policy}: the list done",
                     poll_s=1.0)
    print(f"  {policy}: list done in {time.monotonic() - began:.0f} s", flush=True)

    async def all_idle() -> bool:
        return all(a.status.value in ("ready", "paused") for a in agents.registry.agents()
                   if a.agent_id in agent_ids)

    await wait_until(all_idle, timeout=30, what="agents back from wrap-up", poll_s=0.2)
    for agent_id in agent_ids:
        agents.request(agent_id, "logout")
    await asyncio.sleep(0.5)  # let the state-log writer catch up (no event to wait on)
    return await measure(pool, policy, loaded.campaign_id, start, len(agent_ids))


async def run(debtors: int, policies: list[str]) -> list[LiveResult]:
    workload = load_workload(WORKLOAD)
    lines = draw_lines(workload, debtors)
    agent_ids = tuple(str(2001 + i) for i in range(workload.agents))
    settings = load_settings(write_lab_config(PROJECT_DIR / ".state"))
    lab = Lab(settings)
    started_here = lab.status().pbx is None
    if started_here:
        await asyncio.to_thread(lab.up)
    results = []
    try:
        async with bench_database() as dsn:
            pool = await create_pool(dsn, min_size=1, max_size=4)
            async with pool.acquire() as conn:
                await migrate(conn)
            settings = load_settings(write_lab_config(PROJECT_DIR / ".state"),
                                     database={"url": dsn}, http={"port": 0})
            settings.bot = BotSettings(**lab.bot_settings())
            settings.agents.institution = "Huilong Bench Bank"
            settings.agents.callback_number = "400 000 0000"
            settings.agents.abandon_language = "en"
            settings.agents.abandon_message = ("This is {institution}. Please call us back "
                                               "on {callback_number}.")
            settings.agents.wrap_up_s = workload.wrap_seconds.mean
            settings.agents.drop_s = workload.drop_seconds
            settings.dial.max_concurrent_calls = 4 * workload.agents
            await add_agents(settings, pool, agent_ids, PASSWORD)
            phones = [AgentPhone(a, PASSWORD, free_udp_port()) for a in agent_ids]
            try:
                for phone in phones:
                    registered = await asyncio.to_thread(phone.register)
                    if not registered.ok:
                        raise SystemExit(f"agent phone {phone.agent_id} did not register:\n"
                                         f"{registered.detail}")
                    phone.start_answering(ring_ms=PHONE_RING_MS, talk_ms=600_000)
                daemon = Daemon(settings)
                task = asyncio.create_task(daemon.run(), name="daemon")
                try:
                    async with asyncio.timeout(60):
                        await daemon.ready.wait()
                        await daemon.ari.connected.wait()

                    def reachable() -> bool:
                        assert daemon.agents is not None
                        return all(a.reachable for a in daemon.agents.registry.agents())

                    await wait_until(_async(reachable), timeout=30, what="agent phones")
                    for n, policy in enumerate(policies):
                        results.append(await run_policy(
                            daemon, lab, settings, pool, workload, lines, policy,
                            f"86139{n:02d}", agent_ids))
                finally:
                    daemon.request_stop()
                    async with asyncio.timeout(60):
                        await task
            finally:
                for phone in phones:
                    phone.stop()
                await remove_agents(settings, pool)
                await pool.close()
    finally:
        if started_here:
            await asyncio.to_thread(lab.down)
    return results


def _async(predicate):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return bool(predicate())
    return check


def _print(workload: Workload, debtors: int, results: list[LiveResult]) -> None:
    factories = registry()
    print(f"workload {workload.name}: {workload.agents} agents, answer p "
          f"{workload.mean_answer_probability:.2f}, ring {workload.dial_seconds.dist} "
          f"mean {workload.dial_seconds.mean:g} s, talk {workload.talk_seconds.dist} mean "
          f"{workload.talk_seconds.mean:g} s, wrap {workload.wrap_seconds.mean:g} s, drop "
          f"{workload.drop_seconds:g} s, cap {workload.abandon_cap:.0%}; live: {debtors} "
          "debtors on the lab; simulated: steady state, "
          f"{workload.hours} h × {workload.days} days")
    print(f"{'policy':<12} {'where':<10} {'occupancy':>9} {'abandon':>8} {'talk min/ag-h':>13} "
          f"{'dials':>6} {'answered':>8} {'bridged':>7} {'abandoned':>9} {'latency ms':>10} "
          f"{'run s':>6} {'occ warm':>8} {'aband warm':>10}")
    for result in results:
        simulated = simulate(workload, factories[result.policy]).metrics
        print(f"{result.policy:<12} {'simulated':<10} {simulated.occupancy:9.1%} "
              f"{simulated.abandon_rate:8.2%} {simulated.talk_minutes_per_agent_hour:13.1f} "
              f"{simulated.dials:6d} {simulated.answers:8d}")
        abandon = result.abandoned / result.answered if result.answered else float("nan")
        print(f"{'':<12} {'live':<10} {result.occupancy:9.1%} {abandon:8.2%} "
              f"{result.talk_min_per_agent_hour:13.1f} {result.dials:6d} {result.answered:8d} "
              f"{result.bridged:7d} {result.abandoned:9d} {result.latency_ms:10.0f} "
              f"{result.seconds:6.0f} {result.warm_occupancy:8.1%} {result.warm_abandon:10.2%}")
        if result.pauses:
            print(f"{'':<12} agents paused during the run: "
                  + ", ".join(f"{reason} ×{n}" for reason, n in sorted(result.pauses.items())))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=200)
    parser.add_argument("--policies", default="huilong,progressive")
    args = parser.parse_args(argv)
    # As the daemon's CLI does: asyncari warns about every event kind it has no model for.
    logging.getLogger("asyncari.model").setLevel(logging.ERROR)
    policies = args.policies.split(",")
    unknown = [p for p in policies if p not in registry()]
    if unknown:
        raise SystemExit(f"unknown policy {unknown[0]!r} (known: {', '.join(registry())})")
    results = asyncio.run(run(args.debtors, policies))
    _print(load_workload(WORKLOAD), args.debtors, results)


if __name__ == "__main__":
    main()
