"""What the desk records, against a real PostgreSQL (no Asterisk): dispositions with
their consequences (callbacks, right party, the opt-out list), who may open which call,
the supervisor's unmasked and audited view, and all-or-nothing writes. The call is made
the way the dialer leaves it: an attempt row and its `agent_connected` event."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from db.agents import AgentRepository
from db.bot import BotRepository, OutcomeRecord
from db.crypto import PiiCipher, load_or_create_keyfile
from db.debtors import DebtInput, DebtorRepository
from db.desk import (
    NOTE_PURPOSE,
    DeskRepository,
    DeskUser,
    DispositionError,
    Instalment,
    NotYourCall,
)
from db.opt_out import OPT_OUT_LIST
from engine.agents.phones import digest_credential

SHANGHAI = ZoneInfo("Asia/Shanghai")
NAME = "测试 用户"
AGENT = DeskUser("1001", "agent")
OTHER_AGENT = DeskUser("1002", "agent")
SUPERVISOR = DeskUser("1900", "supervisor")


@dataclass(frozen=True, slots=True)
class Desk:
    repo: DeskRepository
    cipher: PiiCipher
    debtor_id: int
    phone_id: int
    call: uuid.UUID  # bridged to agent 1001


async def new_attempt(pool, debtor_id: int, phone_id: int, agent: str | None) -> uuid.UUID:
    """An answered attempt; with `agent`, the event the bridge writes when it connects."""
    attempt_id = uuid.uuid4()
    now = datetime.now(UTC)
    await pool.execute(
        "INSERT INTO attempts (id, debtor_id, phone_id, state, answered_at)"
        " VALUES ($1, $2, $3, 'answered', $4)", attempt_id, debtor_id, phone_id, now)
    await pool.execute(
        "INSERT INTO call_events (attempt_id, at, kind, detail) VALUES ($1, $2, 'intent', '{}')",
        attempt_id, now)
    if agent is not None:
        await pool.execute(
            "INSERT INTO call_events (attempt_id, at, kind, detail)"
            " VALUES ($1, $2, 'agent_connected', $3::jsonb)",
            attempt_id, now, json.dumps({"agent": agent, "latency_ms": 900}))
    return attempt_id


@pytest.fixture
async def desk(db_pool, tmp_path) -> Desk:
    cipher = load_or_create_keyfile(tmp_path / "keys.json")
    debtors = DebtorRepository(db_pool, cipher)
    debtor_id = await debtors.upsert_debtor(
        external_id="D-1", name=NAME, phones=["+8613700000001"], timezone="Asia/Shanghai",
        debts=[DebtInput("L1", Decimal("100.00"), Decimal("100.00"), overdue_days=30)])
    phone_id = (await debtors.phones_of(debtor_id))[0].id
    accounts = AgentRepository(db_pool)
    for user in (AGENT, OTHER_AGENT, SUPERVISOR):
        await accounts.add(user.agent_id, f"Agent {user.agent_id}", "huilong",
                           digest_credential(user.agent_id, "huilong", "pw"), user.role)
    call = await new_attempt(db_pool, debtor_id, phone_id, "1001")
    return Desk(DeskRepository(db_pool, cipher), cipher, debtor_id, phone_id, call)


def local(at: datetime) -> str:
    """As the form's datetime-local sends it, in the debtor's zone."""
    return f"{at.astimezone(SHANGHAI):%Y-%m-%dT%H:%M}"


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(SHANGHAI).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


async def snapshot(pool, attempt_id: uuid.UUID) -> dict[str, object]:
    """Everything a disposition writes, to compare before and after a refused one."""
    return {
        "disposition": await pool.fetchrow(
            "SELECT kind, callback_id, note_enc, agent_id, recorded_at, revision"
            " FROM call_dispositions WHERE attempt_id = $1", attempt_id),
        "callbacks": await pool.fetch(
            "SELECT id, due_at, status FROM callbacks WHERE attempt_id = $1 ORDER BY id",
            attempt_id),
        "right_party": await pool.fetchval(
            "SELECT right_party FROM attempts WHERE id = $1", attempt_id),
        "dnc": await pool.fetchval("SELECT count(*) FROM dnc_entries"),
    }


async def test_agents_open_their_own_calls_and_a_supervisor_any_bridged_call_unmasked(
        db_pool, desk):
    """Steps: agent 1001 opens the call bridged to them; agent 1002 opens it and tries to
    record a disposition; supervisor 1900 opens it; anyone opens a call never bridged to
    an agent, and one that does not exist.
    Expected: 1001 sees the debtor masked, the debtor's zone, no disposition yet, and no
    reveal is audited; 1002 is refused both times and nothing is written; 1900 sees the
    name unmasked and a pii_audit row says who revealed it, for which screen pop; the
    unbridged and unknown calls are refused to everyone, the supervisor too."""
    pop = await desk.repo.pop(desk.call, AGENT)
    assert (pop.name, pop.timezone, pop.disposition) == ("测* 用*", "Asia/Shanghai", None)
    assert pop.amount_due == Decimal("100.00") and pop.debtor_id == desk.debtor_id
    assert await db_pool.fetchval("SELECT count(*) FROM pii_audit") == 0

    with pytest.raises(NotYourCall):
        await desk.repo.pop(desk.call, OTHER_AGENT)
    with pytest.raises(NotYourCall):
        await desk.repo.save_disposition(desk.call, OTHER_AGENT, "refusal", None, None,
                                         datetime.now(UTC))
    with pytest.raises(NotYourCall):
        await desk.repo.save_plan(desk.call, OTHER_AGENT,
                                  [Instalment(date.today() + timedelta(days=3), Decimal(10))],
                                  datetime.now(UTC))
    assert await db_pool.fetchval("SELECT count(*) FROM call_dispositions") == 0
    assert await db_pool.fetchval("SELECT count(*) FROM promises") == 0

    pop = await desk.repo.pop(desk.call, SUPERVISOR)
    assert pop.name == NAME
    audit = await db_pool.fetch("SELECT actor, action, subject, field, reason FROM pii_audit")
    assert [dict(r) for r in audit] == [{
        "actor": "agent:1900", "action": "reveal", "subject": f"debtor:{desk.debtor_id}",
        "field": "name", "reason": f"screen pop of call {desk.call} (supervisor)"}]

    unbridged = await new_attempt(db_pool, desk.debtor_id, desk.phone_id, None)
    for user in (AGENT, SUPERVISOR):
        for attempt_id in (unbridged, uuid.uuid4()):
            with pytest.raises(NotYourCall):
                await desk.repo.pop(attempt_id, user)
            with pytest.raises(NotYourCall):
                await desk.repo.save_disposition(attempt_id, user, "refusal", None, None,
                                                 datetime.now(UTC))


async def test_a_callback_is_due_at_the_debtors_wall_time_and_a_correction_replaces_it(
        db_pool, desk):
    """Steps: agent 1001 records a callback for tomorrow 10:30 (Shanghai) with a note;
    corrects it to 18:00; then supervisor 1900 corrects the disposition to refusal,
    without a note; the agent opens the pop in between.
    Expected: the first callback is open, due at 02:30 UTC, scheduled by 1001 (source
    agent); the note is stored encrypted (purpose desk.note) and shown in the pop, its
    read audited; after the correction the first callback is cancelled and the second
    open; after the refusal both are cancelled, the disposition names 1900, has no
    callback and no note, revision 3; the right party was reached throughout."""
    now = datetime.now(UTC)
    first = tomorrow_at(10, 30)
    saved = await desk.repo.save_disposition(desk.call, AGENT, "callback", local(first),
                                             "after work, 王 prefers mornings", now)
    assert saved.callback_at == first.astimezone(UTC)
    rows = await db_pool.fetch("SELECT * FROM callbacks WHERE attempt_id = $1", desk.call)
    assert len(rows) == 1
    callback = rows[0]
    assert callback["due_at"] == first and callback["due_at"].astimezone(SHANGHAI).hour == 10
    assert (callback["agent_id"], callback["source"], callback["status"]) == (
        "1001", "agent", "open")
    assert callback["debtor_id"] == desk.debtor_id
    row = await db_pool.fetchrow("SELECT * FROM call_dispositions WHERE attempt_id = $1",
                                 desk.call)
    assert (row["kind"], row["callback_id"], row["agent_id"], row["revision"]) == (
        "callback", callback["id"], "1001", 1)
    assert "王".encode() not in bytes(row["note_enc"])
    assert desk.cipher.decrypt(row["note_enc"], row["note_key_id"], purpose=NOTE_PURPOSE) == \
        "after work, 王 prefers mornings"
    assert await db_pool.fetchval("SELECT right_party FROM attempts WHERE id = $1", desk.call)

    pop = await desk.repo.pop(desk.call, AGENT)
    assert pop.disposition is not None
    assert (pop.disposition.kind, pop.disposition.note, pop.disposition.agent_id) == (
        "callback", "after work, 王 prefers mornings", "1001")
    assert pop.disposition.callback_at == first
    assert await db_pool.fetchval(
        "SELECT count(*) FROM pii_audit WHERE actor = 'agent:1001' AND field = $1",
        NOTE_PURPOSE) == 1

    second = tomorrow_at(18)
    await desk.repo.save_disposition(desk.call, AGENT, "callback", local(second), None, now)
    rows = await db_pool.fetch(
        "SELECT due_at, status FROM callbacks WHERE attempt_id = $1 ORDER BY id", desk.call)
    assert [(r["due_at"], r["status"]) for r in rows] == [(first, "cancelled"),
                                                          (second, "open")]

    later = now + timedelta(minutes=2)
    await desk.repo.save_disposition(desk.call, SUPERVISOR, "refusal", None, "", later)
    assert {r["status"] for r in await db_pool.fetch("SELECT status FROM callbacks")} == {
        "cancelled"}
    row = await db_pool.fetchrow("SELECT * FROM call_dispositions WHERE attempt_id = $1",
                                 desk.call)
    assert (row["kind"], row["callback_id"], row["note_enc"], row["note_key_id"]) == (
        "refusal", None, None, None)
    assert (row["agent_id"], row["recorded_at"], row["revision"]) == ("1900", later, 3)
    assert await db_pool.fetchval("SELECT right_party FROM attempts WHERE id = $1", desk.call)


async def test_wrong_party_and_opt_out(db_pool, desk):
    """Steps: agent 1001 records wrong_party; then corrects it to opt_out, twice.
    Expected: wrong_party sets the attempt's right_party to false; opt_out puts the
    debtor (not a number) on the opt-out list once, the reason naming the agent and the
    call, and leaves right_party as it was."""
    now = datetime.now(UTC)
    await desk.repo.save_disposition(desk.call, AGENT, "wrong_party", None, None, now)
    assert await db_pool.fetchval(
        "SELECT right_party FROM attempts WHERE id = $1", desk.call) is False
    for _ in range(2):
        await desk.repo.save_disposition(desk.call, AGENT, "opt_out", None, None, now)
    entries = await db_pool.fetch(
        "SELECT l.name, l.campaign_id, e.debtor_id, e.phone_bidx, e.reason, e.expires_at"
        " FROM dnc_entries e JOIN dnc_lists l ON l.id = e.list_id")
    assert [dict(e) for e in entries] == [{
        "name": OPT_OUT_LIST, "campaign_id": None, "debtor_id": desk.debtor_id,
        "phone_bidx": None, "reason": f"asked agent 1001 on call {desk.call}",
        "expires_at": None}]
    assert await db_pool.fetchval(
        "SELECT right_party FROM attempts WHERE id = $1", desk.call) is False
    assert await db_pool.fetchval(
        "SELECT kind FROM call_dispositions WHERE attempt_id = $1", desk.call) == "opt_out"


async def test_a_refused_or_failing_disposition_writes_nothing(db_pool, desk, monkeypatch):
    """Steps: agent 1001 records a callback; then tries a callback in the past, a
    "promise" with no promise saved, an unknown kind; then an opt-out whose do-not-call
    write fails half-way through (after the callback was cancelled and the disposition
    rewritten in the same transaction).
    Expected: each is refused with an error naming the field (the failure raises), and
    the disposition, the callbacks, right_party and the do-not-call list are exactly as
    the first callback left them."""
    now = datetime.now(UTC)
    await desk.repo.save_disposition(desk.call, AGENT, "callback", local(tomorrow_at(11)),
                                     "note", now)
    before = await snapshot(db_pool, desk.call)

    refused = [("callback", local(now - timedelta(hours=1)), "callback_at: must be at least"),
               ("promise", None, "kind: a promise is recorded by saving the plan"),
               ("settled", None, "kind: one of")]
    for kind, callback_at, message in refused:
        with pytest.raises(DispositionError, match="^" + message):
            await desk.repo.save_disposition(desk.call, AGENT, kind, callback_at, None, now)
        assert await snapshot(db_pool, desk.call) == before

    async def failing(conn, debtor_id, reason):
        raise RuntimeError("the do-not-call write failed")

    monkeypatch.setattr("db.desk.add_opt_out", failing)
    with pytest.raises(RuntimeError, match="do-not-call write failed"):
        await desk.repo.save_disposition(desk.call, AGENT, "opt_out", None, None, now)
    assert await snapshot(db_pool, desk.call) == before


async def test_saving_a_plan_records_the_promise_disposition_and_keeps_the_note(db_pool, desk):
    """Steps: agent 1001 records hardship with a note and a callback-free disposition;
    then saves a two-instalment plan; then records "promise" from the form.
    Expected: the plan's promises are saved with the agent's id; the disposition becomes
    promise (revision 2) with the hardship note kept; the later "promise" from the form
    is accepted now that promises exist and replaces the note."""
    now = datetime.now(UTC)
    await desk.repo.save_disposition(desk.call, AGENT, "hardship", None, "lost job", now)
    today = now.astimezone(SHANGHAI).date()
    plan = [Instalment(today + timedelta(days=7), Decimal("40.00")),
            Instalment(today + timedelta(days=37), Decimal("60.00"))]
    assert await desk.repo.save_plan(desk.call, AGENT, plan, now) == 2
    assert await db_pool.fetchval(
        "SELECT count(*) FROM promises WHERE attempt_id = $1 AND agent_id = '1001'",
        desk.call) == 2
    pop = await desk.repo.pop(desk.call, AGENT)
    assert pop.disposition is not None
    assert (pop.disposition.kind, pop.disposition.note) == ("promise", "lost job")
    assert await db_pool.fetchval(
        "SELECT revision FROM call_dispositions WHERE attempt_id = $1", desk.call) == 2

    await desk.repo.save_disposition(desk.call, AGENT, "promise", None, "pays on the 1st", now)
    pop = await desk.repo.pop(desk.call, AGENT)
    assert pop.disposition is not None
    assert (pop.disposition.kind, pop.disposition.note) == ("promise", "pays on the 1st")


async def test_the_bots_callback_and_opt_out_outcomes(db_pool, desk):
    """Steps: the bot records a callback outcome (tomorrow 09:00 in the debtor's zone)
    for one call, twice (a replay), and an opt-out outcome for another call.
    Expected: one open callback from the bot (no agent) for the first call, due at that
    time; the opt-out puts the debtor on the same opt-out list, reason naming the call."""
    bot = BotRepository(db_pool, desk.cipher)
    facts = await bot.facts(desk.debtor_id)
    due = tomorrow_at(9)
    outcome = OutcomeRecord(kind="callback", identity="confirmed", promise_amount=None,
                            promise_date=None, callback_at=due, follow_up_at=None)
    for _ in range(2):
        await bot.record_outcome(desk.call, facts, "en", outcome)
    rows = await db_pool.fetch("SELECT * FROM callbacks")
    assert [(r["attempt_id"], r["due_at"], r["agent_id"], r["source"], r["status"])
            for r in rows] == [(desk.call, due, None, "bot", "open")]

    other = await new_attempt(db_pool, desk.debtor_id, desk.phone_id, None)
    await bot.record_outcome(other, facts, "en", OutcomeRecord(
        kind="opt_out", identity="confirmed", promise_amount=None, promise_date=None,
        callback_at=None, follow_up_at=None))
    entries = await db_pool.fetch(
        "SELECT l.name, e.debtor_id, e.reason FROM dnc_entries e"
        " JOIN dnc_lists l ON l.id = e.list_id")
    assert [tuple(e) for e in entries] == [
        (OPT_OUT_LIST, desk.debtor_id, f"asked the bot on call {other}")]
