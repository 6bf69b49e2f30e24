"""Call attempts and their append-only event log.

An attempt row is committed in state 'intent' before anything is dialled; progress only
ever moves forward, and a final attempt is never reopened, whatever order late events
arrive in.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from db.errors import AttemptNotFound
from db.pool import connection, transaction

# Order of the non-final states; an update never moves an attempt to an earlier one.
PROGRESS_STATES = ("intent", "originating", "ringing", "answered", "hanging_up")
FINAL_STATE = "final"
_TIMESTAMP_COLUMN = {
    "originating": "originated_at",
    "ringing": "ringing_at",
    "answered": "answered_at",
}
_ATTEMPT_COLUMNS = (
    "id, campaign_id, debtor_id, phone_id, state, disposition, hangup_cause, hangup_cause_text,"
    " error, created_at, originated_at, ringing_at, answered_at, ended_at"
)


@dataclass(frozen=True, slots=True)
class AttemptRow:
    id: uuid.UUID
    campaign_id: int | None
    debtor_id: int
    phone_id: int
    state: str
    disposition: str | None
    hangup_cause: int | None
    hangup_cause_text: str | None
    error: str | None
    created_at: datetime
    originated_at: datetime | None
    ringing_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None

    @property
    def is_final(self) -> bool:
        return self.state == FINAL_STATE


@dataclass(frozen=True, slots=True)
class CallEventRow:
    id: int
    attempt_id: uuid.UUID
    at: datetime
    kind: str
    detail: dict[str, Any]


class AttemptRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create_intent(
        self, attempt_id: uuid.UUID, *, debtor_id: int, phone_id: int, campaign_id: int | None
    ) -> None:
        """Record the intent to dial; a second call with the same id changes nothing."""
        async with transaction(self._pool) as conn:
            created_at = await conn.fetchval(
                """
                INSERT INTO attempts (id, campaign_id, debtor_id, phone_id, state)
                VALUES ($1, $2, $3, $4, 'intent')
                ON CONFLICT (id) DO NOTHING
                RETURNING created_at
                """,
                attempt_id,
                campaign_id,
                debtor_id,
                phone_id,
            )
            if created_at is not None:
                await _insert_event(conn, attempt_id, "intent", created_at, {})

    async def record_progress(
        self,
        attempt_id: uuid.UUID,
        state: str,
        at: datetime,
        event_kind: str,
        detail: Mapping[str, Any],
    ) -> None:
        """Advance the attempt to `state` (stamping its time once) and log the event.

        The event is always logged; the state only moves forward and never leaves 'final'.
        """
        if state not in _TIMESTAMP_COLUMN and state != "hanging_up":
            raise ValueError(f"record_progress cannot set state {state!r}")
        _require_aware(at)
        async with transaction(self._pool) as conn:
            current = await _lock_state(conn, attempt_id)
            if _rank(state) > _rank(current):
                column = _TIMESTAMP_COLUMN.get(state)
                if column is None:
                    await conn.execute(
                        "UPDATE attempts SET state = $2 WHERE id = $1", attempt_id, state
                    )
                else:
                    # coalesce: a replayed event must not move the first time it happened.
                    await conn.execute(
                        f"UPDATE attempts SET state = $2, {column} = coalesce({column}, $3)"
                        " WHERE id = $1",
                        attempt_id,
                        state,
                        at,
                    )
            await _insert_event(conn, attempt_id, event_kind, at, detail)

    async def finalize(
        self,
        attempt_id: uuid.UUID,
        *,
        disposition: str,
        at: datetime,
        cause: int | None,
        cause_text: str | None,
        error: str | None = None,
    ) -> bool:
        """Close the attempt with its outcome; False (and nothing written) if already final."""
        _require_aware(at)
        async with transaction(self._pool) as conn:
            if await _lock_state(conn, attempt_id) == FINAL_STATE:
                return False
            await conn.execute(
                """
                UPDATE attempts
                SET state = 'final', disposition = $2, ended_at = $3,
                    hangup_cause = $4, hangup_cause_text = $5, error = $6
                WHERE id = $1
                """,
                attempt_id,
                disposition,
                at,
                cause,
                cause_text,
                error,
            )
            detail = {
                "disposition": disposition,
                "cause": cause,
                "cause_text": cause_text,
                "error": error,
            }
            await _insert_event(conn, attempt_id, "final", at, detail)
            return True

    async def append_event(
        self, attempt_id: uuid.UUID, kind: str, at: datetime, detail: Mapping[str, Any]
    ) -> None:
        _require_aware(at)
        async with transaction(self._pool) as conn:
            await _lock_state(conn, attempt_id)
            await _insert_event(conn, attempt_id, kind, at, detail)

    async def mark_abandoned(self, attempt_id: uuid.UUID, at: datetime,
                             detail: dict[str, Any]) -> None:
        """An answered call no agent took: flagged for the redial rules (UK: 72 h) and
        the abandon rate, with the event, in one transaction."""
        _require_aware(at)
        async with transaction(self._pool) as conn:
            await _lock_state(conn, attempt_id)
            await conn.execute("UPDATE attempts SET abandoned = true WHERE id = $1", attempt_id)
            await _insert_event(conn, attempt_id, "abandoned", at, detail)

    async def add_recording(self, attempt_id: uuid.UUID, path: str, part: str,
                            at: datetime) -> None:
        """A recording of part of the call (e.g. the agent's conversation after the bot's):
        an event per file; the attempt's `recording` names the first."""
        _require_aware(at)
        async with transaction(self._pool) as conn:
            await conn.execute("UPDATE attempts SET recording = coalesce(recording, $2)"
                               " WHERE id = $1", attempt_id, path)
            await _insert_event(conn, attempt_id, "recording", at, {"path": path, "part": part})

    async def mark_machine(self, attempt_id: uuid.UUID, at: datetime,
                           detail: dict[str, Any]) -> None:
        """An answering machine answered (the AMD verdict): flagged for the retry rules
        and reports, with the event, in one transaction."""
        _require_aware(at)
        async with transaction(self._pool) as conn:
            await _lock_state(conn, attempt_id)
            await conn.execute("UPDATE attempts SET machine = true WHERE id = $1", attempt_id)
            await _insert_event(conn, attempt_id, "amd_machine", at, detail)

    async def get(self, attempt_id: uuid.UUID) -> AttemptRow | None:
        async with connection(self._pool) as conn:
            row = await conn.fetchrow(
                f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE id = $1", attempt_id
            )
        return None if row is None else AttemptRow(**dict(row))

    async def non_final(self) -> list[AttemptRow]:
        """Attempts still in flight, oldest first (what recovery after a restart walks)."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE state <> 'final'"
                " ORDER BY created_at, id"
            )
        return [AttemptRow(**dict(row)) for row in rows]

    async def events(self, attempt_id: uuid.UUID) -> list[CallEventRow]:
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "SELECT id, attempt_id, at, kind, detail FROM call_events"
                " WHERE attempt_id = $1 ORDER BY id",
                attempt_id,
            )
        return [
            CallEventRow(
                id=row["id"],
                attempt_id=row["attempt_id"],
                at=row["at"],
                kind=row["kind"],
                detail=json.loads(row["detail"]),
            )
            for row in rows
        ]


async def _lock_state(conn: asyncpg.Connection, attempt_id: uuid.UUID) -> str:
    # The row lock serialises concurrent progress/finalize calls for one attempt.
    state = await conn.fetchval("SELECT state FROM attempts WHERE id = $1 FOR UPDATE", attempt_id)
    if state is None:
        raise AttemptNotFound(f"attempt {attempt_id} does not exist")
    return str(state)


async def _insert_event(
    conn: asyncpg.Connection,
    attempt_id: uuid.UUID,
    kind: str,
    at: datetime,
    detail: Mapping[str, Any],
) -> None:
    await conn.execute(
        "INSERT INTO call_events (attempt_id, at, kind, detail) VALUES ($1, $2, $3, $4::jsonb)",
        attempt_id,
        at,
        kind,
        json.dumps(dict(detail), ensure_ascii=False, default=str),
    )


def _rank(state: str) -> int:
    return len(PROGRESS_STATES) if state == FINAL_STATE else PROGRESS_STATES.index(state)


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("event times must be timezone-aware")
