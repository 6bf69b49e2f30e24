"""`huilong import debtors FILE`: read, validate, encrypt and bulk-upsert a bank's export.

Two passes over the file. The first (bytes only, then the external ids) proves the file
decodes and finds ids that occur more than once — all their rows are rejected, since it is
ambiguous which is right. The second validates (and, on a first import, encrypts)
batches in a worker thread while the database upserts the previous batch, all in one
database transaction: a failure leaves nothing written. Nothing from a row (names, phones,
ids) is ever logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import logging
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import asyncpg

from db.crypto import PiiCipher
from db.portfolio_import import (
    BulkImport,
    PreparedBatch,
    bulk_import,
    prepare_batch,
    record_failed_run,
    row_hashes,
)
from engine.portfolio.csv_rows import (
    BadRecord,
    CsvHeader,
    FileError,
    RawRecord,
    read_records,
    scan_file,
)
from engine.portfolio.validate import DebtorRow, RowRejected, ValidRow, validate_row_fast

log = logging.getLogger(__name__)

BATCH_ROWS = 50_000
IMPORT_KIND = "debtors"
REJECTS_HEADER = ("row", "field", "reason", "raw")
# A rejected 10 MB field is reported by its start: enough to find it in the file.
MAX_REJECT_CELL_CHARS = 1000
_MAX_LISTED_DUPLICATES = 10
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class ImportReport:
    accepted: int  # new debtors
    updated: int
    unchanged: int
    rejected: int
    rejects_path: Path | None
    changed_debtor_ids: tuple[int, ...]
    file_error: str | None = None


class ImportFileError(Exception):
    """The file could not be read at all (nothing was imported); the message says why."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


async def import_debtors(
    pool: asyncpg.Pool,
    cipher: PiiCipher,
    path: Path,
    *,
    encoding: str | None = None,
    rejects_path: Path | None = None,
    batch_size: int = BATCH_ROWS,
) -> ImportReport:
    """Import `path`; bad rows go to `rejects_path` (CSV, mode 0600), the rest commit.

    Raises ImportFileError when the file cannot be read at all, and `db` errors when the
    database fails (then nothing was written).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    started_at = datetime.now(UTC)
    try:
        scan = await asyncio.to_thread(scan_file, path, encoding, "external_id")
    except FileError as exc:
        message = str(exc)
        await record_failed_run(
            pool, kind=IMPORT_KIND, file_name=path.name, started_at=started_at, error=message
        )
        report = ImportReport(0, 0, 0, 0, None, (), file_error=message)
        raise ImportFileError(message, report) from None

    with RejectsFile(rejects_path) as rejects, path.open("rb") as stream:
        header, records = read_records(stream, encoding=scan.encoding, name=path.name)
        source = _BatchSource(records, header, scan.duplicates, cipher, rejects, batch_size)
        async with bulk_import(pool) as bulk:
            await _pump(source, bulk, cipher)
            await bulk.record_run(
                kind=IMPORT_KIND,
                file_name=path.name,
                encoding=scan.encoding,
                started_at=started_at,
                rejected=source.rejected,
            )
        rejects.commit()
    counts = bulk.counts
    log.info(
        "imported %s: %d new, %d updated, %d unchanged, %d rejected",
        path.name,
        counts.inserted,
        counts.updated,
        counts.unchanged,
        source.rejected,
    )
    return ImportReport(
        accepted=counts.inserted,
        updated=counts.updated,
        unchanged=counts.unchanged,
        rejected=source.rejected,
        rejects_path=rejects_path,
        changed_debtor_ids=tuple(counts.changed_ids),
    )


async def _pump(source: _BatchSource, bulk: BulkImport, cipher: PiiCipher) -> None:
    """Validate (and maybe encrypt) batch n+1 in a thread while the database upserts
    batch n. COPY runs with no thread competing for the GIL (it needs the event loop).

    Rows whose stored hash matches are neither written nor, when it can be known in
    time, encrypted: encryption runs ahead with validation only while most rows of the
    previous batch were new (a first import); on a re-import it waits for the check.
    """
    speculate = False
    pending = asyncio.ensure_future(asyncio.to_thread(source.next_batch, speculate))
    upserting: asyncio.Future[None] | None = None
    try:
        while True:
            batch = await pending
            if upserting is not None:
                await upserting
                upserting = None
            if batch is None:
                return
            # Rows whose stored hash matches are neither encrypted nor written.
            same = await bulk.unchanged([row.external_id for row in batch.rows], batch.hashes)
            if batch.prepared is not None:
                prepared = batch.prepared.without(same)
            else:
                todo = [
                    (r, h)
                    for r, h in zip(batch.rows, batch.hashes, strict=True)
                    if r.external_id not in same
                ]
                rows, hashes = zip(*todo, strict=True) if todo else ((), ())
                prepared = await asyncio.to_thread(prepare_batch, cipher, rows, hashes)
            speculate = len(same) * 2 < len(batch.rows)
            staged = await bulk.stage(prepared)
            if staged:
                upserting = asyncio.ensure_future(bulk.upsert(len(prepared.debtors)))
            pending = asyncio.ensure_future(asyncio.to_thread(source.next_batch, speculate))
    finally:
        for future in (pending, upserting):
            if future is not None and not future.done():
                # The thread cannot be interrupted; let it finish before the file closes.
                await asyncio.wait([future])
            if future is not None and future.done() and not future.cancelled():
                future.exception()  # retrieved: the error that matters is already raised


@dataclass(frozen=True, slots=True)
class _Validated:
    rows: list[ValidRow | DebtorRow]
    hashes: list[bytes]
    prepared: PreparedBatch | None  # all rows encrypted ahead, when speculating


class _BatchSource:
    """Second pass, run in a worker thread: records -> validated rows -> prepared batches."""

    def __init__(
        self,
        records: Iterator[RawRecord | BadRecord],
        header: CsvHeader,
        duplicates: Mapping[str, list[int]],
        cipher: PiiCipher,
        rejects: RejectsFile,
        batch_size: int,
    ) -> None:
        self._records = records
        self._header = header
        self._duplicates = duplicates
        self._cipher = cipher
        self._rejects = rejects
        self._batch_size = batch_size
        self.rejected = 0

    def next_batch(self, encrypt_ahead: bool) -> _Validated | None:
        rows: list[ValidRow | DebtorRow] = []
        for record in self._records:
            result = self._validate(record)
            if isinstance(result, RowRejected):
                self.rejected += 1
                self._rejects.write(result)
                continue
            rows.append(result)
            if len(rows) >= self._batch_size:
                break
        if not rows:
            return None
        hashes = row_hashes(self._cipher, rows)
        prepared = prepare_batch(self._cipher, rows, hashes) if encrypt_ahead else None
        return _Validated(rows, hashes, prepared)

    def _validate(self, record: RawRecord | BadRecord) -> ValidRow | DebtorRow | RowRejected:
        if isinstance(record, BadRecord):
            return RowRejected(record.line, record.field, record.reason, self._named(record))
        lines = self._duplicates.get(record.values["external_id"].strip())
        if lines is not None:
            listed = ", ".join(str(line) for line in lines[:_MAX_LISTED_DUPLICATES])
            more = ", …" if len(lines) > _MAX_LISTED_DUPLICATES else ""
            return RowRejected(
                record.line,
                "external_id",
                f"duplicate external_id in file (rows {listed}{more})",
                record.values,
            )
        return validate_row_fast(record.line, record.values)

    def _named(self, record: BadRecord) -> dict[str, str]:
        columns = self._header.columns
        named = dict(zip(columns, record.cells, strict=False))
        for extra, cell in enumerate(record.cells[len(columns) :], start=1):
            named[f"_extra{extra}"] = cell
        return named


class RejectsFile:
    """The rejects report, written as rows are rejected and put in place on success only.

    It holds personal data (the raw rows), so it is created 0600. Every cell is made inert
    so opening the report in a spreadsheet cannot run a formula from the bank's file.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._staging: Path | None = None
        self._handle: IO[str] | None = None
        self._writer: Any = None

    def __enter__(self) -> RejectsFile:
        if self._path is not None:
            self._staging = self._path.with_name(f".{self._path.name}.{secrets.token_hex(6)}.tmp")
            fd = os.open(self._staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self._handle = os.fdopen(fd, "w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(REJECTS_HEADER)
        return self

    def write(self, rejected: RowRejected) -> None:
        if self._writer is None:
            return
        raw = _csv_line([_inert_cell(value) for value in rejected.raw_row.values()])
        self._writer.writerow(
            [
                rejected.row_number,
                _inert_cell(rejected.field),
                _inert_cell(rejected.reason),
                _inert_cell(raw),
            ]
        )

    def commit(self) -> None:
        if self._handle is None or self._staging is None or self._path is None:
            return
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._staging, self._path)
        self._staging = None

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None and not self._handle.closed:
            self._handle.close()
        if self._staging is not None:
            with contextlib.suppress(FileNotFoundError):
                self._staging.unlink()


def _inert_cell(value: str) -> str:
    if len(value) > MAX_REJECT_CELL_CHARS:
        value = f"{value[:MAX_REJECT_CELL_CHARS]}…[{len(value) - MAX_REJECT_CELL_CHARS} more]"
    # Stricter than make_inert: in the report even '-5' or '+86...' gets the quote.
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _csv_line(cells: list[str]) -> str:
    class _Line:
        text = ""

        def write(self, chunk: str) -> None:
            self.text += chunk

    line = _Line()
    csv.writer(line, lineterminator="").writerow(cells)
    return line.text
