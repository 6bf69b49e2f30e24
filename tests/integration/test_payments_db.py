"""Payments against a real PostgreSQL (no Asterisk): the file import's rejects report,
idempotence by reference, conflicts never overwritten, all-or-nothing writes, encodings,
and the webhook's store (one transaction per request, concurrent replays)."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import stat
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from db.crypto import load_or_create_keyfile
from db.debtors import DebtorRepository
from db.errors import IntegrityViolation
from db.payments import NewPayment, Outcome, PaymentRepository
from engine.payments.importer import PaymentFileError, import_payments

NOW = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)
HEADER = ["reference", "external_id", "amount", "currency", "paid_at", "channel"]
GOOD = [
    ["TX-1", "A1", "100.00", "", "2024-05-01T10:15:00+08:00", "银行转账"],
    ["TX-2", "A1", "50", "CNY", "2024-05-01", "=1+1"],  # a date alone: A1's day (Shanghai)
    ["TX-3", "B1", "12.34", "usd", "2024-04-30T23:59:59Z", ""],
]
BAD = [
    ["TX-4", "A1", "0", "", "2024-05-01", ""],  # row 5: amount
    ["TX-5", "A1", "1.00", "", "2024-05-01T10:00", ""],  # row 6: no offset
    ["TX-6", "NOBODY", "1.00", "", "2024-05-01", ""],  # row 7: unknown debtor
    ["TX-7", "A1", "1.00", "", "2024-05-01", ""],  # rows 8, 9: the same reference twice
    ["TX-7", "A1", "1.00", "", "2024-05-01", ""],
    ["=TX-8", "A1", "1.00", "", "2024-05-01", ""],  # row 10: a formula as the reference
]


def write_csv(path: Path, rows: list[list[str]], *, encoding: str = "utf-8",
              header: list[str] = HEADER) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.fixture
async def debtors(db_pool: asyncpg.Pool, tmp_path: Path) -> dict[str, int]:
    """A1 in Shanghai, B1 in New York."""
    repo = DebtorRepository(db_pool, load_or_create_keyfile(tmp_path / "keys.json"))
    return {
        "A1": await repo.upsert_debtor(external_id="A1", name="张三", phones=["+8613800000001"],
                                       timezone="Asia/Shanghai", debts=[]),
        "B1": await repo.upsert_debtor(external_id="B1", name="Bo", phones=["+16502530000"],
                                       timezone="America/New_York", debts=[]),
    }


async def stored(pool: asyncpg.Pool) -> dict[str, asyncpg.Record]:
    rows = await pool.fetch("SELECT p.*, xmin::text AS version FROM payments p")
    return {row["reference"]: row for row in rows}


async def test_mixed_file_rejects_each_bad_row_and_commits_the_rest(
        db_pool: asyncpg.Pool, debtors: dict[str, int], tmp_path: Path) -> None:
    """Steps: import 3 good rows and 6 bad ones (zero amount, time without offset,
    unknown debtor, a reference twice, a formula as reference).
    Expected: 3 new, 6 rejected (1 unknown debtor); Decimal amounts; the date-only payment
    at 00:00 in the debtor's zone (16:00 UTC the day before); the rejects report (0600)
    names row, field and reason, in file order; one import_runs row with the counts that
    the payments point at."""
    path = write_csv(tmp_path / "pay.csv", GOOD + BAD)
    rejects = tmp_path / "rejects.csv"
    report = await import_payments(db_pool, path, rejects_path=rejects, now=NOW)
    assert (report.created, report.duplicates, report.rejected, report.conflicts,
            report.unknown_debtors) == (3, 0, 6, 0, 1)
    rows = await stored(db_pool)
    assert set(rows) == {"TX-1", "TX-2", "TX-3"}
    assert rows["TX-1"]["amount"] == Decimal("100.00")
    assert rows["TX-1"]["paid_at"] == datetime(2024, 5, 1, 2, 15, tzinfo=UTC)
    assert rows["TX-2"]["paid_at"] == datetime(2024, 4, 30, 16, 0, tzinfo=UTC)
    assert (rows["TX-3"]["debtor_id"], rows["TX-3"]["currency"]) == (debtors["B1"], "USD")
    assert {r["source"] for r in rows.values()} == {"file"}
    run = await db_pool.fetchrow("SELECT * FROM import_runs")
    assert (run["kind"], run["accepted"], run["unchanged"], run["rejected"]) == (
        "payments", 3, 0, 6)
    assert run["finished_at"] is not None
    assert {r["import_run_id"] for r in rows.values()} == {run["id"]}

    assert stat.S_IMODE(os.stat(rejects).st_mode) == 0o600
    with rejects.open(encoding="utf-8-sig", newline="") as handle:
        listed = list(csv.reader(handle))
    assert listed[0] == ["row", "field", "reason", "raw"]
    assert [(r[0], r[1]) for r in listed[1:]] == [
        ("5", "amount"), ("6", "paid_at"), ("7", "external_id"), ("8", "reference"),
        ("9", "reference"), ("10", "reference")]
    assert "no debtor with this external_id" in listed[3][2]
    assert "duplicate reference in file (rows 8, 9)" in listed[4][2]
    assert listed[6][3].startswith("'")  # the raw row re-emitted inert


async def test_the_same_file_twice_records_nothing_new(
        db_pool: asyncpg.Pool, debtors: dict[str, int], tmp_path: Path) -> None:
    """Steps: import the mixed file twice.
    Expected: the second time 0 new, 3 already recorded, the same 6 rejected; no payment
    row rewritten (xmin unchanged); two import runs."""
    path = write_csv(tmp_path / "pay.csv", GOOD + BAD)
    await import_payments(db_pool, path, now=NOW)
    before = {ref: row["version"] for ref, row in (await stored(db_pool)).items()}
    again = await import_payments(db_pool, path, now=NOW)
    assert (again.created, again.duplicates, again.rejected) == (0, 3, 6)
    assert {ref: row["version"] for ref, row in (await stored(db_pool)).items()} == before
    assert await db_pool.fetchval("SELECT count(*) FROM import_runs") == 2


async def test_a_reference_with_other_content_is_a_conflict_not_an_update(
        db_pool: asyncpg.Pool, debtors: dict[str, int], tmp_path: Path) -> None:
    """Steps: import TX-1 (100.00); then a file with TX-1 at 99.00 and another instant,
    and TX-9 new.
    Expected: TX-1 rejected as a conflict (field reference, naming amount and paid_at),
    the stored TX-1 unchanged; TX-9 recorded."""
    await import_payments(db_pool, write_csv(tmp_path / "a.csv", GOOD[:1]), now=NOW)
    rejects = tmp_path / "b.rejects.csv"
    changed = [["TX-1", "A1", "99.00", "", "2024-05-01T11:00:00+08:00", ""],
               ["TX-9", "A1", "5.00", "", "2024-05-01", ""]]
    report = await import_payments(db_pool, write_csv(tmp_path / "b.csv", changed),
                                   rejects_path=rejects, now=NOW)
    assert (report.created, report.rejected, report.conflicts) == (1, 1, 1)
    rows = await stored(db_pool)
    assert rows["TX-1"]["amount"] == Decimal("100.00")
    line = rejects.read_text(encoding="utf-8-sig").splitlines()[1]
    assert line.startswith("2,reference,") and "another amount, paid_at" in line


async def test_database_failure_midway_leaves_nothing_written(
        db_pool: asyncpg.Pool, debtors: dict[str, int], tmp_path: Path) -> None:
    """Steps: a CHECK that payment 'BOOM' breaks; BOOM in the third batch (batch size 2).
    Expected: IntegrityViolation; no payment and no import run remain; no rejects file."""
    await db_pool.execute(
        "ALTER TABLE payments ADD CONSTRAINT test_boom CHECK (reference <> 'BOOM')")
    rows = [[f"C{i}", "A1", "1.00", "", "2024-05-01", ""] for i in range(4)]
    rows.append(["BOOM", "A1", "1.00", "", "2024-05-01", ""])
    rows.append(["BAD", "A1", "x", "", "2024-05-01", ""])
    rejects = tmp_path / "rejects.csv"
    with pytest.raises(IntegrityViolation, match="test_boom"):
        await import_payments(db_pool, write_csv(tmp_path / "boom.csv", rows),
                              rejects_path=rejects, batch_size=2, now=NOW)
    for table in ("payments", "import_runs"):
        assert await db_pool.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    assert not [name for name in os.listdir(tmp_path) if "rejects" in name]


async def test_encodings_and_unreadable_files(
        db_pool: asyncpg.Pool, debtors: dict[str, int], tmp_path: Path) -> None:
    """Steps: the good rows as GB18030; as UTF-8 with a BOM (new references); a file
    without the amount column; bytes that are no text.
    Expected: both encodings import; the other two raise PaymentFileError saying why and
    are recorded as failed runs; nothing else written."""
    gb = write_csv(tmp_path / "gb.csv", GOOD, encoding="gb18030")
    assert (await import_payments(db_pool, gb, now=NOW)).created == 3
    bom_rows = [[f"U{n}", *row[1:]] for n, row in enumerate(GOOD)]
    bom = write_csv(tmp_path / "bom.csv", bom_rows, encoding="utf-8-sig")
    assert (await import_payments(db_pool, bom, now=NOW)).created == 3
    headless = write_csv(tmp_path / "h.csv", [["TX-1", "A1", "2024-05-01"]],
                         header=["reference", "external_id", "paid_at"])
    with pytest.raises(PaymentFileError, match="lacks required columns: amount"):
        await import_payments(db_pool, headless, now=NOW)
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\xff\xfe\x00\x81\x00" * 100)
    with pytest.raises(PaymentFileError, match="cannot decode"):
        await import_payments(db_pool, garbage, now=NOW)
    assert await db_pool.fetchval("SELECT count(*) FROM payments") == 6
    assert await db_pool.fetchval(
        "SELECT count(*) FROM import_runs WHERE file_error IS NOT NULL") == 2


def api_payment(reference: str, amount: str = "10.00", external_id: str = "A1") -> NewPayment:
    return NewPayment(reference, external_id, Decimal(amount), "CNY",
                      datetime(2024, 5, 1, 2, 0, tzinfo=UTC), None)


async def test_webhook_batches_are_all_or_nothing(
        db_pool: asyncpg.Pool, debtors: dict[str, int]) -> None:
    """Steps: record [W1, W2]; replay it; record [W3, W1 at another amount]; record
    [W4, W5 of an unknown debtor].
    Expected: created ×2, then duplicate ×2 (same ids); the conflict and the unknown
    debtor refuse their whole batch (committed False, W3 and W4 not stored); source api."""
    repo = PaymentRepository(db_pool)
    first = await repo.record_batch([api_payment("W1"), api_payment("W2")])
    assert first.committed and [r.outcome for r in first.recorded] == [Outcome.CREATED] * 2
    replay = await repo.record_batch([api_payment("W1"), api_payment("W2")])
    assert [r.outcome for r in replay.recorded] == [Outcome.DUPLICATE] * 2
    assert [r.payment_id for r in replay.recorded] == [r.payment_id for r in first.recorded]
    conflict = await repo.record_batch([api_payment("W3"), api_payment("W1", "11.00")])
    assert not conflict.committed
    assert [r.outcome for r in conflict.recorded] == [Outcome.CREATED, Outcome.CONFLICT]
    unknown = await repo.record_batch([api_payment("W4"), api_payment("W5", external_id="Z")])
    assert not unknown.committed and unknown.recorded[1].outcome is Outcome.UNKNOWN_DEBTOR
    rows = await stored(db_pool)
    assert set(rows) == {"W1", "W2"}
    assert {r["source"] for r in rows.values()} == {"api"}
    assert {r["import_run_id"] for r in rows.values()} == {None}


async def test_concurrent_replays_record_once(
        db_pool: asyncpg.Pool, debtors: dict[str, int]) -> None:
    """Steps: the same payment sent 4 times at once (the bank retrying).
    Expected: exactly one created, three duplicates, one row."""
    repo = PaymentRepository(db_pool)
    results = await asyncio.gather(*(repo.record_batch([api_payment("R1")]) for _ in range(4)))
    outcomes = sorted(r.recorded[0].outcome.value for r in results)
    assert outcomes == ["created", "duplicate", "duplicate", "duplicate"]
    assert await db_pool.fetchval("SELECT count(*) FROM payments") == 1
