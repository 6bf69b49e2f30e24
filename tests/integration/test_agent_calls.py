"""Predictive calls bridged to agents on real SIP phones (sipp, registered to the PBX,
answering and echoing the audio), through the lab's carrier."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from db.campaigns import CampaignRepository
from engine.lab.carrier import AwaitPrompt, Network, Pause, Say, Scenario
from engine.lab.phones import AgentPhone, free_udp_port
from engine.settings import BotSettings
from tests.integration.labkit import (
    add_agents,
    attempts_of,
    basic_auth,
    load_campaign,
    remove_agents,
    running_daemon,
    wait_all_final,
    wait_until,
)

PASSWORD = "agent-phone-secret"
AGENTS = ("1001", "1002", "1003")
SUPERVISOR = "1900"  # logs agents in and out over the supervisor API
SUPERVISOR_PASSWORD = "supervisor-secret"
AS_SUPERVISOR = basic_auth(SUPERVISOR, SUPERVISOR_PASSWORD)


def debtor_lines(count: int) -> list[Scenario]:
    """Most answer and talk (then stay on the line until the call is ended for them);
    some are busy or do not answer."""
    lines = []
    for i in range(count):
        number = f"8613700{i:06d}"
        if i % 5 == 4:
            lines.append(Scenario(number, Network.BUSY, ring_s=0.5))
        elif i % 7 == 6:
            lines.append(Scenario(number, Network.NO_ANSWER, ring_s=1.0))
        else:
            lines.append(Scenario(number, Network.ANSWER, ring_s=0.5 + (i % 3) * 0.3, hold_s=None,
                                  script=(Say("Hello? Yes, speaking. Who is calling please?"),
                                          Pause(0.5),
                                          Say("I see. Go on, I am listening to you now."))))
    return lines


async def test_answered_calls_are_bridged_to_ready_agents_or_abandoned_with_the_message(
        lab, settings, pool):
    """Steps: three agents' phones register and answer (ringing 0.2 s, talking 2.5 s,
    echoing the audio); the agents log in from the desk; a campaign of 40 debtors
    (30 answer, the rest busy or no answer) runs with a fixed dial ratio of 1.5 lines per
    ready agent, so some answered calls find no agent within the 2 s drop time; agent 1003
    logs out when the campaign is a third done.
    Expected: every answered call was either bridged to an agent (RTP flowing on both
    legs) or abandoned with the message played and the attempt flagged; no call was
    offered to 1003 after the logout took effect; answer → agent latency is recorded, and
    counted in the Prometheus metrics; each bridged conversation is recorded (a non-empty
    file); no channel and no non-final attempt is left."""
    settings.bot = BotSettings(**lab.bot_settings())
    settings.agents.institution = "Huilong Test Bank"
    settings.agents.callback_number = "400 000 0000"
    settings.agents.abandon_message = ("This is {institution}. No agent is free right now. "
                                       "Please call us back on {callback_number}. Goodbye.")
    settings.agents.abandon_language = "en"
    settings.agents.wrap_up_s = 0.5
    settings.dial.max_concurrent_calls = 6
    await add_agents(settings, pool, AGENTS, PASSWORD)
    await add_agents(settings, pool, (SUPERVISOR,), SUPERVISOR_PASSWORD, role="supervisor")
    phones = [AgentPhone(agent_id, PASSWORD, free_udp_port()) for agent_id in AGENTS]
    scenarios = debtor_lines(40)
    lab.carrier.apply(scenarios)
    loaded = await load_campaign(pool, settings, scenarios, name="agents", start=False,
                                 options={"agents": True, "pacing": "fixed_ratio"})
    try:
        for phone in phones:
            assert (await asyncio.to_thread(phone.register)).ok
            phone.start_answering(ring_ms=200, talk_ms=2500)
        async with running_daemon(settings) as daemon, aiohttp.ClientSession(
                f"http://127.0.0.1:{daemon.http_port}") as http:

            async def states() -> dict[str, dict]:
                async with http.get("/agents") as reply:
                    return {a["agent_id"]: a for a in await reply.json()}

            async def all_reachable() -> bool:  # the supervisor has no phone here
                agents = await states()
                return all(agents[agent_id]["reachable"] for agent_id in AGENTS)

            async def agent_metrics() -> dict[str, float]:
                async with http.get("/metrics") as reply:
                    text = await reply.text()
                return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                        for line in text.splitlines()
                        if line.startswith(("huilong_answer_to_agent_seconds_count",
                                            "huilong_agent_calls_total"))}

            await wait_until(all_reachable, timeout=30, what="three phones reachable")
            for agent_id in AGENTS:
                async with http.post(f"/agents/{agent_id}/login",
                                     headers=AS_SUPERVISOR) as reply:
                    assert reply.status == 200, await reply.text()
            metrics_before = await agent_metrics()
            await CampaignRepository(pool).set_status(loaded.campaign_id, "running")

            async def a_third_done() -> bool:
                done = await pool.fetchval(
                    "SELECT count(*) FROM attempts WHERE campaign_id = $1 AND state = 'final'",
                    loaded.campaign_id)
                return done >= 13

            await wait_until(a_third_done, timeout=120, what="a third of the campaign")
            async with http.post("/agents/1003/logout", headers=AS_SUPERVISOR) as reply:
                assert reply.status == 200
            await wait_all_final(pool, loaded.campaign_id, len(scenarios), timeout=300)
            latencies = list(daemon._dialer.agent_flows.latencies)  # type: ignore[union-attr]
            metrics_after = await agent_metrics()
    finally:
        for phone in phones:
            phone.stop()
            await asyncio.to_thread(phone.register, 0)
        await remove_agents(settings, pool)

    rows = await pool.fetch(
        "SELECT a.id, a.answered_at IS NOT NULL AS answered, a.abandoned,"
        " coalesce(json_agg(json_build_object('kind', e.kind, 'detail', e.detail, 'at', e.at)"
        "   ORDER BY e.at) FILTER (WHERE e.kind IN ('agent_connected', 'abandoned',"
        "   'media_check')), '[]') AS events"
        " FROM attempts a LEFT JOIN call_events e ON e.attempt_id = a.id"
        " WHERE a.campaign_id = $1 GROUP BY a.id", loaded.campaign_id)
    answered = [r for r in rows if r["answered"]]
    assert len(answered) >= 25
    bridged = abandoned = 0
    for row in answered:
        events = {e["kind"]: e for e in json.loads(row["events"])}
        if "agent_connected" in events:
            bridged += 1
            assert not row["abandoned"]
            media = events["media_check"]["detail"]
            assert media["agent_rx"] > 0 and media["agent_tx"] > 0, media
            # The conversation with the agent is recorded (both parties mixed).
            path = await pool.fetchval("SELECT recording FROM attempts WHERE id = $1", row["id"])
            recording = lab.pbx.host.host_path(path)
            assert recording.is_file() and recording.stat().st_size > 8000, path
            assert media["debtor_rx"] > 0 and media["debtor_tx"] > 0, media
        else:
            abandoned += 1
            assert row["abandoned"] and events["abandoned"]["detail"]["message_played"], row
    assert bridged >= 10 and abandoned >= 1, (bridged, abandoned)
    assert len(latencies) == bridged and all(0 < s < 15 for s in latencies)

    def counted(name: str) -> float:  # in this campaign (the registry is the process's)
        return metrics_after.get(name, 0.0) - metrics_before.get(name, 0.0)

    assert counted("huilong_answer_to_agent_seconds_count") == bridged
    assert counted('huilong_agent_calls_total{result="bridged"}') == bridged
    assert counted('huilong_agent_calls_total{result="abandoned"}') == abandoned

    log = await pool.fetch("SELECT status, at FROM agent_state_log WHERE agent_id = '1003'"
                           " ORDER BY id")
    statuses = [r["status"] for r in log]
    assert "offline" in statuses
    gone = next(r["at"] for r in log if r["status"] == "offline")
    assert not [r for r in log if r["at"] > gone and r["status"] in ("reserved", "on_call")]


async def test_the_bot_hands_a_hardship_call_to_a_ready_agent(lab, settings, pool):
    """Steps: agent 1001's phone registers and answers; the agent logs in; a bot campaign
    (Korean script) calls one debtor who confirms identity ("네") and then says "없어요"
    (hardship), stays on the line and speaks when the bot has said it connects them.
    Expected: the bot's outcome is hardship with its transcript stored; instead of ending,
    the call is bridged to agent 1001 (the agent's phone rang and answered, audio both
    ways); the agent went on the call and into wrap-up; the agent's desk shows the call
    with the bot's outcome and what it heard."""
    settings.bot = BotSettings(**lab.bot_settings())
    settings.agents.institution = "한빛은행"
    settings.agents.callback_number = "1588-0000"
    settings.agents.abandon_language = "ko"
    settings.agents.abandon_message = "{institution}입니다. {callback_number}로 전화 주세요."
    settings.agents.wrap_up_s = 0.5
    await add_agents(settings, pool, ("1001",), PASSWORD)
    await add_agents(settings, pool, (SUPERVISOR,), SUPERVISOR_PASSWORD, role="supervisor")
    phone = AgentPhone("1001", PASSWORD, free_udp_port())
    scenario = Scenario("8613700999001", Network.ANSWER, ring_s=0.5, hold_s=None,
                        script=(AwaitPrompt(), Say("네", voice="ko"),
                                AwaitPrompt(), Say("없어요", voice="ko"),
                                # The bot's "connecting you, please hold" and the agent's
                                # pick-up; then they speak (a timed pause: in a bridge
                                # where nobody speaks Asterisk sends no frames at all, so
                                # waiting for silence would wait for ever).
                                Pause(5.0),
                                Say("네, 알겠습니다. 기다리겠습니다. 여보세요, 여보세요.",
                                    voice="ko")))
    lab.carrier.apply([scenario])
    loaded = await load_campaign(pool, settings, [scenario], name="handoff", start=False,
                                 options={"script": "ko"})
    try:
        assert (await asyncio.to_thread(phone.register)).ok
        phone.start_answering(ring_ms=200, talk_ms=6000)
        async with running_daemon(settings) as daemon, aiohttp.ClientSession(
                f"http://127.0.0.1:{daemon.http_port}",
                cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # cookies for 127.0.0.1

            async def logged_in() -> bool:
                async with http.post("/agents/1001/login", headers=AS_SUPERVISOR) as reply:
                    return (await reply.json()).get("status") == "ready"

            await wait_until(logged_in, timeout=30, what="agent 1001 ready")
            await CampaignRepository(pool).set_status(loaded.campaign_id, "running")
            await wait_all_final(pool, loaded.campaign_id, 1, timeout=120)
            # The agent's desk shows the call with what the bot heard.
            attempt_id = await pool.fetchval("SELECT id FROM attempts WHERE campaign_id = $1",
                                             loaded.campaign_id)
            async with http.post("/desk/login", data={"agent": "1001", "password": PASSWORD},
                                 allow_redirects=False) as reply:
                assert reply.status == 302 and reply.headers["Location"] == "/desk"
            async with http.get(f"/desk/calls/{attempt_id}") as reply:
                assert reply.status == 200, await reply.text()
                pop = await reply.json()
    finally:
        phone.stop()
        await asyncio.to_thread(phone.register, 0)
        await remove_agents(settings, pool)

    assert pop["bot_outcome"] == "hardship"
    assert [t["heard"] for t in pop["transcript"] if t["heard"]] == ["네", "없어요"]
    attempt_id = await pool.fetchval("SELECT id FROM attempts WHERE campaign_id = $1",
                                     loaded.campaign_id)
    assert await pool.fetchval("SELECT kind FROM call_outcomes WHERE attempt_id = $1",
                               attempt_id) == "hardship"
    assert await pool.fetchval("SELECT count(*) FROM bot_turns WHERE attempt_id = $1",
                               attempt_id) >= 4
    events = {r["kind"]: json.loads(r["detail"]) for r in await pool.fetch(
        "SELECT kind, detail FROM call_events WHERE attempt_id = $1", attempt_id)}
    assert events["agent_connected"]["agent"] == "1001", events
    assert events["media_check"]["agent_rx"] > 0 and events["media_check"]["debtor_rx"] > 0, (
        events["media_check"], events["agent_connected"])
    statuses = [r["status"] for r in await pool.fetch(
        "SELECT status FROM agent_state_log WHERE agent_id = '1001' ORDER BY id")]
    assert statuses[:4] == ["ready", "reserved", "on_call", "wrap_up"], statuses


async def test_with_the_machine_check_machines_never_reach_an_agent(lab, settings, pool):
    """Steps: two agents' phones register and answer; an agent campaign with the
    answering-machine check (`--amd`) calls two answering machines (a long greeting) and
    two people (a short "Hello?", then they wait for the caller).
    Expected: each machine was flagged and hung up without an agent being reserved; each
    person was bridged to an agent after the check; no call was abandoned."""
    settings.bot = BotSettings(**lab.bot_settings())
    settings.agents.institution = "Huilong Test Bank"
    settings.agents.callback_number = "400 000 0000"
    settings.agents.abandon_language = "en"
    settings.agents.wrap_up_s = 0.5
    agents = ("1001", "1002")
    await add_agents(settings, pool, agents, PASSWORD)
    phones = [AgentPhone(agent_id, PASSWORD, free_udp_port()) for agent_id in agents]
    people = [Scenario(f"861370088800{i}", Network.ANSWER, ring_s=0.5, hold_s=8.0,
                       script=(Say("Hello?"),)) for i in range(2)]
    machines = [Scenario(f"861370088810{i}", Network.MACHINE, ring_s=0.5, hold_s=2.0)
                for i in range(2)]
    lab.carrier.apply(people + machines)
    loaded = await load_campaign(pool, settings, people + machines, name="amd", start=False,
                                 options={"agents": True, "amd": True})
    try:
        for phone in phones:
            assert (await asyncio.to_thread(phone.register)).ok
            phone.start_answering(ring_ms=200, talk_ms=30_000)
        async with running_daemon(settings) as daemon:
            service = daemon.agents
            assert service is not None

            async def reachable() -> bool:
                return all(service.registry.get(a).reachable for a in agents)

            await wait_until(reachable, timeout=30, what="two phones reachable")
            for agent_id in agents:
                service.request(agent_id, "login")
            await CampaignRepository(pool).set_status(loaded.campaign_id, "running")
            await wait_all_final(pool, loaded.campaign_id, 4, timeout=120)
    finally:
        for phone in phones:
            phone.stop()
            await asyncio.to_thread(phone.register, 0)
        await remove_agents(settings, pool)

    attempts = await attempts_of(pool, loaded.campaign_id)
    by_number = {}
    for number, attempt in attempts.items():
        by_number[number] = await pool.fetchrow(
            "SELECT a.machine, a.abandoned, array_agg(e.kind ORDER BY e.id) AS kinds"
            " FROM attempts a JOIN call_events e ON e.attempt_id = a.id WHERE a.id = $1"
            " GROUP BY a.id", attempt.id)
    for scenario in machines:
        row = by_number[scenario.number]
        assert row["machine"] and "amd_machine" in row["kinds"], row
        assert "agent_connected" not in row["kinds"] and not row["abandoned"], row
    for scenario in people:
        row = by_number[scenario.number]
        assert not row["machine"] and not row["abandoned"], row
        kinds = list(row["kinds"])
        assert kinds.index("amd_person") < kinds.index("agent_connected"), kinds
    reserved = await pool.fetchval(
        "SELECT count(*) FROM agent_state_log WHERE status = 'reserved'")
    assert reserved == len(people)
