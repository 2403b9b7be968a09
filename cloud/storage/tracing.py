"""Tracing's reads (presences, encounters, households) and its one write (pending orders for contacts).

Every read is one set-based statement over bounded index ranges: a person's presences come from
(identity_hash, time) indexes; the people present at the same place come from (venue_id, time) indexes,
joined against the sources' presences given as a VALUES list, each with its own time range. A stay never
lasts longer than `max_stay` (cloud/venues.py MAX_STAY), so a presence that can overlap [p_from, p_until)
started in [p_from - max_stay, p_until): that is the range scanned.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
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
        people = sorted(set(identity_hashes))
        query = _presence_selects(
            sa.and_(
                checkins.c.identity_hash.in_(people),
                checkins.c.checked_in_at >= start - max_stay,
                checkins.c.checked_in_at < end,
                checkins.c.present_until > start,
            ),
            sa.and_(
                crossings.c.identity_hash.in_(people),
                crossings.c.crossed_at >= start - max_stay,
                crossings.c.crossed_at < end,
                crossings.c.present_until > start,
            ),
        )
        with self._tx(conn) as c:
            return [Presence(r.identity_hash, r.venue_id, r.source, r.start, r.end) for r in c.execute(query)]

    def encounters(
        self,
        sources: Sequence[Presence],
        max_stay: timedelta,
        *,
        conn: Connection | None = None,
    ) -> list[Encounter]:
        """Everyone else whose check-in or crossing overlaps one of `sources` at the same place."""
        if not sources:
            return []
        given = sa.values(
            sa.column("n", sa.Integer),
            sa.column("venue_id", sa.Integer),
            sa.column("lo", UtcDateTime),
            sa.column("p_from", UtcDateTime),
            sa.column("p_until", UtcDateTime),
            sa.column("src", sa.String),
            name="given",
        ).data(
            [
                (n, p.venue_id, p.start - max_stay, p.start, p.end, p.identity_hash)
                for n, p in enumerate(sources)
            ]
        )
        # A CTE, not a FROM (VALUES ...) AS t(cols): SQLite has no column aliases on a derived table.
        v = given.cte("given")
        query = sa.union_all(
            sa.select(
                v.c.n,
                checkins.c.identity_hash,
                checkins.c.venue_id,
                sa.literal("checkin").label("source"),
                checkins.c.checked_in_at.label("start"),
                checkins.c.present_until.label("end"),
            )
            .select_from(v)
            .join(
                checkins,
                sa.and_(
                    checkins.c.venue_id == v.c.venue_id,
                    checkins.c.checked_in_at >= v.c.lo,
                    checkins.c.checked_in_at < v.c.p_until,
                    checkins.c.present_until > v.c.p_from,
                    checkins.c.identity_hash != v.c.src,
                ),
            ),
            sa.select(
                v.c.n,
                crossings.c.identity_hash,
                crossings.c.venue_id,
                sa.literal("crossing").label("source"),
                crossings.c.crossed_at.label("start"),
                crossings.c.present_until.label("end"),
            )
            .select_from(v)
            .join(
                crossings,
                sa.and_(
                    crossings.c.venue_id == v.c.venue_id,
                    crossings.c.crossed_at >= v.c.lo,
                    crossings.c.crossed_at < v.c.p_until,
                    crossings.c.present_until > v.c.p_from,
                    crossings.c.identity_hash != v.c.src,
                ),
            ),
        )
        with self._tx(conn) as c:
            return [
                Encounter(sources[r.n], Presence(r.identity_hash, r.venue_id, r.source, r.start, r.end))
                for r in c.execute(query)
            ]

    def housemates(
        self, identity_hashes: Collection[str], *, conn: Connection | None = None
    ) -> list[Housemate]:
        """Registered citizens living at the same address (case and spaces ignored) in the same ward."""
        if not identity_hashes:
            return []
        other = citizens.alias("other")
        key = sa.func.lower(sa.func.trim(citizens.c.address))
        query = (
            sa.select(
                citizens.c.identity_hash,
                other.c.identity_hash.label("housemate"),
                citizens.c.ward_id,
                citizens.c.address,
            )
            .join(
                other,
                sa.and_(
                    other.c.ward_id == citizens.c.ward_id,
                    sa.func.lower(sa.func.trim(other.c.address)) == key,
                    other.c.id != citizens.c.id,
                ),
            )
            .where(
                citizens.c.identity_hash.in_(sorted(set(identity_hashes))), citizens.c.address.is_not(None)
            )
        )
        with self._tx(conn) as c:
            return [Housemate(r.identity_hash, r.housemate, r.ward_id, r.address) for r in c.execute(query)]

    def citizens_by_hash(
        self, identity_hashes: Collection[str], *, conn: Connection | None = None
    ) -> dict[str, Citizen]:
        """The registered citizens among these people, by identity hash."""
        if not identity_hashes:
            return {}
        query = sa.select(citizens).where(citizens.c.identity_hash.in_(sorted(set(identity_hashes))))
        with self._tx(conn) as c:
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
