"""Tracing's reads (presences, encounters, households) and its one write (pending orders for contacts).

Every read is one set-based statement over bounded index ranges: a person's presences come from
(identity_hash, time) indexes; the people present at the same place come from (venue_id, time, end)
indexes, joined against the sources' presences, each with its own time range. A stay never lasts longer
than `max_stay` (cloud/venues.py MAX_STAY), so a presence that can overlap [p_from, p_until) started in
[p_from - max_stay, p_until): that is the range scanned, and the end in the index key drops the stays that
ended before p_from without reading the table. The statement clips each overlap to the window and leaves out
the people already found, so only evidence rows come back. On PostgreSQL the sources travel as arrays
(unnest) and identity hashes as one parameter, and a venue's overlapping presences are scanned once; on
SQLite the sources are a VALUES list.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from cloud.storage.base import Records
from cloud.storage.records import Citizen
from cloud.storage.schema import UtcDateTime, checkins, citizens, crossings, orders, persons


@dataclass(frozen=True, slots=True)
class Presence:
    """A person's stay at a venue (a check-in) or a checkpoint (a crossing), from `start` to `end`."""

    identity_hash: str
    venue_id: int
    source: str  # "checkin" or "crossing"
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Encounter:
    """Someone present at the same place as a source's presence, with both intervals (not yet clipped)."""

    source: Presence
    contact: Presence


# Someone's stay that overlapped a source's presence, as the database gives it: (the source's index in the
# sources given, the contact's identity hash, venue, "checkin" or "crossing", start and end of the overlap,
# already clipped to the window). A plain tuple: an F2 trace reads thousands, and tuples of plain values
# cost the least to build and to hold (the garbage collector stops tracking them).
Overlap = tuple[int, str, int, str, datetime, datetime]


@dataclass(frozen=True, slots=True)
class Housemate:
    """Two registered citizens at the same address in the same ward."""

    identity_hash: str
    housemate_hash: str
    ward_id: str
    address: str


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """The pending or active order of a contact: made now (`created`), or the one they already had."""

    identity_hash: str
    order_id: int
    person_id: int
    created: bool


def _presence_selects(
    where_checkin: sa.ColumnElement[bool], where_crossing: sa.ColumnElement[bool]
) -> sa.CompoundSelect[tuple[str, int, str, datetime, datetime]]:
    return sa.union_all(
        sa.select(
            checkins.c.identity_hash,
            checkins.c.venue_id,
            sa.literal("checkin").label("source"),
            checkins.c.checked_in_at.label("start"),
            checkins.c.present_until.label("end"),
        ).where(where_checkin),
        sa.select(
            crossings.c.identity_hash,
            crossings.c.venue_id,
            sa.literal("crossing").label("source"),
            crossings.c.crossed_at.label("start"),
            crossings.c.present_until.label("end"),
        ).where(where_crossing),
    )


def _among(
    column: sa.ColumnElement[str], identity_hashes: Collection[str], dialect: str, *, negate: bool = False
) -> sa.ColumnElement[bool]:
    """`column IN (identity hashes)` (or NOT IN). On PostgreSQL the hashes travel as one text parameter,
    split by string_to_array (they are hex: a comma separates them safely), so the statement text stays the
    same whatever their count (SQLAlchemy and psycopg cache it) and nothing is quoted per value. Both ways
    read the hashes through `unnest(...)` in a subquery, which PostgreSQL evaluates once: a hashed subplan or
    semi-join over a small table, index probes over a large one. `= ANY(string_to_array(...))` would be
    cheaper to write but, under a prepared statement's generic plan, a sequential scan re-splits the whole
    parameter for every row (4.8 s for 6,000 hashes against 2,000 citizens not yet analyzed)."""
    people = sorted(set(identity_hashes))
    if dialect == "postgresql":
        array = sa.func.string_to_array(sa.bindparam(None, ",".join(people), type_=sa.Text), ",")
        listed = sa.select(sa.func.unnest(array)).scalar_subquery()
        return column.not_in(listed) if negate else column.in_(listed)
    return column.not_in(people) if negate else column.in_(people)


def _given(sources: Sequence[Presence], max_stay: timedelta) -> sa.CTE:
    """The sources as a VALUES list (n, venue_id, lo, p_from, p_until, src), `lo` the earliest start of a
    stay that can overlap."""
    # A CTE, not a FROM (VALUES ...) AS t(cols): SQLite has no column aliases on a derived table.
    values = sa.values(
        sa.column("n", sa.Integer),
        sa.column("venue_id", sa.Integer),
        sa.column("lo", UtcDateTime),
        sa.column("p_from", UtcDateTime),
        sa.column("p_until", UtcDateTime),
        sa.column("src", sa.String),
        name="given",
    ).data(
        [(n, p.venue_id, p.start - max_stay, p.start, p.end, p.identity_hash) for n, p in enumerate(sources)]
    )
    return values.cte("given")


def _stays_at_sources(
    given: sa.CTE,
    source: str,
    table: sa.Table,
    at: sa.Column[datetime],
    window: tuple[datetime, datetime],
    exclude: Collection[str],
) -> sa.Select[tuple[int, str, int, str, datetime, datetime]]:
    """The stays in `table` (check-ins or crossings, `at` their start) that overlap a source's presence
    inside the window, other than the source's own and `exclude`'s, with the overlap as start and end."""
    # SQLite's max() and min() with several arguments are scalars, PostgreSQL's greatest() and least().
    start = sa.func.max(at, given.c.p_from, sa.literal(window[0], UtcDateTime), type_=UtcDateTime)
    end = sa.func.min(
        table.c.present_until, given.c.p_until, sa.literal(window[1], UtcDateTime), type_=UtcDateTime
    )
    overlapping = sa.and_(
        table.c.venue_id == given.c.venue_id,
        at >= given.c.lo,
        at < given.c.p_until,
        table.c.present_until > given.c.p_from,
        table.c.identity_hash != given.c.src,
    )
    return (
        sa.select(
            given.c.n,
            table.c.identity_hash,
            table.c.venue_id,
            sa.literal(source).label("source"),
            start.label("start"),
            end.label("end"),
        )
        .select_from(given)
        .join(table, overlapping)
        .where(start < end, _among(table.c.identity_hash, exclude, "sqlite", negate=True))
    )


def _spans(sources: Sequence[Presence]) -> tuple[list[int], list[tuple[int, datetime, datetime]]]:
    """Each source's span, and the spans (venue, start, end): the unions of a venue's overlapping
    presences (pure). At a busy place the F1s' presences overlap a lot (they met the case there)."""
    span_of = [0] * len(sources)
    spans: list[tuple[int, datetime, datetime]] = []
    for n in sorted(range(len(sources)), key=lambda i: (sources[i].venue_id, sources[i].start)):
        p = sources[n]
        if spans and spans[-1][0] == p.venue_id and p.start <= spans[-1][2]:
            venue_id, start, end = spans[-1]
            spans[-1] = (venue_id, start, max(end, p.end))
        else:
            spans.append((p.venue_id, p.start, p.end))
        span_of[n] = len(spans) - 1
    return span_of, spans


def _unnest(name: str, *columns: tuple[str, sa.types.TypeEngine[Any], Iterable[str]]) -> sa.CTE:
    """A CTE over parallel arrays (PostgreSQL): one text parameter per column whatever the number of rows,
    its values joined by commas, split by string_to_array and cast to the column's type (the values hold no
    commas: integers, hex hashes, ISO times). psycopg would dump a Python list element by element, each
    checked for quoting: ~20 ms for the few thousand values of an F2 trace, against ~2 ms for the joins."""
    arrays = [
        sa.cast(
            sa.func.string_to_array(sa.bindparam(f"{name}_{column}", ",".join(values), type_=sa.Text), ","),
            postgresql.ARRAY(kind),
        )
        for column, kind, values in columns
    ]
    table = (
        sa.func.unnest(*arrays)
        .table_valued(*(sa.column(column, kind) for column, kind, _ in columns))
        .render_derived(with_types=False)
    )
    return sa.select(table).cte(name)


def _stays_at_sources_postgresql(
    sources: Sequence[Presence],
    max_stay: timedelta,
    window: tuple[datetime, datetime],
    exclude: Collection[str],
) -> sa.CompoundSelect[tuple[int, str, int, str, datetime, datetime]]:
    """What _stays_at_sources gives, on PostgreSQL: each span's stays are read once (one index range scan
    from the span's start minus the longest stay), then paired with the sources of that span."""
    span_of, spans = _spans(sources)
    longest = sa.literal(max_stay, sa.Interval())
    # Times go in as ISO text with their offset and come back as plain timestamptz, not UtcDateTime: aware
    # datetimes (psycopg's Etc/UTC zone, the same instants); an F2 trace reads over 10,000 rows, and the
    # decorator's conversion of their 20,000 times cost ~30 ms of a 200 ms budget.
    stamp = sa.DateTime(timezone=True)
    given = _unnest(
        "given",
        ("n", sa.Integer(), map(str, range(len(sources)))),
        ("span", sa.Integer(), map(str, span_of)),
        ("p_from", stamp, [p.start.isoformat() for p in sources]),
        ("p_until", stamp, [p.end.isoformat() for p in sources]),
        ("src", sa.String(), [p.identity_hash for p in sources]),
    )
    span = _unnest(
        "span",
        ("span", sa.Integer(), map(str, range(len(spans)))),
        ("venue_id", sa.Integer(), [str(venue_id) for venue_id, _, _ in spans]),
        ("p_from", stamp, [start.isoformat() for _, start, _ in spans]),
        ("p_until", stamp, [end.isoformat() for _, _, end in spans]),
    )
    selects = []
    for source, table, at in (
        ("checkin", checkins, checkins.c.checked_in_at),
        ("crossing", crossings, crossings.c.crossed_at),
    ):
        # A LATERAL subquery with OFFSET 0 (which PostgreSQL does not flatten) keeps one index range scan
        # per span whatever the row estimate of unnest() (otherwise a hash join over a sequential scan of
        # the table was chosen, ten times slower).
        stays = (
            sa.select(table.c.identity_hash, at.label("at"), table.c.present_until)
            .where(
                table.c.venue_id == span.c.venue_id,
                at >= span.c.p_from - longest,
                at < span.c.p_until,
                table.c.present_until > span.c.p_from,
            )
            .offset(0)
            .lateral()
        )
        read = sa.select(span.c.span, span.c.venue_id, stays).select_from(span).join(stays, sa.true()).cte()
        start = sa.func.greatest(read.c.at, given.c.p_from, sa.literal(window[0], stamp), type_=stamp)
        end = sa.func.least(read.c.present_until, given.c.p_until, sa.literal(window[1], stamp), type_=stamp)
        selects.append(
            sa.select(
                given.c.n,
                read.c.identity_hash,
                read.c.venue_id,
                sa.literal(source).label("source"),
                start.label("start"),
                end.label("end"),
            )
            .select_from(read)
            .join(
                given,
                sa.and_(
                    given.c.span == read.c.span,
                    read.c.at >= given.c.p_from - longest,
                    read.c.at < given.c.p_until,
                    read.c.present_until > given.c.p_from,
                    read.c.identity_hash != given.c.src,
                ),
            )
            .where(start < end, _among(read.c.identity_hash, exclude, "postgresql", negate=True))
        )
    return sa.union_all(*selects)


class TracingRecords(Records):
    """Set-based reads for contact tracing, and pending orders for the contacts found."""

    def presences(
        self,
        identity_hashes: Collection[str],
        start: datetime,
        end: datetime,
        max_stay: timedelta,
        *,
        conn: Connection | None = None,
    ) -> list[Presence]:
        """The check-ins and crossings of these people that overlap [start, end)."""
        if not identity_hashes:
            return []
        with self._tx(conn) as c:
            dialect = c.dialect.name
            query = _presence_selects(
                sa.and_(
                    _among(checkins.c.identity_hash, identity_hashes, dialect),
                    checkins.c.checked_in_at >= start - max_stay,
                    checkins.c.checked_in_at < end,
                    checkins.c.present_until > start,
                ),
                sa.and_(
                    _among(crossings.c.identity_hash, identity_hashes, dialect),
                    crossings.c.crossed_at >= start - max_stay,
                    crossings.c.crossed_at < end,
                    crossings.c.present_until > start,
                ),
            )
            return [Presence(r.identity_hash, r.venue_id, r.source, r.start, r.end) for r in c.execute(query)]

    def overlaps(
        self,
        sources: Sequence[Presence],
        max_stay: timedelta,
        window: tuple[datetime, datetime],
        exclude: Collection[str] = (),
        *,
        conn: Connection | None = None,
    ) -> list[Overlap]:
        """Everyone else (and not in `exclude`) whose check-in or crossing overlaps one of `sources` at the
        same place inside the window: one row per pair of stays, the overlap clipped in the statement."""
        if not sources:
            return []
        with self._tx(conn) as c:
            if c.dialect.name == "postgresql":
                query = _stays_at_sources_postgresql(sources, max_stay, window, exclude)
            else:
                given = _given(sources, max_stay)
                query = sa.union_all(
                    _stays_at_sources(given, "checkin", checkins, checkins.c.checked_in_at, window, exclude),
                    _stays_at_sources(given, "crossing", crossings, crossings.c.crossed_at, window, exclude),
                )
            # Row objects in small batches, each dropped once copied: few of them live long enough for the
            # garbage collector to promote them (an F2 trace reads thousands of rows; full collections of
            # the process's heap would otherwise follow, adding tens of milliseconds).
            return [cast(Overlap, tuple(row)) for rows in c.execute(query).partitions(500) for row in rows]

    def housemates(
        self, identity_hashes: Collection[str], *, conn: Connection | None = None
    ) -> list[Housemate]:
        """Registered citizens living at the same address (case and spaces ignored) in the same ward."""
        if not identity_hashes:
            return []
        other = citizens.alias("other")
        key = sa.func.lower(sa.func.trim(citizens.c.address))
        query = sa.select(
            citizens.c.identity_hash,
            other.c.identity_hash.label("housemate"),
            citizens.c.ward_id,
            citizens.c.address,
        ).join(
            other,
            sa.and_(
                other.c.ward_id == citizens.c.ward_id,
                sa.func.lower(sa.func.trim(other.c.address)) == key,
                other.c.id != citizens.c.id,
            ),
        )
        with self._tx(conn) as c:
            query = query.where(
                _among(citizens.c.identity_hash, identity_hashes, c.dialect.name),
                citizens.c.address.is_not(None),
            )
            return [Housemate(r.identity_hash, r.housemate, r.ward_id, r.address) for r in c.execute(query)]

    def citizens_by_hash(
        self, identity_hashes: Collection[str], *, conn: Connection | None = None
    ) -> dict[str, Citizen]:
        """The registered citizens among these people, by identity hash."""
        if not identity_hashes:
            return {}
        with self._tx(conn) as c:
            query = sa.select(citizens).where(
                _among(citizens.c.identity_hash, identity_hashes, c.dialect.name)
            )
            return {row["identity_hash"]: Citizen.from_row(row) for row in c.execute(query).mappings()}

    def place_pending_order(
        self,
        *,
        identity_hash: str,
        full_name: str,
        phone: str | None,
        ward_id: str,
        address: str,
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        now: datetime,
        conn: Connection,
    ) -> PlacedOrder:
        """The person's pending or active order, else a new pending one (and the person, if new)."""
        person_id: int | None = conn.execute(
            sa.select(persons.c.id).where(persons.c.identity_hash == identity_hash)
        ).scalar_one_or_none()
        if person_id is None:
            person_id = conn.execute(
                persons.insert()
                .values(full_name=full_name, phone=phone, created_at=now, identity_hash=identity_hash)
                .returning(persons.c.id)
            ).scalar_one()
        else:
            existing = conn.execute(
                sa.select(orders.c.id).where(
                    orders.c.person_id == person_id, orders.c.status.in_(("pending", "active"))
                )
            ).scalar_one_or_none()
            if existing is not None:
                return PlacedOrder(identity_hash, existing, person_id, created=False)
        order_id: int = conn.execute(
            orders.insert()
            .values(
                person_id=person_id,
                ward_id=ward_id,
                address=address,
                site_id="",
                device_id=None,
                room_id=None,
                starts_at=starts_at,
                ends_at=ends_at,
                status="pending",
                created_by=created_by,
                created_at=now,
                updated_at=now,
            )
            .returning(orders.c.id)
        ).scalar_one()
        return PlacedOrder(identity_hash, order_id, person_id, created=True)
