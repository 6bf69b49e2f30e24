"""The demo's agent part: three simulated agents on SIP phones (sipp, registered to the
PBX, answering and echoing the audio) take a predictive campaign's answered calls; the
calls no agent can take in time are abandoned with the message."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta
from decimal import Decimal

from db.agents import AgentRepository
from db.campaigns import CampaignRepository
from db.crypto import load_or_create_keyfile
from db.debtors import DebtInput, DebtorRepository
from db.targets import TargetRepository
from engine.agents.phones import digest_credential, new_password
from engine.agents.state import Agent
from engine.cli_agents import sync
from engine.daemon import Daemon
from engine.lab.carrier import Network, Pause, Say, Scenario
from engine.lab.phones import AgentPhone, free_udp_port
from engine.settings import Settings

AGENT_IDS = ("7001", "7002", "7003")
TALK_MS = 3000


def agent_lines(count: int = 9) -> list[Scenario]:
    """Debtors who answer and talk (and stay until the call is ended for them); every
    fifth is busy."""
    lines = []
    for i in range(count):
        number = f"86137{i + 1:08d}"
        if i % 5 == 4:
            lines.append(Scenario(number, Network.BUSY, ring_s=0.5))
        else:
            lines.append(Scenario(number, Network.ANSWER, ring_s=0.5 + (i % 3) * 0.4,
                                  hold_s=None, script=(Say("Hello? Yes, this is me."),
                                                       Pause(0.5), Say("Go on, I am listening."))))
    return lines


def configure(settings: Settings) -> None:
    """The abandon message must name the institution and a callback number."""
    settings.agents.institution = settings.agents.institution or "回笼演示银行"
    settings.agents.callback_number = settings.agents.callback_number or "400-000-0000"
    settings.agents.wrap_up_s = 0.5


async def run_agent_campaign(pool, settings: Settings, daemon: Daemon, lines: list[Scenario],
                             zone: str, rules: dict[str, object], show_progress) -> int:
    """The carrier must already know `lines` (one `apply` holds all of a run's lines)."""
    repository = AgentRepository(pool)
    password = new_password()
    for agent_id in AGENT_IDS:
        await repository.add(agent_id, f"演示坐席 {agent_id}", settings.agents.realm,
                             digest_credential(agent_id, settings.agents.realm, password))
    await sync(settings, repository)
    assert daemon.agents is not None
    for agent_id in AGENT_IDS:
        daemon.agents.registry.add(agent_id)
    registry = daemon.agents.registry
    phones_up = asyncio.Event()

    def on_change(agent: Agent) -> None:
        if all(registry.get(a).reachable for a in AGENT_IDS):
            phones_up.set()

    daemon.agents.listeners.append(on_change)
    phones = [AgentPhone(agent_id, password, free_udp_port()) for agent_id in AGENT_IDS]
    try:
        for phone in phones:
            if not (await asyncio.to_thread(phone.register)).ok:
                print(f"agent phone {phone.agent_id} could not register")
                return 1
            phone.start_answering(ring_ms=300, talk_ms=TALK_MS)
        async with asyncio.timeout(30):  # the PBX qualifies each phone (AMI ContactStatus)
            await phones_up.wait()
        daemon.agents.listeners.remove(on_change)
        for agent_id in AGENT_IDS:
            daemon.agents.request(agent_id, "login")
        campaign_id = await _load(pool, settings, lines, zone, rules)
        print(f"\nagent campaign {campaign_id}: {len(lines)} debtors, "
              f"{len(AGENT_IDS)} agents on SIP phones, 1.5 lines per ready agent")
        await show_progress(pool, campaign_id, len(lines))
        return await _report(pool, campaign_id, len(lines))
    finally:
        for phone in phones:
            phone.stop()
            await asyncio.to_thread(phone.register, 0)
        await pool.execute("UPDATE agents SET removed_at = now() WHERE agent_id = ANY($1)",
                           list(AGENT_IDS))
        await sync(settings, repository)


async def _load(pool, settings: Settings, lines: list[Scenario], zone: str,
                rules: dict[str, object]) -> int:
    debtors = DebtorRepository(pool, load_or_create_keyfile(settings.pii.keyfile))
    campaigns, targets = CampaignRepository(pool), TargetRepository(pool)
    now = datetime.now().astimezone()
    campaign_id = await campaigns.create(f"demo-agents-{now:%Y%m%d-%H%M%S}", "agent_call",
                                         {**rules, "agents": True, "pacing": "fixed_ratio"})
    for i, line in enumerate(lines):
        debtor_id = await debtors.upsert_debtor(
            external_id=f"DEMO-A{i + 1:03d}", name=f"演示 客户{i + 1}", phones=[f"+{line.number}"],
            timezone=zone,
            debts=[DebtInput(account_ref="L1", principal=Decimal("1200.00"),
                             amount_due=Decimal("1200.00"), overdue_days=40,
                             due_date=date.today() - timedelta(days=40))])
        phone = (await debtors.phones_of(debtor_id))[0]
        await targets.add(campaign_id, debtor_id, phone.id)
    await campaigns.set_status(campaign_id, "running")
    return campaign_id


async def _report(pool, campaign_id: int, total: int) -> int:
    rows = await pool.fetch(
        """SELECT a.answered_at IS NOT NULL AS answered, a.abandoned, a.disposition,
                  (SELECT detail FROM call_events e WHERE e.attempt_id = a.id
                   AND e.kind = 'agent_connected') AS connected
           FROM attempts a WHERE a.campaign_id = $1""", campaign_id)
    answered = [r for r in rows if r["answered"]]
    bridged = [json.loads(r["connected"]) for r in answered if r["connected"]]
    abandoned = [r for r in answered if r["abandoned"]]
    latencies = sorted(b["latency_ms"] for b in bridged)
    by_agent: dict[str, int] = {}
    for b in bridged:
        by_agent[b["agent"]] = by_agent.get(b["agent"], 0) + 1
    median = latencies[len(latencies) // 2] if latencies else 0
    print(f"\nagent campaign: {len(rows)} calls, {len(answered)} answered: {len(bridged)} "
          f"bridged to agents (answer → agent median {median} ms; "
          + ", ".join(f"{a}: {n}" for a, n in sorted(by_agent.items()))
          + f"), {len(abandoned)} abandoned with the message")
    unaccounted = len(answered) - len(bridged) - len(abandoned)
    return 0 if len(rows) == total and unaccounted == 0 and bridged else 1
