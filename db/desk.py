"""What the agent desk reads and writes: the screen pop of a bridged call, the agent's
promises (one, or an instalment plan) and the call's disposition (with a callback, an
opt-out, a note).

An agent sees only calls bridged to them: every read and write checks the attempt's
`agent_connected` event names the agent. A supervisor may open any call bridged to an
agent. The pop shows the debtor masked to agents and unmasked to supervisors; every
unmasked read, and every read of the bot's transcript or the agent's note (they may
repeat personal data), is audited in pii_audit.

Dispositions, one per call (a correction overwrites it, keeping who wrote it last and
when):
- promise: the plan form saved promises for this call (saving a plan records it);
- callback: the debtor asked to be called at a time (their local time; a `callbacks`
  row for the scheduler, which dials through the compliance gate);
- hardship, dispute, refusal: spoke to the debtor, who cannot pay now / contests the
  debt / will not pay;
- wrong_party: the person on the line is not the debtor;
- opt_out: the debtor asked not to be called again (the opt-out do-not-call list);
- no_contact: nobody spoke (silence, or the line dropped before the agent reached
  anyone);
- other: anything else, said in the note (required then).
promise, callback, hardship, dispute and refusal mean the right party was reached;
wrong_party that it was not; the others say nothing about who answered. A correction
cancels the open callback the earlier disposition scheduled; it does not take the
debtor off the opt-out list (that needs a deliberate act, not a changed select box).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg

from db.bot import BotRepository, TurnRow
from db.crypto import PiiCipher, mask_name
from db.errors import DbError
from db.opt_out import add_opt_out
from db.pool import connection, transaction

FOLLOW_UP_HOUR = 20  # the evening of the promised day, in the debtor's zone
MAX_PLAN_DAYS = 366
MAX_INSTALMENTS = 24

DISPOSITION_KINDS = ("promise", "callback", "hardship", "dispute", "refusal", "wrong_party",
                     "opt_out", "no_contact", "other")
RIGHT_PARTY = {"promise": True, "callback": True, "hardship": True, "dispute": True,
               "refusal": True, "wrong_party": False}
CALLBACK_MIN_AHEAD = timedelta(minutes=5)  # time for the scheduler and the gate to see it
CALLBACK_MAX_AHEAD = timedelta(days=14)
MAX_NOTE_CHARS = 2000
NOTE_PURPOSE = "desk.note"
_LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?")  # datetime-local


class NotYourCall(DbError):
    """The call was not bridged to this agent (or does not exist)."""


class PlanError(ValueError):
    """A promise or plan that cannot be accepted; the message names the field."""


class DispositionError(ValueError):
    """A disposition that cannot be accepted; the message names the field."""


@dataclass(frozen=True, slots=True)
class DeskUser:
    """Who is logged in at the desk, as the session remembers it."""

    agent_id: str
    role: str  # 'agent' | 'supervisor'

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"

    @property
    def actor(self) -> str:  # as pii_audit names people
        return f"agent:{self.agent_id}"


@dataclass(frozen=True, slots=True)
class Disposition:
    """A checked disposition: `callback_at` in UTC, the note stripped (None if empty)."""

    kind: str
    callback_at: datetime | None
    note: str | None


@dataclass(frozen=True, slots=True)
class SavedDisposition:
    kind: str
    callback_at: datetime | None  # in the debtor's zone
    note: str | None
    agent_id: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class Pop:
    attempt_id: uuid.UUID
    debtor_id: int
    name: str  # masked, unless a supervisor reads it
    timezone: str  # the debtor's: callback times are entered in it
    amount_due: Decimal
    currency: str
    overdue_days: int
    due_date: date | None
    transcript: list[TurnRow]
    bot_outcome: str | None
    promises: list[tuple[date, Decimal, str]]  # (due, amount, status), this debtor's
    disposition: SavedDisposition | None


@dataclass(frozen=True, slots=True)
class Instalment:
    due_date: date
    amount: Decimal


def check_plan(instalments: list[Instalment], today: date, amount_due: Decimal) -> None:
    """Dates in the future (from tomorrow to a year ahead), strictly increasing; amounts
    positive with at most 2 decimals; the total not above what is owed."""
    if not instalments:
        raise PlanError("a plan needs at least one instalment")
    if len(instalments) > MAX_INSTALMENTS:
        raise PlanError(f"at most {MAX_INSTALMENTS} instalments")
    previous: date | None = None
    for n, item in enumerate(instalments, 1):
        if item.amount <= 0 or item.amount.as_tuple().exponent < -2:  # type: ignore[operator]
            raise PlanError(f"instalment {n}: amount must be positive, at most 2 decimals")
        if not today < item.due_date <= today + timedelta(days=MAX_PLAN_DAYS):
            raise PlanError(f"instalment {n}: date must lie between tomorrow and a year ahead")
        if previous is not None and item.due_date <= previous:
            raise PlanError(f"instalment {n}: dates must increase")
        previous = item.due_date
    total = sum((i.amount for i in instalments), Decimal(0))
    if amount_due > 0 and total > amount_due:
        raise PlanError(f"the plan's total {total} is more than the {amount_due} owed")


def check_disposition(kind: object, callback_at: object, note: object, zone: ZoneInfo,
                      now: datetime) -> Disposition:
    """Validate what the form sent. `callback_at` is the debtor's local date and time as an
    HTML datetime-local gives it (YYYY-MM-DDTHH:MM), in `zone`; only a callback has one,
    from 5 minutes to 14 days after `now`. The note is optional (but says what "other"
    was), at most MAX_NOTE_CHARS."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if not isinstance(kind, str) or kind not in DISPOSITION_KINDS:
        raise DispositionError(f"kind: one of {', '.join(DISPOSITION_KINDS)}")
    if note is not None and not isinstance(note, str):
        raise DispositionError("note: text expected")
    text = (note or "").strip() or None
    if text is not None and len(text) > MAX_NOTE_CHARS:
        raise DispositionError(f"note: at most {MAX_NOTE_CHARS} characters")
    if kind == "other" and text is None:
        raise DispositionError("note: say in the note what happened on the call")
    given = callback_at is not None and str(callback_at).strip() != ""
    if kind != "callback":
        if given:
            raise DispositionError("callback_at: only a callback has a callback time")
        return Disposition(kind, None, text)
    if not given:
        raise DispositionError("callback_at: a callback needs the date and time to call")
    return Disposition(kind, _callback_time(callback_at, zone, now), text)


def _callback_time(value: object, zone: ZoneInfo, now: datetime) -> datetime:
    # A wall time, no offset: the debtor's zone gives it meaning.
    text = str(value).strip()
    try:
        if not _LOCAL_TIME.fullmatch(text):
            raise ValueError(text)
        local = datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise DispositionError(f"callback_at: the debtor's local date and time "
                               f"({zone.key}), YYYY-MM-DDTHH:MM") from None
    due = local.replace(tzinfo=zone).astimezone(UTC)
    # In the hour the clocks skip, the wall time does not exist: it would silently move.
    if due.astimezone(zone).replace(tzinfo=None) != local:
        raise DispositionError(f"callback_at: {local:%Y-%m-%d %H:%M} does not exist in "
                               f"{zone.key} (the clocks go forward then)")
    if due < now + CALLBACK_MIN_AHEAD:
        minutes = int(CALLBACK_MIN_AHEAD.total_seconds() // 60)
        raise DispositionError(
            f"callback_at: must be at least {minutes} minutes ahead (it is "
            f"{now.astimezone(zone):%Y-%m-%d %H:%M} in {zone.key} now)")
    if due > now + CALLBACK_MAX_AHEAD:
        raise DispositionError(f"callback_at: at most {CALLBACK_MAX_AHEAD.days} days ahead")
    return due


class DeskRepository:
    def __init__(self, pool: asyncpg.Pool, cipher: PiiCipher) -> None:
        self._pool = pool
        self._cipher = cipher
        self._bot = BotRepository(pool, cipher)

    async def agent_of(self, attempt_id: uuid.UUID) -> str | None:
        async with connection(self._pool) as conn:
            value = await conn.fetchval(
                "SELECT detail->>'agent' FROM call_events WHERE attempt_id = $1"
                " AND kind = 'agent_connected' ORDER BY at DESC LIMIT 1", attempt_id)
        return None if value is None else str(value)

    async def pop(self, attempt_id: uuid.UUID, user: DeskUser) -> Pop:
        async with connection(self._pool) as conn:
            debtor_id, _ = await _open_call(conn, attempt_id, user)
        facts = await self._bot.facts(debtor_id)
        transcript = await self._bot.turns(attempt_id)
        async with transaction(self._pool) as conn:
            if transcript:
                await _audit(conn, user, "read", f"attempt:{attempt_id}", "bot.transcript",
                             "screen pop of a bridged call")
            if user.supervisor and facts.name:
                await _audit(conn, user, "reveal", f"debtor:{debtor_id}", "name",
                             f"screen pop of call {attempt_id} (supervisor)")
            outcome = await conn.fetchval(
                "SELECT kind FROM call_outcomes WHERE attempt_id = $1", attempt_id)
            rows = await conn.fetch(
                "SELECT due_date, amount, status FROM promises WHERE debtor_id = $1"
                " ORDER BY due_date", debtor_id)
            saved = await self._saved_disposition(conn, attempt_id, user,
                                                  ZoneInfo(facts.timezone))
        name = facts.name if user.supervisor else mask_name(facts.name)
        return Pop(attempt_id, debtor_id, name, facts.timezone, facts.amount_due,
                   facts.currency, facts.overdue_days, facts.due_date, transcript,
                   outcome, [(r["due_date"], r["amount"], r["status"]) for r in rows], saved)

    async def _saved_disposition(self, conn: asyncpg.Connection, attempt_id: uuid.UUID,
                                 user: DeskUser, zone: ZoneInfo) -> SavedDisposition | None:
        row = await conn.fetchrow(
            "SELECT d.kind, d.note_enc, d.note_key_id, d.agent_id, d.recorded_at, c.due_at"
            " FROM call_dispositions d LEFT JOIN callbacks c ON c.id = d.callback_id"
            " WHERE d.attempt_id = $1", attempt_id)
        if row is None:
            return None
        note = None
        if row["note_enc"] is not None:
            await _audit(conn, user, "read", f"attempt:{attempt_id}", NOTE_PURPOSE,
                         "screen pop of a bridged call")
            note = self._cipher.decrypt(row["note_enc"], row["note_key_id"],
                                        purpose=NOTE_PURPOSE)
        due = row["due_at"].astimezone(zone) if row["due_at"] is not None else None
        return SavedDisposition(row["kind"], due, note, row["agent_id"], row["recorded_at"])

    async def save_plan(self, attempt_id: uuid.UUID, user: DeskUser,
                        instalments: list[Instalment], now: datetime) -> int:
        """The agent's promise(s) for this call, each followed up on the evening of its
        date in the debtor's zone, and the call's disposition "promise" (its note kept).
        PlanError when the plan does not hold."""
        async with connection(self._pool) as conn:
            debtor_id, _ = await _open_call(conn, attempt_id, user)
        facts = await self._bot.facts(debtor_id)
        zone = ZoneInfo(facts.timezone)
        check_plan(instalments, now.astimezone(zone).date(), facts.amount_due)
        async with transaction(self._pool) as conn:
            await _open_call(conn, attempt_id, user, lock=True)
            for item in instalments:
                follow_up = datetime.combine(item.due_date, time(FOLLOW_UP_HOUR), zone)
                await conn.execute(
                    "INSERT INTO promises (debtor_id, attempt_id, amount, currency, due_date,"
                    " follow_up_at, agent_id) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    " ON CONFLICT (attempt_id, due_date) DO UPDATE SET amount = $3,"
                    " follow_up_at = $6, agent_id = $7",
                    debtor_id, attempt_id, item.amount, facts.currency, item.due_date,
                    follow_up, user.agent_id)
            await self._record(conn, attempt_id, debtor_id, user,
                               Disposition("promise", None, None), now, keep_note=True)
        return len(instalments)

    async def save_disposition(self, attempt_id: uuid.UUID, user: DeskUser, kind: object,
                               callback_at: object, note: object, now: datetime) -> Disposition:
        """Check and record the call's disposition with everything it implies (callback,
        right party, opt-out) in one transaction: DispositionError, and nothing written,
        when it does not hold."""
        async with transaction(self._pool) as conn:
            debtor_id, timezone = await _open_call(conn, attempt_id, user, lock=True)
            disposition = check_disposition(kind, callback_at, note, ZoneInfo(timezone), now)
            if disposition.kind == "promise" and not await conn.fetchval(
                    "SELECT count(*) FROM promises WHERE attempt_id = $1", attempt_id):
                raise DispositionError("kind: a promise is recorded by saving the plan")
            await self._record(conn, attempt_id, debtor_id, user, disposition, now,
                               keep_note=False)
        return disposition

    async def _record(self, conn: asyncpg.Connection, attempt_id: uuid.UUID, debtor_id: int,
                      user: DeskUser, disposition: Disposition, now: datetime, *,
                      keep_note: bool) -> None:
        # A correction replaces the callback the earlier disposition asked for.
        await conn.execute(
            "UPDATE callbacks SET status = 'cancelled' WHERE attempt_id = $1"
            " AND source = 'agent' AND status = 'open'", attempt_id)
        callback_id = None
        if disposition.callback_at is not None:
            callback_id = await conn.fetchval(
                "INSERT INTO callbacks (debtor_id, attempt_id, due_at, agent_id, source)"
                " VALUES ($1, $2, $3, $4, 'agent') RETURNING id",
                debtor_id, attempt_id, disposition.callback_at, user.agent_id)
        blob, key_id = (None, None) if disposition.note is None else self._cipher.encrypt(
            disposition.note, purpose=NOTE_PURPOSE)
        await conn.execute(
            """
            INSERT INTO call_dispositions (attempt_id, debtor_id, kind, callback_id,
                                           note_enc, note_key_id, agent_id, recorded_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (attempt_id) DO UPDATE SET
                kind = excluded.kind, callback_id = excluded.callback_id,
                note_enc = CASE WHEN $9 THEN call_dispositions.note_enc
                                ELSE excluded.note_enc END,
                note_key_id = CASE WHEN $9 THEN call_dispositions.note_key_id
                                   ELSE excluded.note_key_id END,
                agent_id = excluded.agent_id, recorded_at = excluded.recorded_at,
                revision = call_dispositions.revision + 1
            """,
            attempt_id, debtor_id, disposition.kind, callback_id, blob, key_id,
            user.agent_id, now, keep_note)
        right_party = RIGHT_PARTY.get(disposition.kind)
        if right_party is not None:
            await conn.execute("UPDATE attempts SET right_party = $2 WHERE id = $1",
                               attempt_id, right_party)
        if disposition.kind == "opt_out":
            await add_opt_out(conn, debtor_id,
                              f"asked agent {user.agent_id} on call {attempt_id}")


async def _open_call(conn: asyncpg.Connection, attempt_id: uuid.UUID, user: DeskUser, *,
                     lock: bool = False) -> tuple[int, str]:
    """(debtor id, debtor's time zone) of a call this user may open; `lock` holds the
    attempt's row until the transaction ends, so two corrections of one call queue."""
    row = await conn.fetchrow(
        "SELECT a.debtor_id, d.timezone,"
        " (SELECT e.detail->>'agent' FROM call_events e WHERE e.attempt_id = a.id"
        "  AND e.kind = 'agent_connected' ORDER BY e.at DESC, e.id DESC LIMIT 1) AS agent"
        " FROM attempts a JOIN debtors d ON d.id = a.debtor_id WHERE a.id = $1"
        + (" FOR UPDATE OF a" if lock else ""), attempt_id)
    if row is None or row["agent"] is None or (
            not user.supervisor and row["agent"] != user.agent_id):
        raise NotYourCall(f"call {attempt_id} was not bridged to agent {user.agent_id}")
    return int(row["debtor_id"]), str(row["timezone"])


async def _audit(conn: asyncpg.Connection, user: DeskUser, action: str, subject: str,
                 field: str, reason: str) -> None:
    await conn.execute(
        "INSERT INTO pii_audit (actor, action, subject, field, reason)"
        " VALUES ($1, $2, $3, $4, $5)", user.actor, action, subject, field, reason)
