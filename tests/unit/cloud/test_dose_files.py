"""The bulk dose file parser (pure): CSV and NDJSON fed in arbitrary chunks, each bad line named."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cloud.dose_files import MAX_BAD_LINES, DoseFileFormat, DoseFileParser, ParsedDoses

NOW = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
HEADER = "identity_number,product,lot,dose_number,series_doses,administered_at"
GOOD = "001203004567,EU/1/20/1528,FK1234,2,2,2026-11-21T08:30:00+07:00"


def fake_hash(number: str) -> str:
    return f"h{number}"


def parse(
    data: bytes, file_format: DoseFileFormat = DoseFileFormat.CSV, chunk: int = 7, **options: int
) -> ParsedDoses:
    parser = DoseFileParser(file_format, fake_hash, NOW, **options)
    for start in range(0, len(data), chunk):
        parser.feed(data[start : start + chunk])
    return parser.finish()


def errors(result: ParsedDoses) -> list[tuple[int, str]]:
    return [(e.line, e.message) for e in result.errors]


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_csv_rows_become_database_tuples_whatever_the_chunking(chunk: int) -> None:
    data = f"{HEADER}\r\n{GOOD}\r\n\r\n001 203 004 568,EU/1/20/1525,L-9,1,,2026-11-20T23:00:00Z".encode()
    result = parse(data, chunk=chunk)
    assert errors(result) == []
    ict = timezone(timedelta(hours=7))
    assert result.rows == [
        ("h001203004567", "EU/1/20/1528", "FK1234", 2, 2, datetime(2026, 11, 21, 8, 30, tzinfo=ict)),
        ("h001203004568", "EU/1/20/1525", "L-9", 1, 1, datetime(2026, 11, 20, 23, tzinfo=UTC)),
    ]


def test_csv_columns_may_come_in_any_order_and_series_doses_may_be_left_out() -> None:
    data = (
        b"administered_at,dose_number,lot,product,identity_number\n"
        b"2026-11-21T08:30:00+07:00,1,A,EU/1/20/1507,123456789\n"
    )
    (row,) = parse(data).rows
    assert row[:5] == ("h123456789", "EU/1/20/1507", "A", 1, 2)


def test_each_bad_csv_line_is_named_and_personal_data_is_not_repeated() -> None:
    lines = [
        HEADER,
        GOOD,
        "12345,EU/1/20/1528,FK1,1,2,2026-11-21T08:30:00+07:00",
        "001203004569,Vero,FK1,1,2,2026-11-21T08:30:00+07:00",
        "001203004569,EU/1/20/1528,bad lot,1,2,2026-11-21T08:30:00+07:00",
        "001203004569,EU/1/20/1528,FK1,0,2,2026-11-21T08:30:00+07:00",
        "001203004569,EU/1/20/1528,FK1,1,x,2026-11-21T08:30:00+07:00",
        "001203004569,EU/1/20/1528,FK1,1,2,yesterday",
        "001203004569,EU/1/20/1528,FK1,1,2,2026-11-21T08:30:00",
        "001203004569,EU/1/20/1528,FK1,1,2,2027-01-01T08:30:00+07:00",
        "001203004569,EU/1/20/1528,FK1,1,2",
        '"unterminated,EU/1/20/1528,FK1,1,2,2026-11-21T08:30:00+07:00',
    ]
    result = parse("\n".join(lines).encode())
    assert len(result.rows) == 1 and result.error_count == 10
    found = errors(result)
    assert [line for line, _ in found] == list(range(3, 13))
    messages = " | ".join(message for _, message in found)
    for fragment in (
        "9 digits",
        "unknown product",
        "lot",
        "dose_number",
        "series_doses",
        "ISO 8601",
        "UTC offset",
    ):
        assert fragment in messages
    assert "expected 6 fields, found 5" in messages and "bad CSV" in messages
    assert "00120300456" not in messages


def test_a_bad_header_names_the_missing_and_unknown_columns() -> None:
    result = parse(b"identity_number,product,colour\n1,2,3\n4,5,6\n")
    assert result.error_count == 3 and not result.rows
    line, message = result.errors[0].line, result.errors[0].message
    assert (
        line == 1 and "missing columns: lot, dose_number, administered_at" in message and "colour" in message
    )


def test_empty_files_and_files_without_rows_are_refused() -> None:
    assert errors(parse(b"")) == [(1, "the file is empty")]
    assert errors(parse(b"\n\n")) == [(1, "the file is empty")]
    assert errors(parse(f"{HEADER}\n".encode())) == [(1, "the file has no dose rows")]
    assert errors(parse(b"", DoseFileFormat.NDJSON)) == [(1, "the file is empty")]


def test_rows_past_the_limit_are_refused_and_errors_are_kept_up_to_their_limit() -> None:
    data = "\n".join([HEADER, *[GOOD] * 5]).encode()
    result = parse(data, max_rows=3)
    assert len(result.rows) == 3 and result.error_count == 2
    assert "more than 3 rows" in result.errors[0].message
    bad = "\n".join([HEADER, *["x"] * 10]).encode()
    result = parse(bad, max_errors=4)
    assert result.error_count == 10 and len(result.errors) == 4


def test_ndjson_lines_are_objects_with_the_same_fields() -> None:
    good = {
        "identity_number": "001203004567",
        "product": "EU/1/21/1618",
        "lot": "NV1",
        "dose_number": 1,
        "administered_at": "2026-11-21T08:30:00+07:00",
    }
    lines = [
        json.dumps(good),
        json.dumps({**good, "series_doses": 3, "identity_number": "123456789"}),
        "",
        json.dumps({**good, "dose_number": "1"}),
        json.dumps({**good, "dose_number": True}),
        json.dumps({**good, "extra": 1}),
        json.dumps({k: v for k, v in good.items() if k != "lot"}),
        "[]",
        "{broken",
        json.dumps({**good, "series_doses": None}),
    ]
    result = parse("\n".join(lines).encode() + b"\r\n", DoseFileFormat.NDJSON, chunk=13)
    assert [row[4] for row in result.rows] == [2, 3, 2]
    assert [line for line, _ in errors(result)] == [4, 5, 6, 7, 8, 9]
    messages = " | ".join(message for _, message in errors(result))
    assert "an integer" in messages and "unknown fields: extra" in messages and "lot is required" in messages
    assert "expected a JSON object" in messages and "not JSON" in messages


def test_lines_that_are_not_utf8_are_named() -> None:
    data = f"{HEADER}\n{GOOD}\n".encode() + b"\xff\xfe,1\n" + GOOD.encode()
    result = parse(data)
    assert len(result.rows) == 2 and errors(result)[0] == (3, "not UTF-8 text")


def test_the_parser_stops_after_too_many_bad_lines() -> None:
    data = "\n".join([HEADER, *["bad"] * (MAX_BAD_LINES + 50), GOOD]).encode()
    parser = DoseFileParser(DoseFileFormat.CSV, fake_hash, NOW)
    parser.feed(data)
    assert parser.stopped
    result = parser.finish()
    assert result.error_count >= MAX_BAD_LINES and not result.rows  # stops at the end of a fed piece
    assert result.errors[-1].message == f"stopped reading after {MAX_BAD_LINES} bad lines"
