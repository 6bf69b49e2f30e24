"""Debtor import against a real PostgreSQL: bulk upsert, idempotence, atomicity, PII at
rest, key rotation and audited reveal. No mocks: every test gets a fresh migrated DB."""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path

import asyncpg
import pytest

from db.crypto import PiiCipher, add_active_key, load_or_create_keyfile
from db.debtors import DebtorRepository
from db.errors import IntegrityViolation
from db.pii import PiiNotFound, reveal, rotate_keys
from engine.portfolio.importer import ImportFileError, import_debtors
from tests.integration import conftest_db

pytestmark = pytest.mark.integration

pg_cluster = conftest_db.pg_cluster
pg_template = conftest_db.pg_template
db_pool = conftest_db.db_pool

HEADER = [
    "external_id", "name", "phone", "alt_phones", "id_number", "amount_due", "currency",
    "overdue_days", "due_date", "credit_rating", "broken_promises", "on_time_ratio",
    "timezone", "language", "branch",
]  # fmt: skip
GOOD_ID = "11010519491231002X"
GOOD = [
    ["A1", "张三", "13800138001", "13900139001", GOOD_ID, "1200.50", "", "45", "2024-01-31",
     "B", "2", "0.75", "", "", "上海"],
    ["A2", "李四", "+82 10-1234-5678", "", "", "99.00", "KRW", "3", "", "", "", "", "", "",
     "=HYPERLINK(\"x\")"],
    ["A3", "Wang Wu", "+1 650 253 0000", "", "E12345678", "0", "USD", "0", "", "", "", "",
     "America/New_York", "en", ""],
]  # fmt: skip
BAD = [
    ["B1", "坏电话", "12345", "", "", "1.00", "", "1", "", "", "", "", "", "", ""],
    ["B2", "负数", "13800138002", "", "", "-5", "", "1", "", "", "", "", "", "", ""],
    ["B3", "校验", "13800138003", "", GOOD_ID[:17] + "1", "1.00", "", "1", "", "", "", "", "",
     "", ""],
    ["D1", "重复一", "13800138004", "", "", "1.00", "", "1", "", "", "", "", "", "", ""],
    ["D1", "=重复二", "13800138005", "", "", "2.00", "", "1", "", "", "", "", "", "", ""],
]  # fmt: skip


def write_csv(path: Path, rows: list[list[str]], *, encoding: str = "utf-8") -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.fixture
def cipher(tmp_path: Path) -> PiiCipher:
    return load_or_create_keyfile(tmp_path / "keys.json")


async def table_versions(pool: asyncpg.Pool) -> dict[str, list[tuple[int, str]]]:
    """(id, xmin) of every row: any rewrite of a row changes its xmin."""
    versions = {}
    for table in ("debtors", "debtor_phones", "debts"):
        rows = await pool.fetch(f"SELECT id, xmin::text AS x FROM {table} ORDER BY id")
        versions[table] = [(row["id"], row["x"]) for row in rows]
    return versions


async def test_mixed_file_counts_rows_and_rejects_report(
    db_pool: asyncpg.Pool, cipher: PiiCipher, tmp_path: Path
) -> None:
    """Import 3 good rows and 5 bad ones (bad phone, negative amount, bad ID checksum, an
    external_id twice).

    Expected: 3 accepted, 5 rejected; debtors/phones/debts written with E.164-derived
    region, zone and language; the formula in an unknown column stored inert as an
    attribute; the rejects report (mode 0600) lists each bad row with its physical row
    number, field and reason, raw cells re-emitted inert; one import_runs row.
    """
    path = write_csv(tmp_path / "mixed.csv", GOOD + BAD)
    rejects = tmp_path / "rejects.csv"
    report = await import_debtors(db_pool, cipher, path, encoding=None, rejects_path=rejects)
    assert (report.accepted, report.updated, report.unchanged, report.rejected) == (3, 0, 0, 5)
    assert len(report.changed_debtor_ids) == 3
    assert report.file_error is None

    debtors = {
        row["external_id"]: row
        for row in await db_pool.fetch(
            "SELECT id, external_id, timezone, language, region, attributes, broken_promises,"
            " on_time_ratio::text AS ratio, credit_rating, row_hash FROM debtors"
        )
    }
    assert set(debtors) == {"A1", "A2", "A3"}
    a1, a2, a3 = debtors["A1"], debtors["A2"], debtors["A3"]
    assert (a1["timezone"], a1["language"], a1["region"]) == ("Asia/Shanghai", "zh", "CN")
    assert (a2["timezone"], a2["language"], a2["region"]) == ("Asia/Seoul", "ko", "KR")
    assert (a3["timezone"], a3["language"], a3["region"]) == ("America/New_York", "en", "US")
    assert (a1["broken_promises"], a1["ratio"], a1["credit_rating"]) == (2, "0.750", "B")
    assert "\"'=HYPERLINK" in a2["attributes"]
    assert all(row["row_hash"] is not None for row in debtors.values())

    phones = await db_pool.fetch(
        "SELECT masked, rank FROM debtor_phones WHERE debtor_id = $1 ORDER BY rank", a1["id"]
    )
    assert [(p["masked"], p["rank"]) for p in phones] == [
        ("+86138****8001", 1),
        ("+86139****9001", 2),
    ]
    debt = await db_pool.fetchrow(
        "SELECT account_ref, currency, principal::text AS p, amount_due::text AS a,"
        " overdue_days, due_date::text AS d FROM debts WHERE debtor_id = $1",
        a1["id"],
    )
    assert tuple(debt.values()) == ("A1", "CNY", "1200.50", "1200.50", 45, "2024-01-31")

    assert stat.S_IMODE(rejects.stat().st_mode) == 0o600
    with rejects.open(encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["row", "field", "reason", "raw"]
    by_row = {int(line[0]): line for line in lines[1:]}
    assert set(by_row) == {5, 6, 7, 8, 9}
    assert by_row[5][1] == "phone"
    assert by_row[6][1] == "amount_due" and "negative" in by_row[6][2]
    assert by_row[7][1] == "id_number" and "checksum" in by_row[7][2]
    for row_number in (8, 9):
        assert by_row[row_number][2] == "duplicate external_id in file (rows 8, 9)"
    assert ",'=重复二," in by_row[9][3]
    assert ",'-5," in by_row[6][3]

    run = await db_pool.fetchrow("SELECT * FROM import_runs")
    assert (run["kind"], run["file_name"], run["encoding"]) == ("debtors", "mixed.csv", "utf-8-sig")
    assert (run["accepted"], run["updated"], run["unchanged"], run["rejected"]) == (3, 0, 0, 5)
    assert run["finished_at"] is not None


async def test_reimport_same_file_changes_nothing(
    db_pool: asyncpg.Pool, cipher: PiiCipher, tmp_path: Path
) -> None:
    """Import a file, snapshot (id, xmin) of every debtor, phone and debt row, import the
    same file again.

    Expected: second report 0 new, 0 updated, 3 unchanged, no changed ids; every row keeps
    its xmin (no row was rewritten); facts_changed_at unchanged.
    """
    path = write_csv(tmp_path / "same.csv", GOOD)
    await import_debtors(db_pool, cipher, path, encoding=None, rejects_path=None)
    before = await table_versions(db_pool)
    stamps = await db_pool.fetch("SELECT facts_changed_at FROM debtors ORDER BY id")
    report = await import_debtors(db_pool, cipher, path, encoding=None, rejects_path=None)
    assert (report.accepted, report.updated, report.unchanged, report.rejected) == (0, 0, 3, 0)
    assert report.changed_debtor_ids == ()
    assert await table_versions(db_pool) == before
    assert await db_pool.fetch("SELECT facts_changed_at FROM debtors ORDER BY id") == stamps


async def test_changed_row_updates_its_debtor_only(
    db_pool: asyncpg.Pool, cipher: PiiCipher, tmp_path: Path
) -> None:
    """Import, then re-import with A1's amount and overdue days changed.

    Expected: 1 updated, 2 unchanged; changed ids = [A1's id]; A1's debt shows the new
    amount (principal kept), its facts_changed_at moved; other rows untouched.
    """
    await import_debtors(
        db_pool, cipher, write_csv(tmp_path / "v1.csv", GOOD), encoding=None, rejects_path=None
    )
    before = await table_versions(db_pool)
    changed = [row[:] for row in GOOD]
    changed[0][5], changed[0][7] = "800.00", "60"
    report = await import_debtors(
        db_pool, cipher, write_csv(tmp_path / "v2.csv", changed), encoding=None,
        rejects_path=None,
    )  # fmt: skip
    assert (report.accepted, report.updated, report.unchanged) == (0, 1, 2)
    a1_id = await db_pool.fetchval("SELECT id FROM debtors WHERE external_id = 'A1'")
    assert report.changed_debtor_ids == (a1_id,)
    debt = await db_pool.fetchrow(
        "SELECT principal::text AS p, amount_due::text AS a, overdue_days FROM debts"
        " WHERE debtor_id = $1",
        a1_id,
    )
    assert tuple(debt.values()) == ("1200.50", "800.00", 60)
    after = await table_versions(db_pool)
    assert [v for v in after["debtors"] if v[0] != a1_id] == [
        v for v in before["debtors"] if v[0] != a1_id
    ]
    assert after["debtor_phones"] == before["debtor_phones"]  # same phones, same ranks


async def test_database_failure_midway_leaves_nothing_written(
    db_pool: asyncpg.Pool, cipher: PiiCipher, tmp_path: Path
) -> None:
    """Add a CHECK constraint the debt of row 'BOOM' breaks, put BOOM in the third batch
    (batch size 2), import.

    Expected: IntegrityViolation; no debtor, phone, debt or import_runs row exists
    afterwards (the first two batches were rolled back too); no rejects file left behind.
    """
    await db_pool.execute(
        "ALTER TABLE debts ADD CONSTRAINT test_boom CHECK (account_ref <> 'BOOM')"
    )
    rows = [
        [f"C{i}", "名字", f"1380013{i:04d}", "", "", "1.00", "", "1", "", "", "", "", "", "", ""]
        for i in range(4)
    ]
    rows.append(["BOOM", "名字", "13800139999", "", "", "1.00", "", "1", "", "", "", "", "", "",
                 ""])  # fmt: skip
    path = write_csv(tmp_path / "boom.csv", [*rows, ["X", "", "", "", "", "", "", "", "", "",
                                                     "", "", "", "", ""]])  # fmt: skip
    rejects = tmp_path / "rejects.csv"
    with pytest.raises(IntegrityViolation, match="test_boom"):
        await import_debtors(
            db_pool, cipher, path, encoding=None, rejects_path=rejects, batch_size=2
        )
    for table in ("debtors", "debtor_phones", "debts", "import_runs"):
        assert await db_pool.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    assert not [name for name in os.listdir(tmp_path) if "rejects" in name]


async def test_gb18030_file_imported(
    db_pool: asyncpg.Pool, cipher: PiiCipher, tmp_path: Path
) -> None:
    """Import the good rows encoded as GB18030, detected; then the same bytes forced as
    UTF-8.

    Expected: detected run imports 3 rows and the name decrypts to the original Chinese;
    the forced wrong encoding raises ImportFileError saying it cannot decode, and records
    a run with the error.
    """
    path = write_csv(tmp_path / "gb.csv", GOOD, encoding="gb18030")
    report = await import_debtors(db_pool, cipher, path, encoding=None, rejects_path=None)
    assert report.accepted == 3
    a1_id = await db_pool.fetchval("SELECT id FROM debtors WHERE external_id = 'A1'")
    name = await reveal(
        db_pool, cipher, debtor_id=a1_id, field="name", actor="test", reason="verify import"
    )
    assert name == "张三"
    with pytest.raises(ImportFileError, match="cannot decode") as caught:
        await import_debtors(db_pool, cipher, path, encoding="utf-8", rejects_path=None)
    assert caught.value.report.file_error is not None
    assert (
        await db_pool.fetchval(
            "SELECT count(*) FROM import_runs WHERE file_error LIKE 'cannot decode%'"
        )
        == 1
    )


async def test_unreadable_files_raise_import_file_error(
    db_pool: asyncpg.Pool, cipher: PiiCipher, tmp_path: Path
) -> None:
    """Import: a missing file, bytes that are neither UTF-8 nor GB18030, a header without
    the phone column.

    Expected: ImportFileError each time with the reason; nothing written to debtors.
    """
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"external_id,name\n\xff\xff\xff")
    no_phone = tmp_path / "nophone.csv"
    no_phone.write_text("external_id,name,amount_due,overdue_days\nA,b,1,1\n")
    cases = [
        (tmp_path / "absent.csv", "cannot open absent.csv"),
        (junk, r"cannot decode junk\.csv as UTF-8 or GB18030 \(byte offset \d+\)"),
        (no_phone, "lacks required columns: phone"),
    ]
    for path, message in cases:
        with pytest.raises(ImportFileError, match=message):
            await import_debtors(db_pool, cipher, path, encoding=None, rejects_path=None)
    assert await db_pool.fetchval("SELECT count(*) FROM debtors") == 0


async def test_ten_megabyte_line_rejected_rest_imported(
    db_pool: asyncpg.Pool, cipher: PiiCipher, tmp_path: Path
) -> None:
    """A file with a good row, a 10 MB line, and another good row.

    Expected: 2 accepted, 1 rejected on row 3 as too long; the reject's raw cell in the
    report is truncated (the report stays small).
    """
    path = tmp_path / "huge.csv"
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerow(GOOD[0])
    buffer.write("H1,name," + "1" * (10 * 1024 * 1024) + ",,,1,,1,,,,,,,\n")
    writer.writerow(GOOD[1])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    report = await import_debtors(db_pool, cipher, path, encoding=None, rejects_path=rejects)
    assert (report.accepted, report.rejected) == (2, 1)
    assert rejects.stat().st_size < 10_000
    with rejects.open(encoding="utf-8-sig", newline="") as handle:
        (_, reject) = list(csv.reader(handle))
    assert reject[0] == "3" and "longer than" in reject[2]


async def test_pii_never_stored_in_clear(
    db_pool: asyncpg.Pool, cipher: PiiCipher, tmp_path: Path
) -> None:
    """Import the good rows, then dump every column of debtors, debtor_phones and debts as
    text (bytea as hex).

    Expected: no phone's national digits, no name and no ID number appear, neither as text
    nor as the hex of their UTF-8 bytes; the bulk-imported phone still dials (decrypts
    through DebtorRepository with the same purpose).
    """
    await import_debtors(
        db_pool, cipher, write_csv(tmp_path / "p.csv", GOOD), encoding=None, rejects_path=None
    )
    dump = ""
    for table in ("debtors", "debtor_phones", "debts"):
        dump += "\n".join(await db_pool.fetchval(
            f"SELECT coalesce(array_agg(t::text), '{{}}') FROM {table} t"
        ))  # fmt: skip
    secrets = ["13800138001", "13900139001", "1012345678", "6502530000", GOOD_ID, "E12345678",
               "张三", "李四", "Wang Wu"]  # fmt: skip
    for secret in secrets:
        assert secret not in dump
        assert secret.encode().hex() not in dump
    a1_id = await db_pool.fetchval("SELECT id FROM debtors WHERE external_id = 'A1'")
    phone_id = await db_pool.fetchval(
        "SELECT id FROM debtor_phones WHERE debtor_id = $1 AND rank = 1", a1_id
    )
    assert await DebtorRepository(db_pool, cipher).dial_number(phone_id) == "+8613800138001"


async def test_key_rotation_reencrypts_everything_once(
    db_pool: asyncpg.Pool, cipher: PiiCipher, tmp_path: Path
) -> None:
    """Import 3 debtors (3 names, 2 ID numbers, 4 phones), add a new active key to the
    keyfile, reload, rotate with batch size 2, rotate again, re-import the file.

    Expected: the keyfile stays 0600 and keeps the old key; first rotation rewrites 9
    values, the second 0; every key id is the new one; values decrypt to the originals;
    the re-import is all unchanged (the row hash does not depend on the encryption key).
    """
    keyfile = tmp_path / "keys.json"
    path = write_csv(tmp_path / "r.csv", GOOD)
    await import_debtors(db_pool, cipher, path, encoding=None, rejects_path=None)
    old_key_id = cipher.active_key_id
    new_key_id = add_active_key(keyfile)
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    rotated = load_or_create_keyfile(keyfile)
    assert rotated.active_key_id == new_key_id != old_key_id

    assert await rotate_keys(db_pool, rotated, batch_size=2) == 9
    assert await rotate_keys(db_pool, rotated, batch_size=2) == 0
    key_ids = await db_pool.fetch(
        "SELECT name_key_id AS k FROM debtors UNION SELECT id_number_key_id FROM debtors"
        " WHERE id_number_key_id IS NOT NULL UNION SELECT key_id FROM debtor_phones"
    )
    assert {row["k"] for row in key_ids} == {new_key_id}
    a1_id = await db_pool.fetchval("SELECT id FROM debtors WHERE external_id = 'A1'")
    assert (
        await reveal(
            db_pool, rotated, debtor_id=a1_id, field="id_number", actor="t", reason="check"
        )
        == GOOD_ID
    )
    report = await import_debtors(db_pool, rotated, path, encoding=None, rejects_path=None)
    assert (report.unchanged, report.updated) == (3, 0)


async def test_reveal_is_audited_and_audit_is_append_only(
    db_pool: asyncpg.Pool, cipher: PiiCipher, tmp_path: Path
) -> None:
    """Reveal A1's phone with a reason; then try an empty reason, a debtor without an ID
    number, and an UPDATE and a DELETE of the audit row.

    Expected: the phone comes back in E.164 and one pii_audit row records actor, action
    'reveal', subject 'debtor:<id>/phone:<id>', field and reason; the empty reason raises
    ValueError and the missing value PiiNotFound, neither adding a row; the audit row
    cannot be changed or removed.
    """
    await import_debtors(
        db_pool, cipher, write_csv(tmp_path / "a.csv", GOOD), encoding=None, rejects_path=None
    )
    a1_id = await db_pool.fetchval("SELECT id FROM debtors WHERE external_id = 'A1'")
    a2_id = await db_pool.fetchval("SELECT id FROM debtors WHERE external_id = 'A2'")
    phone = await reveal(
        db_pool, cipher, debtor_id=a1_id, field="phone", actor="agent:7", reason="callback"
    )
    assert phone == "+8613800138001"
    with pytest.raises(ValueError, match="reason"):
        await reveal(db_pool, cipher, debtor_id=a1_id, field="name", actor="agent:7", reason=" ")
    with pytest.raises(PiiNotFound):
        await reveal(
            db_pool, cipher, debtor_id=a2_id, field="id_number", actor="agent:7", reason="x"
        )
    rows = await db_pool.fetch("SELECT actor, action, subject, field, reason FROM pii_audit")
    assert len(rows) == 1
    assert rows[0]["actor"] == "agent:7" and rows[0]["action"] == "reveal"
    assert rows[0]["subject"].startswith(f"debtor:{a1_id}/phone:")
    assert (rows[0]["field"], rows[0]["reason"]) == ("phone", "callback")
    for statement in ("UPDATE pii_audit SET reason = 'x'", "DELETE FROM pii_audit"):
        with pytest.raises(asyncpg.RestrictViolationError):
            await db_pool.execute(statement)
