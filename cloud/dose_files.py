"""A day's doses from a site that worked offline: CSV or NDJSON, parsed as the body streams in (pure).

The parser is fed the request body chunk by chunk and keeps only complete lines; each row is checked and
turned into a tuple ready for the database (the identity number replaced at once by its keyed hash), or
into an error that names its line. Per row it does only what the checks need: the csv module or
pydantic-core's JSON parser, one regular expression, one HMAC, one `datetime.fromisoformat` (no per-row
models). docs/RECORDS.md describes both formats.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from operator import itemgetter
from typing import Any

from pydantic_core import from_json

from cloud.identity import IDENTITY_NUMBER_PATTERN
from cloud.vaccination import EARLIEST_DOSE, FUTURE_SKEW, LOT_PATTERN, MAX_DOSE_NUMBER, PRODUCTS

REQUIRED_FIELDS = ("identity_number", "product", "lot", "dose_number", "administered_at")
OPTIONAL_FIELDS = ("series_doses",)
FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS
# A dose or series number from CSV text or a JSON integer, in one dictionary look-up (anything else: None).
_DOSE_NUMBERS: dict[str | int, int] = {
    **{str(n): n for n in range(1, MAX_DOSE_NUMBER + 1)},
    **{n: n for n in range(1, MAX_DOSE_NUMBER + 1)},
}
_ACCEPT_ORDER = ("identity_number", "product", "lot", "dose_number", "series_doses", "administered_at")
MAX_LINE_BYTES = 4096
# Past this many bad lines the parser stops: the file is refused anyway, and the rest need not be read.
MAX_BAD_LINES = 10_000

# (identity_hash, product, lot, dose_number, series_doses, administered_at)
DoseRow = tuple[str, str, str, int, int, datetime]


class DoseFileFormat(StrEnum):
    """The two accepted upload formats, by media type."""

    CSV = "text/csv"
    NDJSON = "application/x-ndjson"


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one line of the file was refused (`line` counts from 1, the CSV header being line 1)."""

    line: int
    message: str


@dataclass(slots=True)
class ParsedDoses:
    """What a whole file gave: the good rows, the first errors, how many lines had errors."""

    rows: list[DoseRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0


class _RowRefused(ValueError):
    pass


class DoseFileParser:
    """Incremental parser of a dose file: `feed(chunk)` as bytes arrive, then `finish()`.

    `hash_number` maps a normalised identity number (9 or 12 digits) to its keyed hash; `now` bounds
    `administered_at`; at most `max_rows` data rows are accepted and `max_errors` errors kept in detail.
    """

    def __init__(
        self,
        file_format: DoseFileFormat,
        hash_number: Callable[[str], str],
        now: datetime,
        *,
        max_rows: int = 200_000,
        max_errors: int = 100,
    ) -> None:
        self._format = file_format
        self._hash = hash_number
        self._latest = now + FUTURE_SKEW
        self._max_rows = max_rows
        self._max_errors = max_errors
        self._pending = b""
        self._line = 0  # lines consumed so far
        self._header: dict[str, int] | None = None
        self._columns = 0
        self._pick: Callable[[list[str]], Any] = itemgetter(0)
        self._too_many = False
        self.result = ParsedDoses()

    @property
    def stopped(self) -> bool:
        """True once MAX_BAD_LINES lines were refused: the caller may stop sending the body."""
        return self.result.error_count >= MAX_BAD_LINES

    def feed(self, chunk: bytes) -> None:
        """Parse every complete line of the data seen so far (nothing more once stopped)."""
        if self.stopped:
            return
        data = self._pending + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._pending = data
            if len(data) > MAX_LINE_BYTES:
                self._fail_line(self._line + 1, f"line longer than {MAX_LINE_BYTES} bytes")
                self._pending = b""
            return
        self._pending = data[cut + 1 :]
        self._parse(data[:cut].split(b"\n"))

    def finish(self) -> ParsedDoses:
        """Parse the last line (with or without a final newline) and return the result."""
        if self.stopped:
            self.result.errors.append(
                RowError(self._line, f"stopped reading after {MAX_BAD_LINES} bad lines")
            )
            return self.result
        if self._pending:
            self._parse([self._pending])
            self._pending = b""
        if self._line == 0 or (self._format is DoseFileFormat.CSV and self._header is None):
            self._fail_line(1, "the file is empty")
        elif not self.result.rows and not self.result.error_count:
            self._fail_line(self._line, "the file has no dose rows")
        return self.result

    def _parse(self, raw_lines: list[bytes]) -> None:
        first = self._line + 1
        self._line += len(raw_lines)
        try:
            lines = b"\n".join(raw_lines).decode().split("\n")  # one decode for the whole piece
        except UnicodeDecodeError:
            lines = []
            for offset, line in enumerate(raw_lines):
                try:
                    lines.append(line.decode())
                except UnicodeDecodeError:
                    self._fail_line(first + offset, "not UTF-8 text")
                    lines.append("")
        if self._format is DoseFileFormat.CSV:
            self._parse_csv(first, lines)
        else:
            self._parse_ndjson(first, lines)

    def _parse_csv(self, first: int, lines: list[str]) -> None:
        try:
            records = list(csv.reader(lines, strict=True))
        except csv.Error:
            records = []  # find the broken lines: parse them one by one
            for offset, line in enumerate(lines):
                try:
                    records.extend(csv.reader([line], strict=True))
                except csv.Error as exc:
                    self._fail_line(first + offset, f"bad CSV: {exc} (one record per line)")
                    records.append([])
        if len(records) != len(lines):  # a quoted field ran over a line end
            self._fail_line(first, "bad CSV: a quoted field spans lines (one record per line)")
            return
        accept = self._accept
        for number, fields_ in enumerate(records, start=first):
            if not fields_ or fields_ == [""]:
                continue
            if self._header is None:
                self._read_header(number, fields_)
                continue
            try:
                if len(fields_) != self._columns:
                    raise _RowRefused(f"expected {self._columns} fields, found {len(fields_)}")
                fields_.append("")  # what a missing series_doses column reads as
                accept(*self._pick(fields_))
            except _RowRefused as exc:
                self._fail_line(number, str(exc))

    def _read_header(self, line: int, names: list[str]) -> None:
        header = {name.strip(): index for index, name in enumerate(names)}
        unknown = sorted(set(header) - set(FIELDS))
        missing = [name for name in REQUIRED_FIELDS if name not in header]
        if unknown or missing or len(header) != len(names):
            problems = []
            if missing:
                problems.append(f"missing columns: {', '.join(missing)}")
            if unknown:
                problems.append(f"unknown columns: {', '.join(unknown)}")
            if len(header) != len(names):
                problems.append("a column is repeated")
            self._fail_line(
                line, "bad header (" + "; ".join(problems) + f"); columns are {', '.join(FIELDS)}"
            )
            self._header = {}  # every later row fails on its field count; the header error says why
            self._columns = -1
            return
        self._header = header
        self._columns = len(names)
        # The values in _accept's order; a missing series_doses column picks the "" appended to each row.
        self._pick = itemgetter(*(header.get(name, len(names)) for name in _ACCEPT_ORDER))

    def _parse_ndjson(self, first: int, lines: list[str]) -> None:
        for offset, line in enumerate(lines):
            if not line.strip():
                continue
            number = first + offset
            try:
                try:
                    item: Any = from_json(line)
                except ValueError as exc:
                    raise _RowRefused(f"not JSON: {exc}") from None
                if not isinstance(item, dict):
                    raise _RowRefused("expected a JSON object")
                if item.keys() - FIELDS:
                    raise _RowRefused(f"unknown fields: {', '.join(sorted(item.keys() - FIELDS))}")
                self._accept(
                    _text(item, "identity_number"),
                    _text(item, "product"),
                    _text(item, "lot"),
                    _integer(item, "dose_number"),
                    _integer(item, "series_doses", optional=True),
                    _text(item, "administered_at"),
                )
            except _RowRefused as exc:
                self._fail_line(number, str(exc))

    def _accept(
        self, identity: str, product: str, lot: str, dose: str | int, series: str | int, administered: str
    ) -> None:
        # The hot path: each check is one cheap operation; messages never repeat the personal data.
        if not IDENTITY_NUMBER_PATTERN.match(identity):
            identity = "".join(identity.split())
            if not IDENTITY_NUMBER_PATTERN.match(identity):
                raise _RowRefused("identity_number must be 9 digits (CMND) or 12 digits (CCCD)")
        known = PRODUCTS.get(product)
        if known is None:
            raise _RowRefused(f"unknown product {product[:40]!r}")
        if not LOT_PATTERN.match(lot):
            raise _RowRefused("lot must be 1-32 letters, digits or . / _ -")
        dose_number = _DOSE_NUMBERS.get(dose)
        if dose_number is None:
            raise _RowRefused(f"dose_number must be a whole number from 1 to {MAX_DOSE_NUMBER}")
        series_doses = known.standard_series if series == "" else _DOSE_NUMBERS.get(series)
        if series_doses is None:
            raise _RowRefused(f"series_doses must be a whole number from 1 to {MAX_DOSE_NUMBER}")
        try:
            at = datetime.fromisoformat(administered)
        except (ValueError, TypeError):
            raise _RowRefused("administered_at is not an ISO 8601 date-time") from None
        if at.tzinfo is None:
            raise _RowRefused("administered_at needs a UTC offset (e.g. 2026-11-21T08:30:00+07:00)")
        if not EARLIEST_DOSE <= at <= self._latest:
            raise _RowRefused(f"administered_at must be between {EARLIEST_DOSE.date()} and now")
        if len(self.result.rows) >= self._max_rows:
            if not self._too_many:
                self._too_many = True
                raise _RowRefused(f"more than {self._max_rows} rows: split the file")
            raise _RowRefused("over the row limit")
        self.result.rows.append((self._hash(identity), product, lot, dose_number, series_doses, at))

    def _fail_line(self, line: int, message: str) -> None:
        self.result.error_count += 1
        if len(self.result.errors) < self._max_errors:
            self.result.errors.append(RowError(line, message))


def _text(item: dict[str, Any], name: str) -> str:
    value = item.get(name)
    if not isinstance(value, str):
        raise _RowRefused(f"{name} is required (a string)")
    return value


def _integer(item: dict[str, Any], name: str, *, optional: bool = False) -> int | str:
    value = item.get(name)
    if value is None and optional:
        return ""
    if not isinstance(value, int) or isinstance(value, bool):
        raise _RowRefused(
            f"{name} is required (an integer)" if not optional else f"{name} must be an integer"
        )
    return value
