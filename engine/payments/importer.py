"""`huilong import payments FILE`: read, validate and record a core bank's payments file.

The same shape as the debtor import (engine.portfolio.importer). A first pass proves the
file decodes (UTF-8 with or without BOM, or GB18030) and finds references that occur
more than once — all their rows are rejected, since it is ambiguous which is right. The
second validates batches in a worker thread and records them, all in one database
transaction: a failure leaves nothing written (and no rejects report). Each rejected row
— bad field, repeated reference, unknown debtor, or a reference already recorded with
other content — goes to the rejects report with its row, field and reason. Importing the
same file again records nothing new. Nothing from a row is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from db.payments import (
    IMPORT_KIND,
    NewPayment,
    Outcome,
    finish_import_run,
    record_payments,
    start_import_run,
)
from db.pool import transaction
from db.portfolio_import import record_failed_run
from engine.payments.rows import REQUIRED_COLUMNS, PaymentRow, validate_payment_row
from engine.portfolio.csv_rows import (
    BadRecord,
    CsvHeader,
    FileError,
    RawRecord,
    read_records,
    scan_file,
)
from engine.portfolio.importer import RejectsFile
from engine.portfolio.validate import RowRejected

log = logging.getLogger(__name__)

BATCH_ROWS = 5_000
_MAX_LISTED_DUPLICATES = 10


@dataclass(frozen=True, slots=True)
class PaymentImportReport:
    created: int
    duplicates: int  # already recorded, identical: nothing written
    rejected: int  # every rejected row, the two below included
    conflicts: int  # the reference is recorded with other content
    unknown_debtors: int
    rejects_path: Path | None
    file_error: str | None = None


class PaymentFileError(Exception):
    """The file could not be read at all (nothing was imported); the message says why."""


async def import_payments(
    pool: asyncpg.Pool,
    path: Path,
    *,
    encoding: str | None = None,
    rejects_path: Path | None = None,
    batch_size: int = BATCH_ROWS,
    now: datetime | None = None,
) -> PaymentImportReport:
    """Import `path`; bad rows go to `rejects_path` (CSV, mode 0600), the rest commit.
    `now` is the clock payments may not be later than (default: the real one).

    Raises PaymentFileError when the file cannot be read, `db` errors when the database
    fails (then nothing was written).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    started_at = datetime.now(UTC)
    try:
        scan = await asyncio.to_thread(scan_file, path, encoding, "reference", REQUIRED_COLUMNS)
    except FileError as exc:
        await record_failed_run(pool, kind=IMPORT_KIND, file_name=path.name,
                                started_at=started_at, error=str(exc))
        raise PaymentFileError(str(exc)) from None
    counts = _Counts()
    with RejectsFile(rejects_path) as rejects, path.open("rb") as stream:
        try:
            header, records = read_records(stream, encoding=scan.encoding, name=path.name,
                                           required=REQUIRED_COLUMNS)
            batches = _Batches(records, header, scan.duplicates, now or started_at, batch_size)
            async with transaction(pool) as conn:
                run_id = await start_import_run(conn, file_name=path.name,
                                                encoding=scan.encoding, started_at=started_at)
                while (batch := await asyncio.to_thread(batches.next_batch)) is not None:
                    await _record(conn, batch, run_id, counts, rejects)
                await finish_import_run(conn, run_id, accepted=counts.created,
                                        unchanged=counts.duplicates, rejected=counts.rejected)
        except FileError as exc:  # the file changed between the two passes
            raise PaymentFileError(str(exc)) from None
        rejects.commit()
    log.info("imported payments %s: %d new, %d already recorded, %d rejected",
             path.name, counts.created, counts.duplicates, counts.rejected)
    return PaymentImportReport(counts.created, counts.duplicates, counts.rejected,
                               counts.conflicts, counts.unknown_debtors, rejects_path)


@dataclass(slots=True)
class _Counts:
    created: int = 0
    duplicates: int = 0
    rejected: int = 0
    conflicts: int = 0
    unknown_debtors: int = 0


@dataclass(frozen=True, slots=True)
class _Valid:
    line: int
    raw: Mapping[str, str]
    payment: NewPayment


@dataclass(frozen=True, slots=True)
class _Batch:
    valid: list[_Valid]
    rejected: list[RowRejected] = field(default_factory=list)


async def _record(conn: asyncpg.Connection, batch: _Batch, run_id: int, counts: _Counts,
                  rejects: RejectsFile) -> None:
    recorded = await record_payments(conn, [v.payment for v in batch.valid], source="file",
                                     import_run_id=run_id)
    rejected = list(batch.rejected)
    for row, result in zip(batch.valid, recorded, strict=True):
        match result.outcome:
            case Outcome.CREATED:
                counts.created += 1
            case Outcome.DUPLICATE:
                counts.duplicates += 1
            case Outcome.CONFLICT:
                counts.conflicts += 1
                rejected.append(RowRejected(row.line, "reference", result.detail, row.raw))
            case Outcome.UNKNOWN_DEBTOR:
                counts.unknown_debtors += 1
                rejected.append(RowRejected(row.line, "external_id", result.detail, row.raw))
    counts.rejected += len(rejected)
    # A batch is a run of consecutive rows: sorted per batch, the report is in file order.
    for item in sorted(rejected, key=lambda r: r.row_number):
        rejects.write(item)


class _Batches:
    """Second pass, run in a worker thread: records -> validated payments, in batches."""

    def __init__(self, records: Iterator[RawRecord | BadRecord], header: CsvHeader,
                 duplicates: Mapping[str, list[int]], now: datetime, batch_size: int) -> None:
        self._records = records
        self._header = header
        self._duplicates = duplicates
        self._now = now
        self._batch_size = batch_size

    def next_batch(self) -> _Batch | None:
        batch = _Batch([])
        for record in self._records:
            result = self._validate(record)
            if isinstance(result, RowRejected):
                batch.rejected.append(result)
            else:
                batch.valid.append(result)
            if len(batch.valid) + len(batch.rejected) >= self._batch_size:
                break
        return batch if batch.valid or batch.rejected else None

    def _validate(self, record: RawRecord | BadRecord) -> _Valid | RowRejected:
        if isinstance(record, BadRecord):
            return RowRejected(record.line, record.field, record.reason, self._named(record))
        lines = self._duplicates.get(record.values["reference"].strip())
        if lines is not None:
            listed = ", ".join(str(line) for line in lines[:_MAX_LISTED_DUPLICATES])
            more = ", …" if len(lines) > _MAX_LISTED_DUPLICATES else ""
            return RowRejected(record.line, "reference",
                               f"duplicate reference in file (rows {listed}{more})",
                               record.values)
        row = validate_payment_row(record.line, record.values, now=self._now)
        if isinstance(row, RowRejected):
            return row
        return _Valid(record.line, record.values, _new_payment(row))

    def _named(self, record: BadRecord) -> dict[str, str]:
        columns = self._header.columns
        named = dict(zip(columns, record.cells, strict=False))
        for extra, cell in enumerate(record.cells[len(columns):], start=1):
            named[f"_extra{extra}"] = cell
        return named


def _new_payment(row: PaymentRow) -> NewPayment:
    return NewPayment(row.reference, row.external_id, row.amount, row.currency,
                      row.paid_at_utc, row.paid_on)
