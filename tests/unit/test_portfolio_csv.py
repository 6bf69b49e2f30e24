"""CSV reading for imports: encodings, header, size limits, physical line numbers."""

from __future__ import annotations

import io

import pytest

from engine.portfolio.csv_rows import (
    MAX_FIELD_CHARS,
    MAX_LINE_CHARS,
    BadRecord,
    FileError,
    RawRecord,
    check_encoding,
    detect_encoding,
    read_records,
)

HEADER = "external_id,name,phone,amount_due,overdue_days\n"


def records(data: bytes, encoding: str = "utf-8-sig") -> list[RawRecord | BadRecord]:
    _, rows = read_records(io.BytesIO(data), encoding=encoding, name="f.csv")
    return list(rows)


def test_utf8_with_and_without_bom_detected_as_utf8() -> None:
    """Detect the encoding of the same text with and without a BOM.

    Expected: 'utf-8-sig' both times, and the BOM does not end up in the first column name.
    """
    text = HEADER + "A1,张三,13800138000,1.00,3\n"
    for data in (text.encode(), b"\xef\xbb\xbf" + text.encode()):
        assert detect_encoding(io.BytesIO(data), name="f.csv") == "utf-8-sig"
        (row,) = records(data)
        assert isinstance(row, RawRecord)
        assert row.values["external_id"] == "A1"
        assert row.values["name"] == "张三"


def test_gb18030_detected_and_decoded() -> None:
    """A GB18030-encoded file with Chinese names. Expected: 'gb18030', names intact."""
    data = (HEADER + "A1,张三丰,13800138000,1.00,3\n").encode("gb18030")
    assert detect_encoding(io.BytesIO(data), name="f.csv") == "gb18030"
    (row,) = records(data, "gb18030")
    assert isinstance(row, RawRecord)
    assert row.values["name"] == "张三丰"


def test_undecodable_file_names_byte_offset() -> None:
    """Bytes neither UTF-8 nor GB18030 (0xFF) after 40 ASCII bytes.

    Expected: FileError 'cannot decode f.csv as UTF-8 or GB18030 (byte offset 40)'.
    """
    data = b"x" * 40 + b"\xff\xff\xff"
    with pytest.raises(
        FileError, match=r"cannot decode f\.csv as UTF-8 or GB18030 \(byte offset 40\)"
    ):
        detect_encoding(io.BytesIO(data), name="f.csv")


def test_offset_counts_across_chunks() -> None:
    """An invalid byte after 3 MiB of ASCII (several read chunks).

    Expected: the reported offset is exactly 3 MiB.
    """
    data = b"a" * (3 << 20) + b"\xff"
    with pytest.raises(FileError, match=rf"byte offset {3 << 20}\)"):
        detect_encoding(io.BytesIO(data), name="f.csv")


def test_forced_encoding_normalised_and_unknown_refused() -> None:
    """check_encoding('UTF8'), ('GB18030'), ('klingon').

    Expected: utf-8-sig, gb18030, FileError naming the unknown encoding.
    """
    assert check_encoding("UTF8", name="f") == "utf-8-sig"
    assert check_encoding("GB18030", name="f") == "gb18030"
    with pytest.raises(FileError, match="klingon"):
        check_encoding("klingon", name="f")


def test_forced_wrong_encoding_fails_as_file_error() -> None:
    """A GB18030 file read as UTF-8. Expected: FileError from the iterator, no crash."""
    data = (HEADER + "A1,张三,13800138000,1.00,3\n").encode("gb18030")
    with pytest.raises(FileError, match="cannot decode"):
        records(data, "utf-8-sig")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no header row"),
        (b"\n\n", "no header row"),
        (b"external_id,name,phone\nA,b,c\n", "lacks required columns: amount_due, overdue_days"),
        (b"external_id,name,phone,amount_due,overdue_days,name\n", "twice: name"),
        (b"external_id,,name,phone,amount_due,overdue_days\n", "column 2 has no name"),
    ],
)
def test_header_problems_are_file_errors(data: bytes, message: str) -> None:
    """Empty file, blank lines only, missing required columns, duplicate and empty names.

    Expected: FileError whose message names the problem (and the missing columns).
    """
    with pytest.raises(FileError, match=message):
        read_records(io.BytesIO(data), encoding="utf-8-sig", name="f.csv")


def test_header_is_case_and_space_insensitive() -> None:
    """Header ' External_ID , NAME,phone,amount_due,overdue_days'. Expected: accepted."""
    data = b" External_ID , NAME,phone,amount_due,overdue_days\nA1,n,1,1,1\n"
    (row,) = records(data)
    assert isinstance(row, RawRecord)
    assert row.values["external_id"] == "A1"


def test_embedded_newline_kept_and_line_numbers_physical() -> None:
    """Row 2 has a quoted name spanning two lines; row after it starts on line 4.

    Expected: the newline is kept in the value; records report lines 2 and 4.
    """
    data = (HEADER + 'A1,"张\n三",13800138000,1,1\r\nA2,李四,13900139000,1,1\n').encode()
    first, second = records(data)
    assert isinstance(first, RawRecord) and isinstance(second, RawRecord)
    assert first.values["name"] == "张\n三"
    assert (first.line, second.line) == (2, 4)


def test_blank_lines_skipped_and_wrong_width_rejected() -> None:
    """A blank line, then a record with 3 fields, then a good one.

    Expected: the blank line yields nothing; the short record is a BadRecord on line 3.
    """
    data = (HEADER + "\nA1,x,y\nA2,n,1,1,1\n").encode()
    bad, good = records(data)
    assert isinstance(bad, BadRecord)
    assert bad.line == 3
    assert "3 fields" in bad.reason
    assert isinstance(good, RawRecord) and good.line == 4


def test_ten_megabyte_line_is_a_row_error_and_reading_continues() -> None:
    """A 10 MB unquoted line between two good rows.

    Expected: the huge line is a BadRecord naming its line; the next row still reads with
    its own line number; no cell held in the result is longer than the line cap.
    """
    huge = "A2,n," + "9" * (10 * 1024 * 1024) + ",1,1\n"
    data = (HEADER + "A1,n,1,1,1\n" + huge + "A3,n,1,1,1\n").encode()
    first, bad, last = records(data)
    assert isinstance(first, RawRecord) and isinstance(last, RawRecord)
    assert isinstance(bad, BadRecord)
    assert bad.line == 3
    assert "longer than" in bad.reason
    assert all(len(cell) <= MAX_LINE_CHARS for cell in bad.cells)
    assert last.line == 4 and last.values["external_id"] == "A3"


def test_ten_megabyte_quoted_field_is_a_row_error() -> None:
    """A quoted 10 MB field on one line. Expected: BadRecord on line 2; next row reads."""
    huge = 'A2,"' + "x" * (10 * 1024 * 1024) + '",1,1,1\n'
    data = (HEADER + huge + "A3,n,1,1,1\n").encode()
    parsed = records(data)
    assert isinstance(parsed[0], BadRecord) and parsed[0].line == 2
    assert isinstance(parsed[-1], RawRecord) and parsed[-1].values["external_id"] == "A3"


def test_field_over_limit_rejected_naming_field() -> None:
    """A name one character over the field limit (but a line under the line cap).

    Expected: BadRecord with field 'name'.
    """
    data = (HEADER + "A1," + "n" * (MAX_FIELD_CHARS + 1) + ",1,1,1\n").encode()
    (bad,) = records(data)
    assert isinstance(bad, BadRecord)
    assert bad.field == "name"


def test_unterminated_quote_does_not_crash() -> None:
    """A record whose quote never closes, at the end of the file.

    Expected: no exception escapes; whatever is yielded is a BadRecord or RawRecord.
    """
    data = (HEADER + 'A1,"unterminated,1,1,1\n').encode()
    parsed = records(data)
    assert all(isinstance(item, RawRecord | BadRecord) for item in parsed)
