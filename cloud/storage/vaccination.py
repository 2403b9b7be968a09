"""Vaccination records: sites, slots and bookings, doses (one by one and in bulk), adverse events."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from cloud.storage.base import Records, insert_for
from cloud.storage.schema import (
    adverse_events,
    vaccination_bookings,
    vaccination_sites,
    vaccination_slots,
    vaccine_doses,
)


@dataclass(frozen=True, slots=True)
class VaccinationSite:
    """A place that vaccinates, in one ward, with a daily capacity."""

    id: int
    name: str
    ward_id: str
    address: str | None
    daily_capacity: int
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Slot:
    """An appointment window of a site: its start, how many it takes and how many booked it."""

    id: int
    site_id: int
    starts_at: datetime
    capacity: int
    booked: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Booking:
    """A citizen's booking of a slot (booked, or cancelled and kept as history)."""

    id: int
    slot_id: int
    citizen_id: int
    status: str
    booked_at: datetime
    cancelled_at: datetime | None


@dataclass(frozen=True, slots=True)
class DoseRecord:
    """A dose given: who (keyed hash only), which product and lot, dose n of a series, where and when."""

    id: int
    identity_hash: str
    product: str
    lot: str
    dose_number: int
    series_doses: int
    site_id: int
    ward_id: str
    administered_at: datetime
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class AdverseEvent:
    """An adverse event following immunisation, reported against one dose."""

    id: int
    dose_id: int
    ward_id: str
    severity: str
    onset_at: datetime
    description: str
    reported_by: str
    reporter_role: str
    reported_at: datetime


def _build(cls: type[Any], row: RowMapping) -> Any:
    return cls(**{f.name: row[f.name] for f in fields(cls)})


# The bulk path's column order: rows arrive as tuples in this order, already converted for the driver.
DOSE_COLUMNS = (
    "identity_hash",
    "product",
    "lot",
    "dose_number",
    "series_doses",
    "site_id",
    "ward_id",
    "administered_at",
    "recorded_by",
    "recorded_at",
)


class VaccinationRecords(Records):
    """Reads and writes of the vaccination tables."""

    # --- sites and slots ---

    def add_site(
        self,
        *,
        name: str,
        ward_id: str,
        address: str | None,
        daily_capacity: int,
        created_by: str,
        now: datetime,
        conn: Connection | None = None,
    ) -> VaccinationSite:
        """Insert a site."""
        values = {
            "name": name,
            "ward_id": ward_id,
            "address": address,
            "daily_capacity": daily_capacity,
            "created_by": created_by,
            "created_at": now,
        }
        with self._tx(conn, write=True) as c:
            row = c.execute(vaccination_sites.insert().values(**values).returning(*vaccination_sites.c))
            return _build(VaccinationSite, row.mappings().one())  # type: ignore[no-any-return]

    def get_site(self, site_id: int, *, conn: Connection | None = None) -> VaccinationSite | None:
        """The site with this id, if any."""
        with self._tx(conn) as c:
            row = c.execute(sa.select(vaccination_sites).where(vaccination_sites.c.id == site_id)).mappings()
            found = row.first()
        return _build(VaccinationSite, found) if found else None

    def list_sites(
        self,
        *,
        wards: Collection[str] | None = None,
        limit: int = 100,
        offset: int = 0,
        conn: Connection | None = None,
    ) -> builtins.list[VaccinationSite]:
        """Sites of these wards (None: every ward), by id."""
        query = sa.select(vaccination_sites)
        if wards is not None:
            query = query.where(vaccination_sites.c.ward_id.in_(sorted(wards)))
        query = query.order_by(vaccination_sites.c.id).limit(limit).offset(offset)
        with self._tx(conn) as c:
            rows = c.execute(query).mappings().all()
        return [_build(VaccinationSite, r) for r in rows]

    def slot_capacity_between(
        self, site_id: int, start: datetime, end: datetime, *, conn: Connection | None = None
    ) -> int:
        """The total capacity of a site's slots starting in [start, end)."""
        query = sa.select(sa.func.coalesce(sa.func.sum(vaccination_slots.c.capacity), 0)).where(
            vaccination_slots.c.site_id == site_id,
            vaccination_slots.c.starts_at >= start,
            vaccination_slots.c.starts_at < end,
        )
        with self._tx(conn) as c:
            return int(c.execute(query).scalar_one())

    def add_slot(
        self,
        *,
        site_id: int,
        starts_at: datetime,
        capacity: int,
        now: datetime,
        conn: Connection | None = None,
    ) -> Slot:
        """Insert a slot (IntegrityError if the site already has one starting then)."""
        values = {
            "site_id": site_id,
            "starts_at": starts_at,
            "capacity": capacity,
            "booked": 0,
            "created_at": now,
        }
        with self._tx(conn, write=True) as c:
            row = c.execute(vaccination_slots.insert().values(**values).returning(*vaccination_slots.c))
            return _build(Slot, row.mappings().one())  # type: ignore[no-any-return]

    def get_slot(self, slot_id: int, *, conn: Connection | None = None) -> Slot | None:
        """The slot with this id, if any."""
        with self._tx(conn) as c:
            found = c.execute(
                sa.select(vaccination_slots).where(vaccination_slots.c.id == slot_id)
            ).mappings()
            row = found.first()
        return _build(Slot, row) if row else None

    def list_slots(
        self,
        site_id: int,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        conn: Connection | None = None,
    ) -> builtins.list[Slot]:
        """A site's slots starting in [start, end), in time order."""
        query = sa.select(vaccination_slots).where(vaccination_slots.c.site_id == site_id)
        if start is not None:
            query = query.where(vaccination_slots.c.starts_at >= start)
        if end is not None:
            query = query.where(vaccination_slots.c.starts_at < end)
        with self._tx(conn) as c:
            rows = c.execute(query.order_by(vaccination_slots.c.starts_at).limit(500)).mappings().all()
        return [_build(Slot, r) for r in rows]

    # --- bookings ---

    def take_place(self, conn: Connection, slot_id: int) -> bool:
        """Count one more booking on the slot if it has room (one conditional UPDATE: no race); True if so."""
        result = conn.execute(
            vaccination_slots.update()
            .where(
                vaccination_slots.c.id == slot_id, vaccination_slots.c.booked < vaccination_slots.c.capacity
            )
            .values(booked=vaccination_slots.c.booked + 1)
        )
        return result.rowcount == 1

    def add_booking(self, conn: Connection, *, slot_id: int, citizen_id: int, now: datetime) -> Booking:
        """Insert a live booking (IntegrityError if the citizen already holds one for this slot)."""
        values = {"slot_id": slot_id, "citizen_id": citizen_id, "status": "booked", "booked_at": now}
        row = conn.execute(vaccination_bookings.insert().values(**values).returning(*vaccination_bookings.c))
        return _build(Booking, row.mappings().one())  # type: ignore[no-any-return]

    def cancel_booking(self, booking_id: int, citizen_id: int, now: datetime) -> Booking | None:
        """Cancel the citizen's live booking and free its place; None if they hold no such live booking."""
        with self._tx(None, write=True) as c:
            row = (
                c.execute(
                    vaccination_bookings.update()
                    .where(
                        vaccination_bookings.c.id == booking_id,
                        vaccination_bookings.c.citizen_id == citizen_id,
                        vaccination_bookings.c.status == "booked",
                    )
                    .values(status="cancelled", cancelled_at=now)
                    .returning(*vaccination_bookings.c)
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            c.execute(
                vaccination_slots.update()
                .where(vaccination_slots.c.id == row["slot_id"])
                .values(booked=vaccination_slots.c.booked - 1)
            )
        return _build(Booking, row)  # type: ignore[no-any-return]

    def list_bookings(self, citizen_id: int, *, conn: Connection | None = None) -> builtins.list[Booking]:
        """A citizen's bookings, newest first."""
        query = (
            sa.select(vaccination_bookings)
            .where(vaccination_bookings.c.citizen_id == citizen_id)
            .order_by(vaccination_bookings.c.id.desc())
            .limit(200)
        )
        with self._tx(conn) as c:
            rows = c.execute(query).mappings().all()
        return [_build(Booking, r) for r in rows]

    # --- doses ---

    def add_dose(self, values: dict[str, Any], *, conn: Connection | None = None) -> DoseRecord | None:
        """Insert one dose (DOSE_COLUMNS as keys); None if this person's dose of the product is recorded."""
        with self._tx(conn, write=True) as c:
            statement = (
                insert_for(c, vaccine_doses)
                .values(**values)
                .on_conflict_do_nothing()
                .returning(*vaccine_doses.c)
            )
            row = c.execute(statement).mappings().first()
        return _build(DoseRecord, row) if row else None

    def insert_doses(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> int:
        """Insert many doses (tuples in DOSE_COLUMNS order, times as `bulk.ts` gives); the number new.

        Rows whose (person, product, dose number) is already stored are skipped, so the same file uploaded
        twice inserts nothing the second time. PostgreSQL: first a straight COPY into the table under a
        savepoint (a first upload, the common case, costs no more than COPY itself); if a row is already
        stored the savepoint is rolled back and the rows go through COPY into a staging table and one
        INSERT ... SELECT ... ON CONFLICT DO NOTHING. SQLite: multi-row VALUES with ON CONFLICT DO NOTHING.
        """
        if not rows:
            return 0
        if not self.bulk.sqlite:
            try:
                with conn.begin_nested():
                    self.bulk.insert(conn, vaccine_doses, DOSE_COLUMNS, rows)
                return len(rows)
            except sa.exc.IntegrityError:
                pass  # some are stored already (a re-upload): the ON CONFLICT path below skips them
        inserted = self.bulk.insert(
            conn, vaccine_doses, DOSE_COLUMNS, rows, suffix="ON CONFLICT DO NOTHING RETURNING 1"
        )
        return len(inserted)

    def get_dose(self, dose_id: int, *, conn: Connection | None = None) -> DoseRecord | None:
        """The dose with this id, if any."""
        with self._tx(conn) as c:
            row = c.execute(sa.select(vaccine_doses).where(vaccine_doses.c.id == dose_id)).mappings().first()
        return _build(DoseRecord, row) if row else None

    def list_doses(
        self,
        *,
        identity_hash: str | None = None,
        wards: Collection[str] | None = None,
        site_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
        conn: Connection | None = None,
    ) -> builtins.list[DoseRecord]:
        """Doses of one person and/or these wards (None: every ward) and/or one site, newest first."""
        query = sa.select(vaccine_doses)
        if identity_hash is not None:
            query = query.where(vaccine_doses.c.identity_hash == identity_hash)
        if wards is not None:
            query = query.where(vaccine_doses.c.ward_id.in_(sorted(wards)))
        if site_id is not None:
            query = query.where(vaccine_doses.c.site_id == site_id)
        query = (
            query.order_by(vaccine_doses.c.administered_at.desc(), vaccine_doses.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self._tx(conn) as c:
            rows = c.execute(query).mappings().all()
        return [_build(DoseRecord, r) for r in rows]

    # --- adverse events ---

    def add_adverse_event(self, values: dict[str, Any], *, conn: Connection | None = None) -> AdverseEvent:
        """Insert an adverse event report."""
        with self._tx(conn, write=True) as c:
            row = c.execute(adverse_events.insert().values(**values).returning(*adverse_events.c))
            return _build(AdverseEvent, row.mappings().one())  # type: ignore[no-any-return]

    def list_adverse_events(
        self,
        *,
        dose_ids: Collection[int] | None = None,
        wards: Collection[str] | None = None,
        limit: int = 100,
        offset: int = 0,
        conn: Connection | None = None,
    ) -> builtins.list[AdverseEvent]:
        """Adverse events of these doses and/or wards (None: no restriction), newest first."""
        query = sa.select(adverse_events)
        if dose_ids is not None:
            query = query.where(adverse_events.c.dose_id.in_(sorted(dose_ids)))
        if wards is not None:
            query = query.where(adverse_events.c.ward_id.in_(sorted(wards)))
        query = query.order_by(adverse_events.c.reported_at.desc(), adverse_events.c.id.desc())
        with self._tx(conn) as c:
            rows = c.execute(query.limit(limit).offset(offset)).mappings().all()
        return [_build(AdverseEvent, r) for r in rows]
