"""Re-segmentation: read debtor facts, assign segment/strategy/priority with the pure
rules, write them back in bulk. Runs after an import for the debtors whose facts
changed, or for everyone when the rules change."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

import asyncpg

from db.pool import connection, transaction
from engine.segmentation.rules import Assignment, DebtorFacts

BATCH = 20_000

_FACTS_SQL = """
SELECT d.id, d.credit_rating, d.broken_promises, d.on_time_ratio,
       coalesce(max(b.overdue_days), 0) AS overdue_days,
       coalesce(sum(b.amount_due), 0) AS amount_due
FROM debtors d LEFT JOIN debts b ON b.debtor_id = d.id
WHERE ($1::bigint[] IS NULL OR d.id = ANY($1)) AND d.id > $2
GROUP BY d.id ORDER BY d.id LIMIT $3
"""

_WRITE_SQL = """
UPDATE debtors d SET segment = s.segment, strategy = s.strategy, priority = s.priority,
                     segmented_at = now()
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::numeric[])
     AS s(id, segment, strategy, priority)
WHERE d.id = s.id
  AND (d.segment, d.strategy, d.priority) IS DISTINCT FROM (s.segment, s.strategy, s.priority)
"""


async def resegment(pool: asyncpg.Pool, assign: Callable[[DebtorFacts], Assignment],
                    debtor_ids: Sequence[int] | None = None) -> int:
    """Assign every (or the given) debtor; return how many changed segment or priority."""
    ids = list(debtor_ids) if debtor_ids is not None else None
    changed, after = 0, 0
    while True:
        async with connection(pool) as conn:
            rows = await conn.fetch(_FACTS_SQL, ids, after, BATCH)
        if not rows:
            return changed
        columns: tuple[list[int], list[str], list[str], list[Decimal]] = ([], [], [], [])
        for row in rows:
            result = assign(DebtorFacts(
                overdue_days=row["overdue_days"], amount_due=row["amount_due"],
                on_time_ratio=row["on_time_ratio"], broken_promises=row["broken_promises"],
                credit_rating=row["credit_rating"]))
            for column, value in zip(columns, (row["id"], result.segment,
                                               result.strategy.value, result.priority),
                                     strict=True):
                column.append(value)
        async with transaction(pool) as conn:
            status = await conn.execute(_WRITE_SQL, *columns)
        changed += int(status.split()[-1])
        after = rows[-1]["id"]


async def segment_counts(pool: asyncpg.Pool) -> list[tuple[str, str, int]]:
    """(segment, strategy, debtors) for the summary tables."""
    async with connection(pool) as conn:
        rows = await conn.fetch(
            "SELECT coalesce(segment, '(none)') AS segment, coalesce(strategy, '-') AS strategy,"
            " count(*) AS n FROM debtors GROUP BY 1, 2 ORDER BY 3 DESC, 1")
    return [(r["segment"], r["strategy"], r["n"]) for r in rows]
