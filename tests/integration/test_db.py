"""The db package against a real PostgreSQL: migrations, attempts, debtors, campaigns."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path

import asyncpg
import pytest

from db.attempts import AttemptRepository
from db.campaigns import CampaignRepository
from db.crypto import PiiCipher
from db.debtors import PHONE_PURPOSE, DebtInput, DebtorRepository
from db.errors import (
    AttemptNotFound,
    CampaignNotFound,
    DatabaseUnavailable,
    IntegrityViolation,
    MigrationError,
    PhoneNotFound,
)
from db.migrate import current_version, load_migrations, migrate
from db.pool import create_pool
from engine.lab.postgres import PrivateCluster
from tests.integration import conftest_db
from tests.integration.conftest_db import free_tcp_port

pytestmark = pytest.mark.integration

# The shared PostgreSQL fixtures, registered here so this module also runs on its own.
pg_cluster = conftest_db.pg_cluster
pg_template = conftest_db.pg_template
db_pool = conftest_db.db_pool
empty_db_dsn = conftest_db.empty_db_dsn

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CIPHER = PiiCipher({"k1": bytes(range(32))}, "k1", bytes(range(32, 64)))
MIGRATIONS = resources.files("db") / "migrations"


async def make_debtor(pool: asyncpg.Pool, external_id: str = "D-1") -> tuple[int, int]:
    debtors = DebtorRepository(pool, CIPHER)
    debtor_id = await debtors.upsert_debtor(
        external_id=external_id,
        name="张三丰",
        phones=["+8613800000001"],
        timezone="Asia/Shanghai",
        debts=[],
    )
    [phone] = await debtors.phones_of(debtor_id)
    return debtor_id, phone.id


# --- migrations -------------------------------------------------------------------------


async def test_migrate_fresh_database_then_second_run_applies_nothing(empty_db_dsn: str) -> None:
    """Migrate a never-migrated database, then migrate again.

    Expected: the first run applies every migration on disk in order and records each as
    (version, name, sha256 of the file, applied_at); current_version goes from 0 to the
    newest version; the second run applies [] and adds no rows.
    """
    on_disk = load_migrations()
    conn = await asyncpg.connect(empty_db_dsn)
    try:
        assert await current_version(conn) == 0
        assert await migrate(conn) == [m.version for m in on_disk]
        assert await current_version(conn) == on_disk[-1].version
        rows = await conn.fetch("SELECT * FROM schema_migrations ORDER BY version")
        initial = hashlib.sha256((MIGRATIONS / "0001_initial.sql").read_bytes()).hexdigest()
        assert (rows[0]["version"], rows[0]["name"], rows[0]["checksum"]) == (1, "initial", initial)
        assert [(r["version"], r["name"], r["checksum"]) for r in rows] == [
            (m.version, m.name, m.checksum) for m in on_disk
        ]
        assert all(r["applied_at"] is not None for r in rows)

        assert await migrate(conn) == []
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(on_disk)
    finally:
        await conn.close()


async def test_concurrent_migrators_apply_each_migration_once(empty_db_dsn: str) -> None:
    """Run two migrators at the same time on one fresh database.

    Expected: the advisory lock serialises them: together they apply every migration
    exactly once (no version in both results), neither fails, and schema_migrations holds
    one row per migration.
    """
    versions = [m.version for m in load_migrations()]
    first, second = await asyncpg.connect(empty_db_dsn), await asyncpg.connect(empty_db_dsn)
    try:
        by_first, by_second = await asyncio.gather(migrate(first), migrate(second))
        assert sorted(by_first + by_second) == versions
        assert await first.fetchval("SELECT count(*) FROM schema_migrations") == len(versions)
    finally:
        await first.close()
        await second.close()


async def test_editing_an_applied_migration_is_refused(empty_db_dsn: str, tmp_path: Path) -> None:
    """Apply migrations from a copied folder, append a line to 0001, migrate again.

    Expected: MigrationError naming 0001_initial.sql; nothing further is applied.
    """
    source = tmp_path / "migrations"
    source.mkdir()
    shutil.copy(Path(str(MIGRATIONS / "0001_initial.sql")), source / "0001_initial.sql")
    conn = await asyncpg.connect(empty_db_dsn)
    try:
        assert await migrate(conn, source=source) == [1]
        with (source / "0001_initial.sql").open("a") as sql:
            sql.write("\nCREATE TABLE sneaky (id int);\n")
        with pytest.raises(MigrationError, match=r"0001_initial\.sql"):
            await migrate(conn, source=source)
        assert await conn.fetchval("SELECT to_regclass('sneaky')") is None
    finally:
        await conn.close()


async def test_database_migrated_by_newer_code_is_refused(db_pool: asyncpg.Pool) -> None:
    """Record a version 9999 this code does not have, then migrate.

    Expected: MigrationError saying a newer release migrated the database.
    """
    async with db_pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')"
        )
        with pytest.raises(MigrationError, match="newer release"):
            await migrate(conn)


async def test_badly_named_migration_file_is_refused(empty_db_dsn: str, tmp_path: Path) -> None:
    """Put '1_initial.sql' in the source folder. Expected: MigrationError naming the file."""
    (tmp_path / "1_initial.sql").write_text("SELECT 1;")
    conn = await asyncpg.connect(empty_db_dsn)
    try:
        with pytest.raises(MigrationError, match=r"1_initial\.sql"):
            await migrate(conn, source=tmp_path)
    finally:
        await conn.close()


# --- attempts -----------------------------------------------------------------------------


async def test_attempt_lifecycle_intent_progress_final(db_pool: asyncpg.Pool) -> None:
    """Create an intent (twice), record originating/ringing/answered, then finalize.

    Expected: the second create_intent is a no-op; each step sets the state and its time
    column; finalize returns True and stores disposition, cause and ended_at; the events
    read back in order intent, originate, ringing, answered, final with their details.
    """
    debtor_id, phone_id = await make_debtor(db_pool)
    campaign_id = await CampaignRepository(db_pool).create("march", "bot", {})
    attempts = AttemptRepository(db_pool)
    attempt_id = uuid.uuid4()

    await attempts.create_intent(
        attempt_id, debtor_id=debtor_id, phone_id=phone_id, campaign_id=campaign_id
    )
    await attempts.create_intent(
        attempt_id, debtor_id=debtor_id, phone_id=phone_id, campaign_id=campaign_id
    )
    row = await attempts.get(attempt_id)
    assert row is not None and row.state == "intent" and row.campaign_id == campaign_id

    steps = [("originating", "originate"), ("ringing", "ringing"), ("answered", "answered")]
    for offset, (state, kind) in enumerate(steps, start=1):
        await attempts.record_progress(
            attempt_id, state, T0 + timedelta(seconds=offset), kind, {"step": offset}
        )
        assert (await attempts.get(attempt_id)).state == state  # type: ignore[union-attr]

    finished = await attempts.finalize(
        attempt_id, disposition="human", at=T0 + timedelta(seconds=30), cause=16,
        cause_text="Normal Clearing",
    )  # fmt: skip
    assert finished is True
    row = await attempts.get(attempt_id)
    assert row is not None and row.is_final
    assert (row.disposition, row.hangup_cause, row.hangup_cause_text, row.error) == (
        "human", 16, "Normal Clearing", None,
    )  # fmt: skip
    assert row.originated_at == T0 + timedelta(seconds=1)
    assert row.ringing_at == T0 + timedelta(seconds=2)
    assert row.answered_at == T0 + timedelta(seconds=3)
    assert row.ended_at == T0 + timedelta(seconds=30)

    events = await attempts.events(attempt_id)
    assert [event.kind for event in events] == [
        "intent", "originate", "ringing", "answered", "final",
    ]  # fmt: skip
    assert events[1].detail == {"step": 1}
    assert events[-1].detail == {
        "disposition": "human", "cause": 16, "cause_text": "Normal Clearing", "error": None,
    }  # fmt: skip
    assert await attempts.non_final() == []


async def test_final_attempt_never_moves_back(db_pool: asyncpg.Pool) -> None:
    """Finalize an attempt, then deliver a late 'ringing' and a second finalize.

    Expected: the state stays final with the first outcome and ringing_at stays empty; the
    late event is still logged; the second finalize returns False and logs nothing.
    """
    debtor_id, phone_id = await make_debtor(db_pool)
    attempts = AttemptRepository(db_pool)
    attempt_id = uuid.uuid4()
    await attempts.create_intent(attempt_id, debtor_id=debtor_id, phone_id=phone_id,
                                 campaign_id=None)  # fmt: skip
    assert await attempts.finalize(
        attempt_id, disposition="busy", at=T0, cause=17, cause_text="User busy"
    )
    await attempts.record_progress(attempt_id, "ringing", T0 + timedelta(seconds=1), "ringing", {})
    assert not await attempts.finalize(
        attempt_id, disposition="human", at=T0 + timedelta(seconds=9), cause=16, cause_text=None
    )

    row = await attempts.get(attempt_id)
    assert row is not None
    assert (row.state, row.disposition, row.hangup_cause, row.ringing_at) == (
        "final", "busy", 17, None,
    )  # fmt: skip
    kinds = [event.kind for event in await attempts.events(attempt_id)]
    assert kinds == ["intent", "final", "ringing"]


async def test_out_of_order_progress_does_not_move_state_backwards(db_pool: asyncpg.Pool) -> None:
    """Record 'answered', then a late 'ringing'; record 'answered' again later.

    Expected: the state stays answered, ringing_at stays empty, answered_at keeps the first
    time; all three events are logged.
    """
    debtor_id, phone_id = await make_debtor(db_pool)
    attempts = AttemptRepository(db_pool)
    attempt_id = uuid.uuid4()
    await attempts.create_intent(attempt_id, debtor_id=debtor_id, phone_id=phone_id,
                                 campaign_id=None)  # fmt: skip
    before, after = T0 - timedelta(seconds=5), T0 + timedelta(seconds=5)
    await attempts.record_progress(attempt_id, "answered", T0, "answered", {})
    await attempts.record_progress(attempt_id, "ringing", before, "ringing", {})
    await attempts.record_progress(attempt_id, "answered", after, "answered", {})

    row = await attempts.get(attempt_id)
    assert row is not None
    assert (row.state, row.ringing_at, row.answered_at) == ("answered", None, T0)
    assert len(await attempts.events(attempt_id)) == 4  # intent + three progress events
    assert [a.id for a in await attempts.non_final()] == [attempt_id]


async def test_non_final_lists_only_live_attempts_oldest_first(db_pool: asyncpg.Pool) -> None:
    """Create three intents, finalize the middle one. Expected: non_final lists the other
    two, in creation order."""
    debtor_id, phone_id = await make_debtor(db_pool)
    attempts = AttemptRepository(db_pool)
    ids = [uuid.uuid4() for _ in range(3)]
    for attempt_id in ids:
        await attempts.create_intent(attempt_id, debtor_id=debtor_id, phone_id=phone_id,
                                     campaign_id=None)  # fmt: skip
    await attempts.finalize(ids[1], disposition="no_answer", at=T0, cause=19, cause_text=None)
    assert [row.id for row in await attempts.non_final()] == [ids[0], ids[2]]


async def test_unknown_ids_raise_typed_errors(db_pool: asyncpg.Pool) -> None:
    """Use ids that do not exist. Expected: AttemptNotFound for progress/finalize/append,
    None from get, IntegrityViolation for an intent on an unknown debtor and phone,
    ValueError for a state record_progress may not set or a naive timestamp."""
    attempts = AttemptRepository(db_pool)
    missing = uuid.uuid4()
    with pytest.raises(AttemptNotFound):
        await attempts.record_progress(missing, "ringing", T0, "ringing", {})
    with pytest.raises(AttemptNotFound):
        await attempts.finalize(missing, disposition="x", at=T0, cause=None, cause_text=None)
    with pytest.raises(AttemptNotFound):
        await attempts.append_event(missing, "note", T0, {})
    assert await attempts.get(missing) is None
    with pytest.raises(IntegrityViolation):
        await attempts.create_intent(missing, debtor_id=404, phone_id=404, campaign_id=None)
    with pytest.raises(ValueError, match="cannot set state 'final'"):
        await attempts.record_progress(missing, "final", T0, "final", {})
    with pytest.raises(ValueError, match="timezone-aware"):
        await attempts.append_event(missing, "note", datetime(2026, 1, 1), {})


async def test_call_events_are_append_only(db_pool: asyncpg.Pool) -> None:
    """Append an event, then try UPDATE, DELETE and TRUNCATE on call_events directly.

    Expected: each statement raises (restrict_violation, 'append-only') and the event is
    unchanged.
    """
    debtor_id, phone_id = await make_debtor(db_pool)
    attempts = AttemptRepository(db_pool)
    attempt_id = uuid.uuid4()
    await attempts.create_intent(attempt_id, debtor_id=debtor_id, phone_id=phone_id,
                                 campaign_id=None)  # fmt: skip
    await attempts.append_event(attempt_id, "dtmf", T0, {"digit": "1", "note": "按键"})

    async with db_pool.acquire() as conn:
        for statement in (
            "UPDATE call_events SET kind = 'forged'",
            "DELETE FROM call_events",
            "TRUNCATE call_events CASCADE",
        ):
            with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
                await conn.execute(statement)

    events = await attempts.events(attempt_id)
    assert [(e.kind, e.at, e.detail) for e in events][-1] == (
        "dtmf", T0, {"digit": "1", "note": "按键"},
    )  # fmt: skip
    assert len(events) == 2


async def test_final_row_requires_disposition_and_end_time(db_pool: asyncpg.Pool) -> None:
    """Set state 'final' by hand without disposition/ended_at. Expected: the CHECK
    constraint rejects it."""
    debtor_id, phone_id = await make_debtor(db_pool)
    attempt_id = uuid.uuid4()
    await AttemptRepository(db_pool).create_intent(
        attempt_id, debtor_id=debtor_id, phone_id=phone_id, campaign_id=None
    )
    async with db_pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE attempts SET state = 'final' WHERE id = $1", attempt_id)


# --- debtors, debts, campaigns ----------------------------------------------------------------


async def test_upsert_debtor_twice_keeps_one_row_and_phones_decrypt(db_pool: asyncpg.Pool) -> None:
    """Upsert debtor D-7 with two phones, then again with the phones swapped, a duplicate
    and a new name.

    Expected: same id, one debtors row, two phone rows re-ranked by the new order, masked
    copies shown, dial_number decrypts to E.164, and neither name nor number is stored
    in clear; the phone's blind index equals the cipher's.
    """
    debtors = DebtorRepository(db_pool, CIPHER)
    first = await debtors.upsert_debtor(
        external_id="D-7", name="张三丰", phones=["+8613800000001", "+8613900000002"],
        timezone="Asia/Shanghai", debts=[],
    )  # fmt: skip
    second = await debtors.upsert_debtor(
        external_id="D-7", name="张三",
        phones=["+8613900000002", "+8613800000001", "+8613900000002"],
        timezone="Asia/Urumqi", debts=[],
    )  # fmt: skip
    assert first == second

    phones = await debtors.phones_of(first)
    assert [(p.masked, p.rank) for p in phones] == [("+86139****0002", 1), ("+86138****0001", 2)]
    assert [await debtors.dial_number(p.id) for p in phones] == ["+8613900000002", "+8613800000001"]
    with pytest.raises(PhoneNotFound):
        await debtors.dial_number(999_999)

    async with db_pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM debtors WHERE external_id = 'D-7'")
        assert await conn.fetchval("SELECT count(*) FROM debtors") == 1
        stored = await conn.fetch("SELECT phone_enc, phone_bidx FROM debtor_phones")
    assert row["timezone"] == "Asia/Urumqi"
    assert CIPHER.decrypt(row["name_enc"], row["name_key_id"], purpose="debtor.name") == "张三"
    assert "张三".encode() not in row["name_enc"]
    assert all(b"13800000001" not in r["phone_enc"] for r in stored)
    assert CIPHER.blind_index("+8613800000001", purpose=PHONE_PURPOSE) in {
        bytes(r["phone_bidx"]) for r in stored
    }


async def test_upsert_rejects_bad_input_without_echoing_the_number(db_pool: asyncpg.Pool) -> None:
    """Upsert with a non-E.164 phone, then with an unknown time zone. Expected: ValueError;
    the phone error shows only a masked number; nothing is written."""
    debtors = DebtorRepository(db_pool, CIPHER)
    with pytest.raises(ValueError, match=r"not E\.164") as caught:
        await debtors.upsert_debtor(
            external_id="D-9", name="x", phones=["13800000001"], timezone="UTC", debts=[]
        )
    assert "13800000001" not in str(caught.value)
    with pytest.raises(ValueError, match="unknown time zone"):
        await debtors.upsert_debtor(
            external_id="D-9", name="x", phones=[], timezone="Mars/Base", debts=[]
        )
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM debtors") == 0


async def test_money_round_trips_as_exact_decimal(db_pool: asyncpg.Pool) -> None:
    """Store debts with amounts that floats cannot hold exactly, upsert one again.

    Expected: amounts come back as equal Decimals (no float), the re-upserted debt is
    updated in place, and the columns are numeric(14,2).
    """
    debtors = DebtorRepository(db_pool, CIPHER)
    big = Decimal("999999999999.99")
    debts = [
        DebtInput("ACC-1", Decimal("0.10"), Decimal("0.30"), 3, date(2026, 1, 31)),
        DebtInput("ACC-2", big, Decimal("1234567.89"), 0, None, "USD"),
    ]
    debtor_id = await debtors.upsert_debtor(
        external_id="D-1", name="李四", phones=[], timezone="Asia/Shanghai", debts=debts
    )
    await debtors.upsert_debtor(
        external_id="D-1", name="李四", phones=[], timezone="Asia/Shanghai",
        debts=[DebtInput("ACC-1", Decimal("0.10"), Decimal("0.20"), 4, date(2026, 1, 31))],
    )  # fmt: skip

    rows = await debtors.debts_of(debtor_id)
    stored = [(r.account_ref, r.principal, r.amount_due, r.overdue_days, r.currency) for r in rows]
    assert stored == [
        ("ACC-1", Decimal("0.10"), Decimal("0.20"), 4, "CNY"),
        ("ACC-2", big, Decimal("1234567.89"), 0, "USD"),
    ]
    assert all(isinstance(r.principal, Decimal) and isinstance(r.amount_due, Decimal) for r in rows)
    async with db_pool.acquire() as conn:
        types = await conn.fetch(
            "SELECT column_name, data_type, numeric_precision, numeric_scale"
            " FROM information_schema.columns WHERE table_name = 'debts'"
            " AND column_name IN ('principal', 'amount_due')"
        )
    assert {tuple(t.values())[1:] for t in types} == {("numeric", 14, 2)}


@pytest.mark.parametrize(
    ("principal", "message"),
    [
        (0.1, "finite Decimal"),
        (Decimal("1.005"), "more than 2 decimal places"),
        (Decimal("-1"), "within 0"),
        (Decimal("1000000000000"), "within 0"),
        (Decimal("NaN"), "finite Decimal"),
    ],
)
def test_debt_input_refuses_inexact_or_out_of_range_money(principal: object, message: str) -> None:
    """Build a DebtInput with a float, a third decimal, a negative, an overflow, NaN.
    Expected: ValueError before anything reaches the database."""
    with pytest.raises(ValueError, match=message):
        DebtInput("ACC", principal, Decimal("1"))  # type: ignore[arg-type]


async def test_campaign_create_get_and_status(db_pool: asyncpg.Pool) -> None:
    """Create a campaign, read it, set it running; try a bad status, an unknown id and a
    duplicate name.

    Expected: it starts as draft with its settings; set_status persists; ValueError,
    CampaignNotFound and IntegrityViolation respectively.
    """
    campaigns = CampaignRepository(db_pool)
    campaign_id = await campaigns.create("三月回款", "bot", {"max_attempts": 3, "note": "试点"})
    campaign = await campaigns.get(campaign_id)
    assert campaign is not None
    assert (campaign.name, campaign.strategy, campaign.status, campaign.settings) == (
        "三月回款", "bot", "draft", {"max_attempts": 3, "note": "试点"},
    )  # fmt: skip

    await campaigns.set_status(campaign_id, "running")
    assert (await campaigns.get(campaign_id)).status == "running"  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        await campaigns.set_status(campaign_id, "exploded")
    with pytest.raises(CampaignNotFound):
        await campaigns.set_status(404, "paused")
    assert await campaigns.get(404) is None
    with pytest.raises(IntegrityViolation):
        await campaigns.create("三月回款", "hold", {})


# --- pool and cluster -----------------------------------------------------------------------------


async def test_pool_to_a_closed_port_raises_database_unavailable() -> None:
    """Create a pool to a port where nothing listens. Expected: DatabaseUnavailable."""
    with pytest.raises(DatabaseUnavailable):
        await create_pool(f"postgresql://huilong@127.0.0.1:{free_tcp_port()}/huilong", timeout=2)


async def test_pool_sets_statement_timeout(db_pool: asyncpg.Pool) -> None:
    """Read the session settings of a pooled connection. Expected: statement_timeout 30s,
    TimeZone UTC, application_name huilong."""
    async with db_pool.acquire() as conn:
        settings = {
            name: await conn.fetchval(f"SHOW {name}")
            for name in ("statement_timeout", "TimeZone", "application_name")
        }
    assert settings == {
        "statement_timeout": "30s", "TimeZone": "UTC", "application_name": "huilong",
    }  # fmt: skip


def test_private_cluster_start_and_stop_are_idempotent(pg_cluster: PrivateCluster) -> None:
    """Start the running cluster again, stop it twice, start it, initialise it again.

    Expected: no errors; is_running follows each step; the cluster listens only on
    127.0.0.1 and the huilong database still exists afterwards.
    """
    pg_cluster.start()
    assert pg_cluster.is_running()
    pg_cluster.stop()
    assert not pg_cluster.is_running()
    pg_cluster.stop()
    pg_cluster.start()
    assert pg_cluster.is_running()
    pg_cluster.ensure_initialised()
    pg_cluster.create_database()

    async def check() -> tuple[str, str]:
        conn = await asyncpg.connect(pg_cluster.dsn)
        try:
            return (
                await conn.fetchval("SHOW listen_addresses"),
                await conn.fetchval("SELECT current_database()"),
            )
        finally:
            await conn.close()

    assert asyncio.run(check()) == ("127.0.0.1", "huilong")
