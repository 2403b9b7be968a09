"""Daily counts per ward for the aggregates (cloud/aggregates.py), and the `wards` table.

Each metric is one set-based statement: the rows of a bounded time range, read through the (ward, time)
index of their table, grouped by ward and local day. The local day is computed by the database from a
fixed UTC offset (`local_day`), so one scan serves every day of the range. People in quarantine are counted
at given instants (each day's end) by joining the orders to those instants as a VALUES list.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from cloud.storage.base import Records, insert_for
from cloud.storage.schema import (
    UtcDateTime,
    cases,
    checkins,
    crossings,
    declarations,
    officers,
    orders,
    samples,
    vaccine_doses,
    venues,
    wards,
)

# (ward, local day, metric) -> count; the metric names are cloud.aggregates' field names.
Counts = dict[tuple[str, date, str], int]
# Orders that put (or put) a person under monitored quarantine; `pending` ones wait for a bracelet or room.
QUARANTINE_STATUSES = ("active", "ended")


@dataclass(frozen=True, slots=True)
class Ward:
    """A ward's name and population (None: unknown)."""

    id: str
    name: str
    population: int | None
    updated_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> Ward:
        """Build from a `wards` row."""
        return cls(row["id"], row["name"], row["population"], row["updated_at"])


# Named like the SQL functions it stands for (sqlalchemy.func's elements are lower case too).
class local_day(FunctionElement[date]):
    """The local calendar date of a UTC timestamp column at a fixed offset (minutes), on either database."""

    type = sa.Date()
    inherit_cache = True
    name = "local_day"

    def __init__(self, column: sa.ColumnElement[datetime], offset_minutes: int) -> None:
        # Rendered inline (an int from validated settings): the SELECT and the GROUP BY must be the same
        # expression, which PostgreSQL cannot tell of two distinct bound parameters.
        super().__init__(column, sa.literal_column(str(int(offset_minutes))))


@compiles(local_day, "sqlite")
def _local_day_sqlite(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    column, offset = list(element.clauses)
    minutes = int(str(offset))
    return f"date({compiler.process(column, **kw)}, '{minutes:+d} minutes')"


@compiles(local_day, "postgresql")
def _local_day_postgresql(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    column, offset = list(element.clauses)
    minutes = int(str(offset))
    return (
        f"CAST(({compiler.process(column, **kw)} AT TIME ZONE 'UTC') + INTERVAL '{minutes} minutes' AS DATE)"
    )


def _in_wards(column: sa.ColumnElement[str], ward_ids: Collection[str] | None) -> sa.ColumnElement[bool]:
    return sa.true() if ward_ids is None else column.in_(sorted(ward_ids))


class AggregateRecords(Records):
    """The daily counts per ward, and reads and writes of `wards`."""

    # --- wards ---

    def put_ward(
        self,
        ward_id: str,
        *,
        name: str,
        population: int | None,
        now: datetime,
        conn: Connection | None = None,
    ) -> Ward:
        """Create or replace a ward's name and population."""
        values = {"id": ward_id, "name": name, "population": population, "updated_at": now}
        with self._tx(conn, write=True) as c:
            statement = insert_for(c, wards).values(**values)
            statement = statement.on_conflict_do_update(
                index_elements=[wards.c.id],
                set_={"name": name, "population": population, "updated_at": now},
            )
            row = c.execute(statement.returning(*wards.c)).mappings().one()
        return Ward.from_row(row)

    def list_wards(
        self, ward_ids: Collection[str] | None = None, *, conn: Connection | None = None
    ) -> builtins.list[Ward]:
        """The wards with these ids (None: every ward), by id."""
        query = sa.select(wards).where(_in_wards(wards.c.id, ward_ids)).order_by(wards.c.id)
        with self._tx(conn) as c:
            return [Ward.from_row(r) for r in c.execute(query).mappings()]

    def known_ward_ids(self, *, conn: Connection | None = None) -> set[str]:
        """Every registered ward and every ward a staff account serves."""
        with self._tx(conn) as c:
            known: set[str] = set(c.execute(sa.select(wards.c.id)).scalars())
            served: list[list[str]] = list(c.execute(sa.select(officers.c.wards)).scalars())
        for ward_ids in served:
            known.update(ward_ids)
        return known

    # --- daily counts ---

    def daily_counts(
        self,
        ward_ids: Collection[str] | None,
        start: datetime,
        end: datetime,
        offset_minutes: int,
        *,
        conn: Connection | None = None,
    ) -> Counts:
        """Every per-day metric of these wards (None: all) over [start, end), by (ward, local day, metric).

        `start` and `end` are local midnights (in UTC), so that every counted row falls on a day of the range.
        """
        counts: Counts = {}
        with self._tx(conn) as c:
            for query, metrics in self._count_queries(ward_ids, start, end, offset_minutes):
                for ward_id, day, key, n in _grouped(c.execute(query)):
                    for metric in metrics(key):
                        counts[(ward_id, day, metric)] = counts.get((ward_id, day, metric), 0) + n
        return counts

    def first_doses(
        self,
        ward_ids: Collection[str] | None,
        end: datetime,
        offset_minutes: int,
        *,
        conn: Connection | None = None,
    ) -> Counts:
        """People newly vaccinated in each ward by local day before `end`, over the ward's whole history:
        `people_vaccinated` (their first dose there) and `people_fully_vaccinated` (their first dose there
        that completes a series)."""
        per_person = (
            sa.select(
                vaccine_doses.c.ward_id,
                sa.func.min(vaccine_doses.c.administered_at).label("first_at"),
                sa.func.min(
                    sa.case(
                        (
                            vaccine_doses.c.dose_number >= vaccine_doses.c.series_doses,
                            vaccine_doses.c.administered_at,
                        ),
                    )
                ).label("complete_at"),
            )
            .where(_in_wards(vaccine_doses.c.ward_id, ward_ids), vaccine_doses.c.administered_at < end)
            .group_by(vaccine_doses.c.ward_id, vaccine_doses.c.identity_hash)
            .cte("per_person")
        )
        queries = []
        for column, metric in (
            (per_person.c.first_at, "people_vaccinated"),
            (per_person.c.complete_at, "people_fully_vaccinated"),
        ):
            day = local_day(column, offset_minutes)
            queries.append(
                sa.select(
                    per_person.c.ward_id,
                    day.label("day"),
                    sa.literal(metric).label("metric"),
                    sa.func.count(),
                )
                .where(column.is_not(None))
                .group_by(per_person.c.ward_id, day)
            )
        with self._tx(conn) as c:
            return {(w, d, m): n for w, d, m, n in _grouped(c.execute(sa.union_all(*queries)))}

    def in_quarantine(
        self,
        ward_ids: Collection[str] | None,
        instants: Sequence[tuple[date, datetime]],
        *,
        conn: Connection | None = None,
    ) -> Counts:
        """People under a monitored quarantine order (active, or since ended) at each (day, instant)."""
        if not instants:
            return {}
        days = [day for day, _ in instants]
        given = sa.values(sa.column("n", sa.Integer), sa.column("at", UtcDateTime), name="instants").data(
            [(n, at) for n, (_, at) in enumerate(instants)]
        )
        # A CTE, not a FROM (VALUES ...) AS t(cols): SQLite has no column aliases on a derived table.
        v = given.cte("instants")
        query = (
            sa.select(orders.c.ward_id, v.c.n, sa.func.count(sa.distinct(orders.c.person_id)))
            .select_from(v)
            .join(orders, sa.and_(orders.c.starts_at <= v.c.at, orders.c.ends_at > v.c.at))
            .where(
                _in_wards(orders.c.ward_id, ward_ids),
                orders.c.status.in_(QUARANTINE_STATUSES),
                orders.c.starts_at <= max(at for _, at in instants),
                orders.c.ends_at > min(at for _, at in instants),
            )
            .group_by(orders.c.ward_id, v.c.n)
        )
        with self._tx(conn) as c:
            found = cast("Iterable[tuple[str, int, int]]", c.execute(query))
            return {(w, days[n], "in_quarantine"): count for w, n, count in found}

    @staticmethod
    def _count_queries(
        ward_ids: Collection[str] | None, start: datetime, end: datetime, offset_minutes: int
    ) -> list[tuple[sa.Select[Any], Callable[[str], tuple[str, ...]]]]:
        """Per table: a query yielding (ward, day, key, count), and the metrics a key counts towards."""
        decl_day = local_day(declarations.c.filed_at, offset_minutes)
        checkin_day = local_day(checkins.c.checked_in_at, offset_minutes)
        crossing_day = local_day(crossings.c.crossed_at, offset_minutes)
        result_day = local_day(samples.c.resulted_at, offset_minutes)
        case_day = local_day(cases.c.confirmed_at, offset_minutes)
        dose_day = local_day(vaccine_doses.c.administered_at, offset_minutes)
        # A resulted sample's key: kind, result and whether it was a pool, e.g. "pcr:positive:0".
        sample_key = (
            samples.c.kind + ":" + samples.c.status + ":" + sa.case((samples.c.pooled, "1"), else_="0")
        )
        return [
            (
                sa.select(declarations.c.ward_id, decl_day, declarations.c.kind, sa.func.count())
                .where(
                    _in_wards(declarations.c.ward_id, ward_ids),
                    declarations.c.filed_at >= start,
                    declarations.c.filed_at < end,
                )
                .group_by(declarations.c.ward_id, decl_day, declarations.c.kind),
                lambda kind: (f"declarations_{kind}",),
            ),
            (
                sa.select(venues.c.ward_id, checkin_day, sa.literal("checkins"), sa.func.count())
                .select_from(checkins.join(venues, venues.c.id == checkins.c.venue_id))
                .where(
                    _in_wards(venues.c.ward_id, ward_ids),
                    checkins.c.checked_in_at >= start,
                    checkins.c.checked_in_at < end,
                )
                .group_by(venues.c.ward_id, checkin_day),
                lambda key: (key,),
            ),
            (
                sa.select(venues.c.ward_id, crossing_day, crossings.c.direction, sa.func.count())
                .select_from(crossings.join(venues, venues.c.id == crossings.c.venue_id))
                .where(
                    _in_wards(venues.c.ward_id, ward_ids),
                    crossings.c.crossed_at >= start,
                    crossings.c.crossed_at < end,
                )
                .group_by(venues.c.ward_id, crossing_day, crossings.c.direction),
                lambda direction: (f"crossings_{direction}",),
            ),
            (
                sa.select(samples.c.ward_id, result_day, sample_key, sa.func.count())
                .where(
                    _in_wards(samples.c.ward_id, ward_ids),
                    samples.c.resulted_at >= start,
                    samples.c.resulted_at < end,
                    samples.c.status != "pending",
                )
                .group_by(samples.c.ward_id, result_day, sample_key),
                _sample_metrics,
            ),
            (
                sa.select(cases.c.ward_id, case_day, sa.literal("cases_new"), sa.func.count())
                .where(
                    _in_wards(cases.c.ward_id, ward_ids),
                    cases.c.confirmed_at >= start,
                    cases.c.confirmed_at < end,
                )
                .group_by(cases.c.ward_id, case_day),
                lambda key: (key,),
            ),
            (
                sa.select(vaccine_doses.c.ward_id, dose_day, sa.literal("doses"), sa.func.count())
                .where(
                    _in_wards(vaccine_doses.c.ward_id, ward_ids),
                    vaccine_doses.c.administered_at >= start,
                    vaccine_doses.c.administered_at < end,
                )
                .group_by(vaccine_doses.c.ward_id, dose_day),
                lambda key: (key,),
            ),
        ]


def _grouped(result: Iterable[Any]) -> Iterable[tuple[str, date, str, int]]:
    """A counting query's rows as typed tuples: ward, local day, key, count."""
    return cast("Iterable[tuple[str, date, str, int]]", result)


def _sample_metrics(key: str) -> tuple[str, ...]:
    """What a resulted sample counts towards: a test of its kind; a positive or negative if it is one
    person's (a pool's result is not a person's: its members are retested, and those retests count)."""
    kind, status, pooled = key.split(":")
    if pooled == "0" and status in ("positive", "negative"):
        return (f"tests_{kind}", f"tests_{status}")
    return (f"tests_{kind}",)
