"""Reading a bank's CSV export into raw rows: encoding, header, size limits. Pure.

Only the given binary stream is read. Every problem with a single record becomes a
`BadRecord` the caller can report; only problems with the file as a whole (undecodable,
no header, required columns missing) raise `FileError`.

Limits: a physical line longer than `MAX_LINE_CHARS` is never held whole in memory (the
rest of it is skipped) and the record containing it is rejected; a field longer than
`MAX_FIELD_CHARS` rejects its record. Quoted fields may span lines; the newlines are kept.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_FIELD_CHARS = 64 * 1024
MAX_LINE_CHARS = 1024 * 1024
REQUIRED_COLUMNS = ("external_id", "name", "phone", "amount_due", "overdue_days")
DETECTED_ENCODINGS = ("utf-8-sig", "gb18030")
_CHUNK_BYTES = 1 << 20
_DISPLAY_NAMES = {"utf-8-sig": "UTF-8", "gb18030": "GB18030"}


class FileError(Exception):
    """The file as a whole cannot be read (encoding, header); the message says why."""


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One data record: `line` is the physical line it starts on (the header is line 1)."""

    line: int
    values: dict[str, str]


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record that cannot be turned into named values; `cells` is what could be read."""

    line: int
    field: str
    reason: str
    cells: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CsvHeader:
    columns: tuple[str, ...]


def detect_encoding(stream: BinaryIO, *, name: str) -> str:
    """'utf-8-sig' if the whole stream decodes strictly as UTF-8, else 'gb18030' if it does.

    Leaves the stream at its end; raises FileError naming the furthest byte offset any
    candidate reached when neither decodes.
    """
    furthest = 0
    for encoding in DETECTED_ENCODINGS:
        stream.seek(0)
        offset = _first_undecodable_offset(stream, encoding)
        if offset is None:
            return encoding
        furthest = max(furthest, offset)
    raise FileError(f"cannot decode {name} as UTF-8 or GB18030 (byte offset {furthest})")


def check_encoding(encoding: str, *, name: str) -> str:
    """Normalise a forced encoding name ('utf8' -> 'utf-8-sig', so a BOM is dropped)."""
    try:
        canonical = codecs.lookup(encoding).name
    except LookupError:
        raise FileError(f"unknown encoding {encoding!r} for {name}") from None
    return "utf-8-sig" if canonical in ("utf-8", "utf-8-sig") else canonical


def read_records(
    stream: BinaryIO,
    *,
    encoding: str,
    name: str,
    required: Sequence[str] = REQUIRED_COLUMNS,
) -> tuple[CsvHeader, Iterator[RawRecord | BadRecord]]:
    """Parse the header now (FileError if absent or incomplete), then yield records lazily.

    A decoding error part-way through raises FileError from the iterator: callers that
    must not act on part of a file run `detect_encoding` (or a full pass) first.
    """
    # The wrapper is detached (never closed) when done: the caller owns `stream`.
    text = io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline="")
    feeder = _LineFeeder(text)
    reader = csv.reader(feeder, strict=False)
    try:
        try:
            header_cells = next(reader, None)
        except csv.Error as exc:
            raise FileError(f"{name}: the header row cannot be parsed ({exc})") from None
        except UnicodeDecodeError as exc:
            raise FileError(
                f"cannot decode {name} as {_display(encoding)} ({exc.reason})"
            ) from None
        if header_cells is None or not any(cell.strip() for cell in header_cells):
            raise FileError(f"{name} has no header row (the first line must name the columns)")
        if feeder.oversized_lines:
            raise FileError(f"{name}: the header row is longer than {MAX_LINE_CHARS} characters")
        header = _parse_header(header_cells, required, name)
    except BaseException:
        _detach(text)
        raise
    return header, _records(reader, feeder, header, encoding, name, text)


def _parse_header(cells: list[str], required: Sequence[str], name: str) -> CsvHeader:
    columns = [cell.strip().lower() for cell in cells]
    for position, column in enumerate(columns, start=1):
        if not column:
            raise FileError(f"{name}: header column {position} has no name")
        if len(column) > 64:
            raise FileError(f"{name}: header column {position} is longer than 64 characters")
    duplicates = sorted({column for column in columns if columns.count(column) > 1})
    if duplicates:
        raise FileError(f"{name}: header names these columns twice: {', '.join(duplicates)}")
    missing = [column for column in required if column not in columns]
    if missing:
        raise FileError(f"{name}: header lacks required columns: {', '.join(missing)}")
    return CsvHeader(tuple(columns))


def _records(
    reader: Iterator[list[str]],
    feeder: _LineFeeder,
    header: CsvHeader,
    encoding: str,
    name: str,
    text: io.TextIOWrapper,
) -> Iterator[RawRecord | BadRecord]:
    try:
        yield from _parse_records(reader, feeder, header, encoding, name)
    finally:
        _detach(text)


def _detach(text: io.TextIOWrapper) -> None:
    with contextlib.suppress(ValueError):  # the caller may have closed the stream already
        text.detach()


def _parse_records(
    reader: Iterator[list[str]],
    feeder: _LineFeeder,
    header: CsvHeader,
    encoding: str,
    name: str,
) -> Iterator[RawRecord | BadRecord]:
    columns = header.columns
    width = len(columns)
    while True:
        start = feeder.lines_read + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            oversized = feeder.take_oversized(start, feeder.lines_read)
            reason = (
                f"unparseable CSV record ({exc})"
                if oversized is None
                else f"line {oversized} is longer than {MAX_LINE_CHARS} characters"
            )
            yield BadRecord(start, "", reason, ())
            continue
        except UnicodeDecodeError as exc:
            raise FileError(
                f"cannot decode {name} as {_display(encoding)} near line {start} ({exc.reason})"
            ) from None
        end = feeder.lines_read
        oversized = feeder.take_oversized(start, end)
        if oversized is not None:
            yield BadRecord(
                start,
                "",
                f"line {oversized} is longer than {MAX_LINE_CHARS} characters",
                tuple(cells),
            )
            continue
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # blank line
        if len(cells) != width:
            yield BadRecord(
                start, "", f"record has {len(cells)} fields, the header has {width}", tuple(cells)
            )
            continue
        too_long = next(
            (
                column
                for column, cell in zip(columns, cells, strict=True)
                if len(cell) > MAX_FIELD_CHARS
            ),
            None,
        )
        if too_long is not None:
            yield BadRecord(
                start,
                too_long,
                f"field is longer than {MAX_FIELD_CHARS} characters",
                tuple(cells),
            )
            continue
        yield RawRecord(start, dict(zip(columns, cells, strict=True)))


class _LineFeeder:
    """Physical lines for csv.reader, each capped at MAX_LINE_CHARS: the rest of a longer
    line is read and dropped in bounded chunks, and its line number remembered."""

    def __init__(self, text: io.TextIOBase) -> None:
        self._text = text
        self.lines_read = 0
        self.oversized_lines: list[int] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self._text.readline(MAX_LINE_CHARS + 1)
        if not line:
            raise StopIteration
        self.lines_read += 1
        if len(line) > MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            self.oversized_lines.append(self.lines_read)
            self._skip_rest_of_line()
            return line[:MAX_LINE_CHARS] + "\n"
        return line

    def take_oversized(self, start: int, end: int) -> int | None:
        hit = next((n for n in self.oversized_lines if start <= n <= end), None)
        self.oversized_lines = [n for n in self.oversized_lines if n > end]
        return hit

    def _skip_rest_of_line(self) -> None:
        while True:
            chunk = self._text.readline(MAX_LINE_CHARS)
            if not chunk or chunk.endswith(("\n", "\r")):
                return


def _first_undecodable_offset(stream: BinaryIO, encoding: str) -> int | None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    consumed = 0
    while True:
        chunk = stream.read(_CHUNK_BYTES)
        final = not chunk
        pending = len(decoder.getstate()[0])  # undecoded bytes carried from earlier chunks
        try:
            decoder.decode(chunk, final=final)
        except UnicodeDecodeError as exc:
            return max(consumed - pending + exc.start, 0)
        if final:
            return None
        consumed += len(chunk)


def _display(encoding: str) -> str:
    return _DISPLAY_NAMES.get(encoding, encoding)


@dataclass(frozen=True, slots=True)
class FileScan:
    encoding: str
    duplicates: dict[str, list[int]]  # key → the lines it appears on (2 or more)


def scan_file(path: Path, encoding: str | None, key_column: str,
              required: Sequence[str] = REQUIRED_COLUMNS) -> FileScan:
    """First pass of an import: the file opens and decodes (FileError otherwise), has
    the columns, and which values of `key_column` repeat (those rows are ambiguous)."""
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise FileError(f"cannot open {path.name}: {exc.strerror or type(exc).__name__}") from None
    with stream:
        if encoding is None:
            chosen = detect_encoding(stream, name=path.name)
        else:
            chosen = check_encoding(encoding, name=path.name)
        stream.seek(0)
        _, records = read_records(stream, encoding=chosen, name=path.name, required=required)
        first_line: dict[str, int] = {}
        duplicates: dict[str, list[int]] = {}
        for record in records:
            if not isinstance(record, RawRecord):
                continue
            key = record.values[key_column].strip()
            if not key:
                continue
            seen = first_line.setdefault(key, record.line)
            if seen != record.line:
                duplicates.setdefault(key, [seen]).append(record.line)
    return FileScan(chosen, duplicates)
