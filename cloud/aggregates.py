"""Daily aggregates per ward: what officers and analysts follow (declarations, check-ins, crossings, tests
and positivity, new cases, people in quarantine, doses and coverage), as JSON rows or CSV.

Days are local calendar days at the hub's fixed UTC offset (`local_utc_offset_minutes`, +7 h for Viet
Nam). The database counts each metric per ward and day (cloud/storage/aggregates.py); this module's pure
part lays those counts on the ward x day grid (days without activity are zeros), derives positivity and
coverage, and writes CSV. Who may read: ward officers, supervisors and tracing staff for their wards, admins
for any ward (counts only: no personal data).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import UTC, date, datetime, time, timedelta, timezone

from cloud.access import OFFICERS, Actor, Role
from cloud.errors import UnprocessableError
from cloud.storage.aggregates import Counts, Ward
from cloud.storage.repository import Repository
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock

MAX_DAYS = 366  # a leap year: the longest range one request reads
EARLIEST = date(1970, 1, 1)  # the clocks' epoch; also keeps far-off dates from overflowing datetimes
MAX_ROWS = 40_000  # wards x days in one answer (100 wards over a year); more is an export job, not a request
# Tracing staff are the epidemiologists of their wards: they read the same counts as the ward's officers.
AGGREGATE_ROLES = frozenset({*OFFICERS, Role.TRACING})


@dataclass(frozen=True, slots=True)
class DailyAggregate:
    """One ward's day. Counts are of that local day; `in_quarantine` and the vaccinated people are as of its
    end (or now, for today). Positivity and coverage are None when there is nothing to divide by."""

    ward_id: str
    date: date
    declarations_health: int
    declarations_travel: int
    declarations_feedback: int
    checkins: int
    crossings_in: int
    crossings_out: int
    tests_pcr: int
    tests_rapid_antigen: int
    tests_positive: int
    tests_negative: int
    positivity: float | None
    cases_new: int
    in_quarantine: int
    doses: int
    people_vaccinated: int
    people_fully_vaccinated: int
    population: int | None
    coverage_at_least_one: float | None
    coverage_complete: float | None


CSV_COLUMNS = tuple(f.name for f in fields(DailyAggregate))
# Counted per day by the database; the remaining fields are derived here.
DAILY_METRICS = (
    "declarations_health",
    "declarations_travel",
    "declarations_feedback",
    "checkins",
    "crossings_in",
    "crossings_out",
    "tests_pcr",
    "tests_rapid_antigen",
    "tests_positive",
    "tests_negative",
    "cases_new",
    "in_quarantine",
    "doses",
)
# Counted per day of first occurrence over the ward's whole history, then summed up to each day.
CUMULATIVE_METRICS = ("people_vaccinated", "people_fully_vaccinated")


def positivity(positives: int, negatives: int) -> float | None:
    """positives / (positives + negatives); None without results (pure)."""
    total = positives + negatives
    return positives / total if total else None


def coverage(people: int, population: int | None) -> float | None:
    """people / population; None when the population is unknown (pure). People vaccinated in a ward who
    live elsewhere count too, so it may exceed 1."""
    return people / population if population else None


def local_date(moment: datetime, offset_minutes: int) -> date:
    """The local calendar date of an aware datetime at a fixed UTC offset (pure)."""
    return moment.astimezone(timezone(timedelta(minutes=offset_minutes))).date()


def local_midnight(day: date, offset_minutes: int) -> datetime:
    """The UTC instant a local day starts at a fixed UTC offset (pure)."""
    return datetime.combine(day, time(), tzinfo=timezone(timedelta(minutes=offset_minutes))).astimezone(UTC)


def days_between(start: date, end: date) -> list[date]:
    """Every day from `start` to `end`, both included (pure)."""
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def check_range(start: date, end: date, today: date) -> None:
    """UnprocessableError unless [start, end] is a non-empty range of at most MAX_DAYS days, not after
    `today` nor before EARLIEST (pure)."""
    if end < start:
        raise UnprocessableError(f"'to' ({end}) must not be before 'from' ({start})")
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise UnprocessableError(f"a range covers at most {MAX_DAYS} days; {start} to {end} is {days}")
    if end > today:
        raise UnprocessableError(f"'to' ({end}) must not be after today ({today}, the hub's local date)")
    if start < EARLIEST:
        raise UnprocessableError(f"'from' ({start}) must not be before {EARLIEST}")


def check_size(wards: int, days: int) -> None:
    """UnprocessableError if wards x days exceeds MAX_ROWS (pure)."""
    if wards * days > MAX_ROWS:
        raise UnprocessableError(
            f"{wards} wards x {days} days is more than {MAX_ROWS} rows: name a ward or shorten the range"
        )


def build_rows(
    ward_ids: Iterable[str],
    days: Sequence[date],
    counts: Counts,
    first_counts: Counts,
    populations: Mapping[str, int | None],
) -> list[DailyAggregate]:
    """The ward x day grid, by ward then day, from the database's counts (pure).

    `counts` holds DAILY_METRICS per (ward, day); `first_counts` holds CUMULATIVE_METRICS per (ward, day of
    first occurrence), also for days before the range, which make each ward's starting totals.
    """
    if not days:
        return []
    first_day = days[0]
    baseline: dict[tuple[str, str], int] = {}
    for (ward, day, metric), n in first_counts.items():
        if day < first_day:
            baseline[(ward, metric)] = baseline.get((ward, metric), 0) + n
    rows = []
    for ward in ward_ids:
        totals = {metric: baseline.get((ward, metric), 0) for metric in CUMULATIVE_METRICS}
        population = populations.get(ward)
        for day in days:
            daily = {metric: counts.get((ward, day, metric), 0) for metric in DAILY_METRICS}
            for metric in CUMULATIVE_METRICS:
                totals[metric] += first_counts.get((ward, day, metric), 0)
            rows.append(
                DailyAggregate(
                    ward_id=ward,
                    date=day,
                    **daily,
                    positivity=positivity(daily["tests_positive"], daily["tests_negative"]),
                    **totals,
                    population=population,
                    coverage_at_least_one=coverage(totals["people_vaccinated"], population),
                    coverage_complete=coverage(totals["people_fully_vaccinated"], population),
                )
            )
    return rows


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_rows(rows: Iterable[DailyAggregate]) -> list[list[str]]:
    """The header, then one line per ward and day: empty for None, ratios with 6 decimals (pure)."""
    return [list(CSV_COLUMNS), *([_csv_value(v) for v in astuple(row)] for row in rows)]


def write_csv(rows: Iterable[DailyAggregate]) -> str:
    """The rows as CSV text (RFC 4180: CRLF line ends), header first (pure)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(csv_rows(rows))
    return buffer.getvalue()


class AggregateService:
    """Daily aggregates with the caller's ward scope, and the wards' populations coverage divides by."""

    def __init__(self, repository: Repository, clock: Clock, offset_minutes: int) -> None:
        self._repo = repository
        self._records = repository.aggregates
        self._clock = clock
        self._offset = offset_minutes

    def daily(self, actor: Actor, *, ward: str | None, start: date, end: date) -> list[DailyAggregate]:
        """One row per ward and day from `start` to `end` (local dates, both included): the named ward, or
        every ward of the caller (an admin: every registered ward and every ward a staff account serves)."""
        actor.require(AGGREGATE_ROLES, "reading daily aggregates")
        now = utc_from_timestamp(self._clock.now())
        check_range(start, end, local_date(now, self._offset))
        if ward is not None:
            actor.check_ward(ward, f"ward {ward}")
            ward_ids: Collection[str] = frozenset({ward})
        else:
            # Always a list of wards, for an admin too: every query is then an index range per ward.
            ward_ids = actor.wards if actor.role is not Role.ADMIN else self._records.known_ward_ids()
        days = days_between(start, end)
        check_size(len(ward_ids), len(days))
        range_start = local_midnight(start, self._offset)
        range_end = local_midnight(end + timedelta(days=1), self._offset)
        day_ends = [(day, min(local_midnight(day + timedelta(days=1), self._offset), now)) for day in days]
        with self._repo.read() as conn:
            counts = self._records.daily_counts(ward_ids, range_start, range_end, self._offset, conn=conn)
            counts.update(self._records.in_quarantine(ward_ids, day_ends, conn=conn))
            first_counts = self._records.first_doses(ward_ids, range_end, self._offset, conn=conn)
            registered = self._records.list_wards(ward_ids, conn=conn)
        populations = {w.id: w.population for w in registered}
        return build_rows(sorted(ward_ids), days, counts, first_counts, populations)

    def list_wards(self, actor: Actor) -> list[Ward]:
        """The registered wards the caller serves (an admin: all), by id."""
        actor.require(AGGREGATE_ROLES, "reading wards")
        return self._records.list_wards(actor.ward_filter)

    def put_ward(self, actor: Actor, ward_id: str, *, name: str, population: int | None) -> Ward:
        """Register a ward or replace its name and population (admins only)."""
        actor.require({Role.ADMIN}, "setting a ward's name and population")
        return self._records.put_ward(
            ward_id, name=name, population=population, now=utc_from_timestamp(self._clock.now())
        )
