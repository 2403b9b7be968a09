"""The aggregates' pure core: local days, ranges, the ward x day grid, positivity, coverage, CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from cloud.aggregates import (
    CSV_COLUMNS,
    MAX_ROWS,
    build_rows,
    check_range,
    check_size,
    coverage,
    csv_rows,
    days_between,
    local_date,
    local_midnight,
    positivity,
    write_csv,
)
from cloud.errors import UnprocessableError

VN = 7 * 60
D1, D2, D3 = date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 21)


def test_positivity_and_coverage_are_null_without_a_denominator() -> None:
    assert positivity(0, 0) is None
    assert positivity(1, 3) == 0.25
    assert positivity(0, 2) == 0.0
    assert coverage(5, None) is None
    assert coverage(250, 1000) == 0.25
    assert coverage(12, 10) == 1.2  # people vaccinated in the ward who live elsewhere


def test_local_days_follow_the_fixed_offset() -> None:
    assert local_midnight(D2, VN) == datetime(2026, 11, 19, 17, tzinfo=UTC)
    assert local_midnight(D2, -5 * 60) == datetime(2026, 11, 20, 5, tzinfo=UTC)
    assert local_date(datetime(2026, 11, 19, 16, 59, 59, tzinfo=UTC), VN) == D1
    assert local_date(datetime(2026, 11, 19, 17, tzinfo=UTC), VN) == D2
    assert days_between(D1, D3) == [D1, D2, D3]
    assert days_between(D2, D2) == [D2]


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (D2, D1, "must not be before"),
        (date(2025, 11, 20), D3, "at most 366 days"),
        (D2, date(2026, 11, 22), "must not be after today"),
        (date(1, 1, 1), date(1, 1, 2), "must not be before 1970-01-01"),
    ],
)
def test_bad_ranges_are_refused_with_a_reason(start: date, end: date, message: str) -> None:
    with pytest.raises(UnprocessableError, match=message):
        check_range(start, end, today=D3)


def test_good_ranges_and_sizes_pass() -> None:
    check_range(date(2025, 11, 21), D3, today=D3)  # 366 days
    check_range(D3, D3, today=D3)
    check_size(100, 366)
    with pytest.raises(UnprocessableError, match="name a ward"):
        check_size(MAX_ROWS + 1, 1)


def test_the_grid_has_every_ward_and_day_and_sums_people_from_before_the_range() -> None:
    counts = {
        ("ward-a", D1, "checkins"): 3,
        ("ward-a", D1, "tests_positive"): 1,
        ("ward-a", D1, "tests_negative"): 3,
        ("ward-b", D3, "doses"): 2,
        ("ward-a", D2, "not_a_metric"): 9,  # ignored
    }
    first = {
        ("ward-a", date(2026, 1, 1), "people_vaccinated"): 4,  # before the range: the starting total
        ("ward-a", D2, "people_vaccinated"): 1,
        ("ward-a", D3, "people_fully_vaccinated"): 2,
    }
    rows = build_rows(["ward-a", "ward-b"], [D1, D2, D3], counts, first, {"ward-a": 10})
    assert [(r.ward_id, r.date) for r in rows] == [(w, d) for w in ("ward-a", "ward-b") for d in (D1, D2, D3)]
    a1, a2, a3, b1, _, b3 = rows
    assert (a1.checkins, a1.positivity, a2.checkins, a2.positivity) == (3, 0.25, 0, None)
    assert [r.people_vaccinated for r in (a1, a2, a3)] == [4, 5, 5]
    assert [r.people_fully_vaccinated for r in (a1, a2, a3)] == [0, 0, 2]
    assert (a3.coverage_at_least_one, a3.coverage_complete, a3.population) == (0.5, 0.2, 10)
    assert (b1.doses, b3.doses, b3.people_vaccinated, b3.coverage_at_least_one) == (0, 2, 0, None)
    assert build_rows(["ward-a"], [], counts, first, {}) == []


def test_csv_has_a_header_and_one_line_per_row_with_empty_nulls() -> None:
    rows = build_rows(
        ["ward-a"],
        [D1, D2],
        {("ward-a", D1, "tests_positive"): 1, ("ward-a", D1, "tests_negative"): 2},
        {},
        {},
    )
    assert csv_rows([]) == [list(CSV_COLUMNS)]
    text = write_csv(rows)
    assert text.startswith(",".join(CSV_COLUMNS) + "\r\n")
    header, first, second = list(csv.reader(io.StringIO(text)))
    line = dict(zip(header, first, strict=True))
    assert (line["ward_id"], line["date"], line["tests_positive"]) == ("ward-a", "2026-11-19", "1")
    assert (line["positivity"], line["population"], line["coverage_complete"]) == ("0.333333", "", "")
    assert dict(zip(header, second, strict=True))["positivity"] == ""
