"""Persons and their quarantine orders, and the order look-ups ingest needs."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud.rules import OrderContext
from cloud.storage.base import Records
from cloud.storage.records import Order
from cloud.storage.schema import orders, persons

ORDER_COLUMNS = (*orders.c, persons.c.full_name, persons.c.phone, persons.c.identity_hash)
_CONTEXT_COLUMNS = (
    orders.c.id,
    orders.c.ward_id,
    orders.c.site_id,
    orders.c.device_id,
    orders.c.starts_at,
    orders.c.ends_at,
    orders.c.room_id,
)


def _context(row: Any) -> OrderContext:
    return OrderContext(
        row.id, row.ward_id, row.site_id, row.device_id, row.starts_at, row.ends_at, row.room_id
    )


class OrderRecords(Records):
    """Reads and writes of `persons` and `quarantine_orders`; listeners hear of every committed change."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listeners: builtins.list[Callable[[str], None]] = []

    def on_change(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call `callback(subject)` after the order of that device or room (`site/room`) changed.

        Returns the unsubscribe callable.
        """
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def notify_changed(self, subject: str) -> None:
        """Tell listeners (ingest's cache) that a subject's order changed; call after the commit."""
        for callback in list(self._listeners):
            callback(subject)

    def create(
        self,
        *,
        full_name: str,
        phone: str | None,
        ward_id: str,
        address: str,
        site_id: str,
        device_id: str | None,
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        now: datetime,
        room_id: str | None = None,
        identity_hash: str | None = None,
        conn: Connection | None = None,
    ) -> Order:
        """Insert a person (or take the one with `identity_hash`, as recorded) and their active order,
        monitored by a bracelet or a room.

        IntegrityError if the device already serves an active order, or the person has an open one.
        """
        with self._tx(conn, write=True) as c:
            person_id = self._person_with(identity_hash, c) if identity_hash is not None else None
            if person_id is None:
                person_id = c.execute(
                    persons.insert()
                    .values(full_name=full_name, phone=phone, created_at=now, identity_hash=identity_hash)
                    .returning(persons.c.id)
                ).scalar_one()
            order_id: int = c.execute(
                orders.insert()
                .values(
                    person_id=person_id,
                    ward_id=ward_id,
                    address=address,
                    site_id=site_id,
                    device_id=device_id,
                    room_id=room_id,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    status="active",
                    created_by=created_by,
                    created_at=now,
                    updated_at=now,
                )
                .returning(orders.c.id)
            ).scalar_one()
            order = self.get(order_id, conn=c)
        assert order is not None
        if conn is None:
            self.notify_changed(order.subject)
        return order

    @staticmethod
    def _person_with(identity_hash: str, conn: Connection) -> int | None:
        found: int | None = conn.execute(
            sa.select(persons.c.id).where(persons.c.identity_hash == identity_hash)
        ).scalar_one_or_none()
        return found

    def open_order_of(self, identity_hash: str, *, conn: Connection | None = None) -> Order | None:
        """The pending or active order of the person with this identity hash, if any."""
        query = (
            sa.select(*ORDER_COLUMNS)
            .join(persons, persons.c.id == orders.c.person_id)
            .where(persons.c.identity_hash == identity_hash, orders.c.status.in_(("pending", "active")))
        )
        with self._tx(conn) as c:
            row = c.execute(query).mappings().first()
        return Order.from_row(row) if row else None

    def get(self, order_id: int, *, conn: Connection | None = None, lock: bool = False) -> Order | None:
        """One order with its person (locked for update when `lock`)."""
        query = (
            sa.select(*ORDER_COLUMNS)
            .join(persons, persons.c.id == orders.c.person_id)
            .where(orders.c.id == order_id)
        )
        if lock:
            query = query.with_for_update(of=orders)
        with self._tx(conn) as c:
            row = c.execute(query).mappings().first()
        return Order.from_row(row) if row else None

    def list(
        self,
        *,
        wards: Collection[str] | None,
        status: str | None = None,
        device_id: str | None = None,
        room: tuple[str, str] | None = None,
        limit: int = 100,
        offset: int = 0,
        conn: Connection | None = None,
    ) -> builtins.list[Order]:
        """Orders in `wards` (None: all), newest first; `room` is a facility room's (site_id, room_id)."""
        query = sa.select(*ORDER_COLUMNS).join(persons, persons.c.id == orders.c.person_id)
        if wards is not None:
            query = query.where(orders.c.ward_id.in_(list(wards)))
        if status is not None:
            query = query.where(orders.c.status == status)
        if device_id is not None:
            query = query.where(orders.c.device_id == device_id)
        if room is not None:
            query = query.where(orders.c.site_id == room[0], orders.c.room_id == room[1])
        query = query.order_by(orders.c.id.desc()).limit(limit).offset(offset)
        with self._tx(conn) as c:
            return [Order.from_row(r) for r in c.execute(query).mappings()]

    def update(
        self,
        order_id: int,
        *,
        now: datetime,
        ends_at: datetime | None = None,
        status: str | None = None,
        conn: Connection | None = None,
    ) -> Order | None:
        """Change an order's end and/or status; None if there is no such order."""
        values: dict[str, Any] = {"updated_at": now}
        if ends_at is not None:
            values["ends_at"] = ends_at
        if status is not None:
            values["status"] = status
        with self._tx(conn, write=True) as c:
            c.execute(orders.update().where(orders.c.id == order_id).values(**values))
            order = self.get(order_id, conn=c)
        if conn is None and order is not None:
            self.notify_changed(order.subject)
        return order

    def end(
        self,
        order_id: int,
        *,
        now: datetime,
        ends_at: datetime,
        ended_by: str,
        reason: str,
        sample_id: int | None,
        note: str | None,
        conn: Connection,
    ) -> Order | None:
        """End an order with its release facts (who, when, why, sample, note); None if there is none."""
        conn.execute(
            orders.update()
            .where(orders.c.id == order_id)
            .values(
                status="ended",
                ends_at=ends_at,
                updated_at=now,
                ended_at=now,
                ended_by=ended_by,
                end_reason=reason,
                release_sample_id=sample_id,
                end_note=note,
            )
        )
        return self.get(order_id, conn=conn)

    def activate(
        self,
        order_id: int,
        *,
        site_id: str,
        device_id: str | None,
        room_id: str | None,
        address: str | None,
        now: datetime,
        conn: Connection,
    ) -> Order | None:
        """Turn a pending order active on its bracelet or room and site; None if there is no such order."""
        values: dict[str, Any] = {
            "site_id": site_id,
            "device_id": device_id,
            "room_id": room_id,
            "status": "active",
            "updated_at": now,
        }
        if address is not None:
            values["address"] = address
        conn.execute(orders.update().where(orders.c.id == order_id).values(**values))
        return self.get(order_id, conn=conn)

    def contexts_for_devices(
        self, device_ids: Collection[str], *, conn: Connection | None = None
    ) -> dict[str, OrderContext]:
        """The active order of each device that has one."""
        if not device_ids:
            return {}
        query = sa.select(*_CONTEXT_COLUMNS).where(
            orders.c.device_id.in_(list(device_ids)), orders.c.status == "active"
        )
        with self._tx(conn) as c:
            return {row.device_id: _context(row) for row in c.execute(query)}

    def contexts_for_rooms(
        self, rooms: Collection[tuple[str, str]], *, conn: Connection | None = None
    ) -> dict[tuple[str, str], builtins.list[OrderContext]]:
        """The active orders of each (site_id, room_id) that has any (a room may hold several people)."""
        if not rooms:
            return {}
        query = (
            sa.select(*_CONTEXT_COLUMNS)
            .where(
                sa.tuple_(orders.c.site_id, orders.c.room_id).in_(list(rooms)),
                orders.c.status == "active",
            )
            .order_by(orders.c.id)
        )
        out: dict[tuple[str, str], builtins.list[OrderContext]] = {}
        with self._tx(conn) as c:
            for row in c.execute(query):
                out.setdefault((row.site_id, row.room_id), []).append(_context(row))
        return out

    def contexts_for_site(
        self, site_id: str, *, conn: Connection | None = None
    ) -> builtins.list[OrderContext]:
        """The active orders whose home hub is `site_id`."""
        query = sa.select(*_CONTEXT_COLUMNS).where(orders.c.site_id == site_id, orders.c.status == "active")
        with self._tx(conn) as c:
            return [_context(row) for row in c.execute(query)]

    def rooms(
        self, wards: Collection[str] | None, *, conn: Connection | None = None
    ) -> dict[tuple[str, str], builtins.list[int]]:
        """(site_id, room_id) -> ids of its active orders, for the rooms serving `wards` (None: all)."""
        query = (
            sa.select(orders.c.site_id, orders.c.room_id, orders.c.id)
            .where(orders.c.status == "active", orders.c.room_id.is_not(None))
            .order_by(orders.c.site_id, orders.c.room_id, orders.c.id)
        )
        if wards is not None:
            query = query.where(orders.c.ward_id.in_(list(wards)))
        out: dict[tuple[str, str], builtins.list[int]] = {}
        with self._tx(conn) as c:
            for row in c.execute(query):
                out.setdefault((row.site_id, row.room_id), []).append(row.id)
        return out

    def room_wards(self, site_id: str, room_id: str, *, conn: Connection | None = None) -> set[str]:
        """The wards of the active orders in one facility room (empty: no active order there)."""
        query = (
            sa.select(orders.c.ward_id)
            .where(orders.c.site_id == site_id, orders.c.room_id == room_id, orders.c.status == "active")
            .distinct()
        )
        with self._tx(conn) as c:
            return set(c.execute(query).scalars())

    def site_ids(
        self, wards: Collection[str] | None, *, conn: Connection | None = None
    ) -> builtins.list[str]:
        """The home hubs of active orders in `wards` (None: every ward)."""
        query = sa.select(orders.c.site_id).where(orders.c.status == "active").distinct()
        if wards is not None:
            query = query.where(orders.c.ward_id.in_(list(wards)))
        with self._tx(conn) as c:
            return sorted(c.execute(query).scalars())
