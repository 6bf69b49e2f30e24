"""The opt-out do-not-call list: a debtor who asks not to be called again, whether they
told the bot or an agent, lands on it (the whole debtor, every number) inside the
caller's transaction, so the request is never recorded without its consequence."""

from __future__ import annotations

import asyncpg

OPT_OUT_LIST = "opt-out"  # the global list (no campaign) the compliance gate reads


async def add_opt_out(conn: asyncpg.Connection, debtor_id: int, reason: str) -> bool:
    """Put the debtor on the opt-out list; False when an unexpired entry was already there
    (an agent correcting a disposition, a replayed outcome: one entry is enough)."""
    list_id = await conn.fetchval(
        """
        INSERT INTO dnc_lists (name) VALUES ($1)
        ON CONFLICT (name) DO UPDATE SET name = excluded.name
        RETURNING id
        """,
        OPT_OUT_LIST,
    )
    added = await conn.fetchval(
        """
        INSERT INTO dnc_entries (list_id, debtor_id, reason)
        SELECT $1, $2, $3
        WHERE NOT EXISTS (SELECT 1 FROM dnc_entries WHERE list_id = $1 AND debtor_id = $2
                          AND (expires_at IS NULL OR expires_at > now()))
        RETURNING id
        """,
        list_id,
        debtor_id,
        reason,
    )
    return added is not None
