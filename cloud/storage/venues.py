"""Venues and road checkpoints, citizens' check-ins and checkpoint crossings."""

from __future__ import annotations

import builtins
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from cloud.storage.base import Records
from cloud.storage.schema import checkins, crossings, venues


@dataclass(frozen=True, slots=True)
class Venue:
    """A venue (check-ins by QR code) or a road checkpoint (crossings recorded by its staff)."""

    id: int
    kind: str
    name: str
    ward_id: str
    address: str
    created_by: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> Venue:
        """Build from a `venues` row."""
        return cls(
            row["id"],
            row["kind"],
            row["name"],
            row["ward_id"],
            row["address"],
            row["created_by"],
            row["created_at"],
        )


@dataclass(frozen=True, slots=True)
class Checkin:
    """A citizen's presence at a venue (`present_until`: check-out, or check-in plus the default dwell)."""

    id: int
    venue_id: int
    identity_hash: str
    checked_in_at: datetime
    checked_out_at: datetime | None
    present_until: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> Checkin:
        """Build from a `checkins` row."""
        return cls(
            row["id"],
            row["venue_id"],
            row["identity_hash"],
            row["checked_in_at"],
            row["checked_out_at"],
            row["present_until"],
        )


@dataclass(frozen=True, slots=True)
class Crossing:
    """One person crossing a checkpoint: direction, time and the health status they showed."""

    id: int
    venue_id: int
    identity_hash: str
    direction: str
    crossed_at: datetime
    present_until: datetime
    status_shown: str
    recorded_by: str

    @classmethod
    def from_row(cls, row: RowMapping) -> Crossing:
        """Build from a `crossings` row."""
        return cls(
            row["id"],
            row["venue_id"],
            row["identity_hash"],
            row["direction"],
            row["crossed_at"],
            row["present_until"],
            row["status_shown"],
            row["recorded_by"],
        )


class VenueRecords(Records):
    """Reads and writes of `venues`, `checkins` and `crossings`."""

    def add(
        self,
        *,
        kind: str,
        name: str,
        ward_id: str,
        address: str,
        created_by: str,
        now: datetime,
        conn: Connection | None = None,
    ) -> Venue:
        """Insert a venue or checkpoint."""
        values = {
            "kind": kind,
            "name": name,
            "ward_id": ward_id,
            "address": address,
            "created_by": created_by,
            "created_at": now,
        }
        with self._tx(conn, write=True) as c:
            row = c.execute(venues.insert().values(**values).returning(*venues.c)).mappings().one()
        return Venue.from_row(row)

    def get(self, venue_id: int, *, conn: Connection | None = None) -> Venue | None:
        """The venue with this id, if any."""
        with self._tx(conn) as c:
            row = c.execute(sa.select(venues).where(venues.c.id == venue_id)).mappings().first()
        return Venue.from_row(row) if row else None

    def get_many(self, venue_ids: Collection[int], *, conn: Connection | None = None) -> dict[int, Venue]:
        """The venues with these ids, by id (missing ids are left out)."""
        if not venue_ids:
            return {}
        with self._tx(conn) as c:
            rows = c.execute(sa.select(venues).where(venues.c.id.in_(sorted(set(venue_ids))))).mappings()
            return {row["id"]: Venue.from_row(row) for row in rows}

    def list(
        self,
        *,
        wards: Collection[str] | None,
        kind: str | None = None,
        limit: int = 50,
        offset: int = 0,
        conn: Connection | None = None,
    ) -> builtins.list[Venue]:
        """Venues of these wards (None: every ward), by id."""
        query = sa.select(venues)
        if wards is not None:
            query = query.where(venues.c.ward_id.in_(sorted(wards)))
        if kind is not None:
            query = query.where(venues.c.kind == kind)
        query = query.order_by(venues.c.id).limit(limit).offset(offset)
        with self._tx(conn) as c:
            return [Venue.from_row(r) for r in c.execute(query).mappings()]

    def add_checkin(
        self,
        *,
        venue_id: int,
        identity_hash: str,
        checked_in_at: datetime,
        present_until: datetime,
        conn: Connection | None = None,
    ) -> Checkin:
        """Insert a check-in (no check-out yet)."""
        values = {
            "venue_id": venue_id,
            "identity_hash": identity_hash,
            "checked_in_at": checked_in_at,
            "checked_out_at": None,
            "present_until": present_until,
        }
        with self._tx(conn, write=True) as c:
            row = c.execute(checkins.insert().values(**values).returning(*checkins.c)).mappings().one()
        return Checkin.from_row(row)

    def get_checkin(self, checkin_id: int, *, conn: Connection | None = None) -> Checkin | None:
        """The check-in with this id, if any."""
        with self._tx(conn) as c:
            row = c.execute(sa.select(checkins).where(checkins.c.id == checkin_id)).mappings().first()
        return Checkin.from_row(row) if row else None

    def check_out(
        self,
        checkin_id: int,
        *,
        checked_out_at: datetime,
        present_until: datetime,
        conn: Connection | None = None,
    ) -> Checkin | None:
        """Record the check-out of a check-in that has none; None if it has one already (or is missing)."""
        with self._tx(conn, write=True) as c:
            updated = (
                c.execute(
                    checkins.update()
                    .where(checkins.c.id == checkin_id, checkins.c.checked_out_at.is_(None))
                    .values(checked_out_at=checked_out_at, present_until=present_until)
                    .returning(*checkins.c)
                )
                .mappings()
                .first()
            )
        return Checkin.from_row(updated) if updated else None

    def list_checkins(
        self,
        *,
        venue_id: int | None = None,
        identity_hash: str | None = None,
        limit: int = 50,
        offset: int = 0,
        conn: Connection | None = None,
    ) -> builtins.list[Checkin]:
        """Check-ins at a venue and/or of one person, newest first."""
        query = sa.select(checkins)
        if venue_id is not None:
            query = query.where(checkins.c.venue_id == venue_id)
        if identity_hash is not None:
            query = query.where(checkins.c.identity_hash == identity_hash)
        query = (
            query.order_by(checkins.c.checked_in_at.desc(), checkins.c.id.desc()).limit(limit).offset(offset)
        )
        with self._tx(conn) as c:
            return [Checkin.from_row(r) for r in c.execute(query).mappings()]

    def add_crossing(
        self,
        *,
        venue_id: int,
        identity_hash: str,
        direction: str,
        crossed_at: datetime,
        present_until: datetime,
        status_shown: str,
        recorded_by: str,
        conn: Connection | None = None,
    ) -> Crossing:
        """Insert a checkpoint crossing."""
        values = {
            "venue_id": venue_id,
            "identity_hash": identity_hash,
            "direction": direction,
            "crossed_at": crossed_at,
            "present_until": present_until,
            "status_shown": status_shown,
            "recorded_by": recorded_by,
        }
        with self._tx(conn, write=True) as c:
            row = c.execute(crossings.insert().values(**values).returning(*crossings.c)).mappings().one()
        return Crossing.from_row(row)

    def list_crossings(
        self, *, venue_id: int, limit: int = 50, offset: int = 0, conn: Connection | None = None
    ) -> builtins.list[Crossing]:
        """Crossings at a checkpoint, newest first."""
        query = (
            sa.select(crossings)
            .where(crossings.c.venue_id == venue_id)
            .order_by(crossings.c.crossed_at.desc(), crossings.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self._tx(conn) as c:
            return [Crossing.from_row(r) for r in c.execute(query).mappings()]
