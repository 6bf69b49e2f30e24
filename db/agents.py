"""Agents and their phones' credentials; the agent state log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db.errors import DbError


class AgentExists(DbError):
    pass


class NoSuchAgent(DbError):
    pass


@dataclass(frozen=True, slots=True)
class AgentRow:
    agent_id: str
    display_name: str
    realm: str
    md5_cred: str
    role: str
    created_at: datetime


class AgentRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, agent_id: str, display_name: str, realm: str, md5_cred: str,
                  role: str = "agent") -> None:
        """A new agent, or one removed earlier coming back (with new credentials)."""
        async with self._pool.acquire() as conn, conn.transaction():
            existing = await conn.fetchrow(
                "SELECT removed_at FROM agents WHERE agent_id = $1 FOR UPDATE", agent_id)
            if existing is not None and existing["removed_at"] is None:
                raise AgentExists(f"agent {agent_id} already exists")
            await conn.execute(
                "INSERT INTO agents (agent_id, display_name, realm, md5_cred, role)"
                " VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (agent_id) DO UPDATE SET display_name = $2, realm = $3,"
                " md5_cred = $4, role = $5, created_at = now(), removed_at = NULL",
                agent_id, display_name, realm, md5_cred, role)

    async def remove(self, agent_id: str) -> None:
        done = await self._pool.execute(
            "UPDATE agents SET removed_at = now() WHERE agent_id = $1 AND removed_at IS NULL",
            agent_id)
        if done.endswith(" 0"):
            raise NoSuchAgent(f"no agent {agent_id}")

    async def active(self) -> list[AgentRow]:
        rows = await self._pool.fetch(
            "SELECT agent_id, display_name, realm, md5_cred, role, created_at FROM agents"
            " WHERE removed_at IS NULL ORDER BY agent_id")
        return [AgentRow(**dict(row)) for row in rows]

    async def log_state(self, agent_id: str, status: str, reason: str | None,
                        call_id: str | None, at: datetime) -> None:
        await self._pool.execute(
            "INSERT INTO agent_state_log (agent_id, status, reason, call_id, at)"
            " VALUES ($1, $2, $3, $4, $5)", agent_id, status, reason, call_id, at)
