"""An independent compliance checker: counts rule violations in a replay's placed
attempts with SQL alone — it never calls the gate.

The replay's attempts, debtors, numbers, listings, inconvenient windows and the
regions' public holidays are loaded into temporary tables (dropped at commit);
each rule is one query counting the attempts that break it. Rule parameters come
from the pack dataclasses (numbers only; the logic here is written afresh).
"""

from __future__ import annotations

import re
from datetime import date

import asyncpg
import holidays

from engine.compliance.model import GLOBAL_LIST
from engine.compliance.packs import DEFAULT_PACKS, Packs
from engine.compliance.replay import ReplayResult

# A whole replay's counts are heavier than the service's interactive queries.
STATEMENT_TIMEOUT_S = 120

SCHEMA = """
CREATE TEMP TABLE replay_debtors (
    debtor_id int PRIMARY KEY, zones text[], region text, packs text[], opted_out bool,
    cease bool, attorney bool, consent_until timestamptz, requires_consent bool,
    dnc_lists text[], avoid_holidays bool) ON COMMIT DROP;
CREATE TEMP TABLE replay_numbers (
    number_key text PRIMARY KEY, debtor_id int, third_party bool) ON COMMIT DROP;
CREATE TEMP TABLE replay_listings (
    subject text, key text, list_name text, expires timestamptz) ON COMMIT DROP;
CREATE TEMP TABLE replay_windows (
    debtor_id int, isodow int, start_at time, end_at time) ON COMMIT DROP;
CREATE TEMP TABLE replay_holidays (region text, day date, PRIMARY KEY (region, day))
    ON COMMIT DROP;
CREATE TEMP TABLE replay_attempts (
    seq bigint PRIMARY KEY, debtor_id int, number_key text, debt_ref text, at timestamptz,
    answered bool, right_party bool, conversation_s float8, abandoned bool, machine bool,
    automated bool, third_party_refused bool) ON COMMIT DROP;
"""

# Every attempt with its debtor's facts and its local time in the primary zone.
ENRICHED = """
CREATE TEMP TABLE ra ON COMMIT DROP AS
SELECT a.*, d.zones, d.region, d.packs, d.opted_out, d.cease, d.attorney, d.consent_until,
       d.requires_consent, d.dnc_lists, d.avoid_holidays, n.third_party,
       (a.at AT TIME ZONE d.zones[1]) AS local,
       (a.at AT TIME ZONE d.zones[1])::date AS local_day
  FROM replay_attempts a
  JOIN replay_debtors d USING (debtor_id)
  JOIN replay_numbers n USING (number_key);
CREATE INDEX ON ra (debtor_id, seq);
CREATE INDEX ON ra (number_key, seq);
CREATE INDEX ON ra (debt_ref, seq);
CREATE INDEX ON replay_listings (subject, key);
ANALYZE replay_listings;
ANALYZE ra;
"""

EARLIER_SAME_NUMBER = "FROM ra o WHERE o.number_key = r.number_key AND o.seq < r.seq"
EARLIER_SAME_DEBT = "FROM ra o WHERE o.debt_ref = r.debt_ref AND o.seq < r.seq"

RULES: dict[str, str] = {
    "cn.quiet_hours": """
        SELECT count(*) FROM ra r WHERE 'CN' = ANY(packs)
           AND (local::time < :cn_start::time OR local::time >= :cn_end::time)""",
    "cn.number_daily_cap": """
        SELECT count(*) FROM (
          SELECT count(*) FILTER (WHERE NOT answered) OVER (
                   PARTITION BY number_key, local_day ORDER BY seq
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
            FROM ra WHERE 'CN' = ANY(packs)) x
         WHERE before >= :cn_cap""",
    "cn.debtor_conversation_cap": """
        SELECT count(*) FROM (
          SELECT count(*) FILTER (
                   WHERE answered AND right_party AND conversation_s >= :cn_effective_s::float8)
                 OVER (PARTITION BY debtor_id, local_day ORDER BY seq
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
            FROM ra WHERE 'CN' = ANY(packs)) x
         WHERE before >= :cn_conversations""",
    "cn.third_party_refused": f"""
        SELECT count(*) FROM ra r WHERE 'CN' = ANY(packs) AND third_party
           AND EXISTS (SELECT 1 {EARLIER_SAME_NUMBER} AND o.third_party_refused)""",
    "cn.third_party_not_yet": """
        SELECT count(*) FROM ra r WHERE 'CN' = ANY(packs) AND third_party AND NOT (
          COALESCE((SELECT count(*) = :cn_failed::int
                           AND bool_and(NOT (l.answered AND l.right_party))
                      FROM (SELECT o.answered, o.right_party FROM ra o
                             WHERE o.debtor_id = r.debtor_id AND o.seq < r.seq
                               AND NOT o.third_party
                             ORDER BY o.seq DESC LIMIT :cn_failed::int) l), false)
          OR COALESCE(r.at >= COALESCE(
               (SELECT max(o.at) FROM ra o WHERE o.debtor_id = r.debtor_id AND o.seq < r.seq
                   AND o.answered AND o.right_party),
               (SELECT min(o.at) FROM ra o WHERE o.debtor_id = r.debtor_id AND o.seq < r.seq
                   AND NOT o.third_party)) + make_interval(days => :cn_days::int), false))""",
    "us.calling_window": """
        SELECT count(*) FROM ra r WHERE 'US' = ANY(packs) AND EXISTS (
          SELECT 1 FROM unnest(r.zones) z
           WHERE (r.at AT TIME ZONE z)::time < :us_start::time
              OR (r.at AT TIME ZONE z)::time >= :us_end::time)""",
    "us.seven_in_seven": f"""
        SELECT count(*) FROM ra r WHERE 'US' = ANY(packs) AND (
          SELECT count(*) {EARLIER_SAME_DEBT}
             AND o.at > r.at - make_interval(days => :us_days::int)) >= :us_cap""",
    "us.after_conversation": f"""
        SELECT count(*) FROM ra r WHERE 'US' = ANY(packs) AND EXISTS (
          SELECT 1 {EARLIER_SAME_DEBT} AND o.answered AND o.right_party
             AND r.at < o.at + o.conversation_s * interval '1 second'
                                + make_interval(days => :us_quiet_days::int))""",
    "us.opt_out": "SELECT count(*) FROM ra WHERE 'US' = ANY(packs) AND opted_out",
    "us.cease": "SELECT count(*) FROM ra WHERE 'US' = ANY(packs) AND cease",
    "us.attorney": "SELECT count(*) FROM ra WHERE 'US' = ANY(packs) AND attorney",
    "uk.abandon_72h": f"""
        SELECT count(*) FROM ra r WHERE 'UK' = ANY(packs) AND automated AND EXISTS (
          SELECT 1 {EARLIER_SAME_NUMBER} AND o.abandoned
             AND r.at < o.at + :uk_hours::float8 * interval '1 hour')""",
    "uk.machine_same_day": f"""
        SELECT count(*) FROM ra r
         WHERE 'UK' = ANY(packs) AND automated AND :uk_machine::bool AND EXISTS (
          SELECT 1 {EARLIER_SAME_NUMBER} AND o.machine AND o.local_day = r.local_day)""",
    "opt_out": "SELECT count(*) FROM ra WHERE opted_out",
    "dnc": """
        SELECT count(*) FROM ra r WHERE EXISTS (
          SELECT 1 FROM replay_listings l
           WHERE l.subject = 'number' AND l.key = r.number_key
             AND (l.list_name = :global_list OR l.list_name = ANY(r.dnc_lists))
             AND (l.expires IS NULL OR r.at < l.expires)
          UNION ALL
          SELECT 1 FROM replay_listings l
           WHERE l.subject = 'debtor' AND l.key = r.debtor_id::text
             AND (l.list_name = :global_list OR l.list_name = ANY(r.dnc_lists))
             AND (l.expires IS NULL OR r.at < l.expires))""",
    "holiday": """
        SELECT count(*) FROM ra r JOIN replay_holidays h
            ON h.region = r.region AND h.day = r.local_day
         WHERE r.avoid_holidays""",
    "no_consent": """
        SELECT count(*) FROM ra WHERE requires_consent
           AND (consent_until IS NULL OR at >= consent_until)""",
    "inconvenient_time": """
        SELECT count(*) FROM ra r JOIN replay_windows w
            ON w.debtor_id = r.debtor_id AND w.isodow = extract(isodow FROM r.local)
           AND r.local::time >= w.start_at AND r.local::time < w.end_at""",
}




def _parameters(packs: Packs) -> dict[str, object]:
    cn, us, uk = packs.cn, packs.us, packs.uk
    return {
        "cn_start": cn.window_start, "cn_end": cn.window_end,
        "cn_cap": cn.max_unanswered_per_number_per_day,
        "cn_conversations": cn.max_effective_conversations_per_day,
        "cn_effective_s": cn.effective_conversation_s,
        "cn_failed": cn.third_party_after_failed_attempts, "cn_days": cn.third_party_after_days,
        "us_start": us.window_start, "us_end": us.window_end, "us_cap": us.max_calls_per_debt,
        "us_days": us.rolling_window_days, "us_quiet_days": us.quiet_days_after_conversation,
        "uk_hours": uk.abandon_quiet_hours, "uk_machine": uk.machine_same_day,
        "global_list": GLOBAL_LIST,
    }


def bind(query: str, params: dict[str, object]) -> tuple[str, list[object]]:
    """`:name` placeholders → `$n` with their values, in order of first use."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    sql = re.sub(r"(?<!:):([a-z_]+)\b", number, query)
    return sql, [params[name] for name in order]


async def count_violations(pool: asyncpg.Pool, result: ReplayResult,
                           packs: Packs = DEFAULT_PACKS) -> dict[str, int]:
    """Rule → number of placed attempts in `result` that break it."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT_S}s'")
        await conn.execute(SCHEMA)
        await _load(conn, result, packs)
        await conn.execute(ENRICHED)
        params = _parameters(packs)
        counts: dict[str, int] = {}
        for rule, query in RULES.items():
            sql, args = bind(query, params)
            counts[rule] = int(await conn.fetchval(sql, *args))
        return counts


async def _load(conn: asyncpg.Connection, result: ReplayResult, packs: Packs) -> None:
    avoid = {"CN": packs.cn.avoid_holidays, "US": packs.us.avoid_holidays,
             "UK": packs.uk.avoid_holidays}
    debtors, numbers, listings, windows = [], [], [], []
    for d in result.debtors:
        f, p = d.facts, d.policy
        debtors.append((f.debtor_id, list(f.timezones), f.region, list(p.packs), f.opted_out,
                        f.cease, f.attorney, f.consent_until, p.requires_consent,
                        sorted(p.dnc_lists), any(avoid[name] for name in p.packs)))
        listings += [("debtor", str(f.debtor_id), name, f.list_expiry.get(name))
                     for name in f.on_lists]
        windows += [(f.debtor_id, w.weekday + 1, w.start, w.end) for w in f.inconvenient]
        for n in d.numbers:
            numbers.append((n.number_key, f.debtor_id, n.third_party))
            listings += [("number", n.number_key, name, n.list_expiry.get(name))
                         for name in n.on_lists]
    attempts = [(r.seq, r.debtor_id, a.number_key, a.debt_ref, a.at, a.answered, a.right_party,
                 a.conversation_s, a.abandoned, a.machine, a.automated, a.third_party_refused)
                for r in result.rows for a in (r.attempt,)]
    await conn.copy_records_to_table("replay_debtors", records=debtors)
    await conn.copy_records_to_table("replay_numbers", records=numbers)
    await conn.copy_records_to_table("replay_listings", records=listings)
    await conn.copy_records_to_table("replay_windows", records=windows)
    await conn.copy_records_to_table("replay_holidays", records=_holidays(result))
    await conn.copy_records_to_table("replay_attempts", records=attempts)


def _holidays(result: ReplayResult) -> list[tuple[str, date]]:
    regions = {d.facts.region for d in result.debtors}
    years = {r.attempt.at.year for r in result.rows} or {2024}
    span = range(min(years) - 1, max(years) + 2)
    rows: list[tuple[str, date]] = []
    for region in sorted(regions):
        try:
            rows += [(region, day) for day in holidays.country_holidays(region, years=span)]
        except NotImplementedError:
            continue
    return rows
