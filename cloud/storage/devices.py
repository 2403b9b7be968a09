"""Bracelets, their per-condition state, and the sites (home hubs) that report them."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud.rules import AlertType, Condition, ConditionState
from cloud.storage.base import Records, insert_for
from cloud.storage.records import Device, SiteStatusRecord
from cloud.storage.schema import device_conditions, devices, orders, site_status

_ACTIVE_ORDER = sa.and_(orders.c.device_id == devices.c.device_id, orders.c.status == "active")
_DEVICE_COLUMNS = (*devices.c, orders.c.id.label("order_id"), orders.c.ward_id)


class DeviceRecords(Records):
    """Reads and writes of `devices`, joined with each device's active order for the officers' overview."""

    def register(self, device_id: str, kind: str, now: datetime, *, conn: Connection | None = None) -> Device:
        """Insert a device (IntegrityError if it is already registered)."""
        with self._tx(conn, write=True) as c:
            c.execute(devices.insert().values(device_id=device_id, kind=kind, registered_at=now))
            device = self.get(device_id, conn=c)
        assert device is not None
        return device

    def get(self, device_id: str, *, conn: Connection | None = None) -> Device | None:
        """One device with its active order's id and ward (if assigned)."""
        query = (
            sa.select(*_DEVICE_COLUMNS)
            .outerjoin(orders, _ACTIVE_ORDER)
            .where(devices.c.device_id == device_id)
        )
        with self._tx(conn) as c:
            row = c.execute(query).mappings().first()
        return Device.from_row(row) if row else None

    def overview(
        self,
        *,
        wards: Collection[str] | None,
        limit: int = 100,
        offset: int = 0,
        conn: Connection | None = None,
    ) -> list[Device]:
        """Devices serving active orders in `wards`; None lists every device, assigned or not."""
        query = sa.select(*_DEVICE_COLUMNS)
        if wards is None:
            query = query.outerjoin(orders, _ACTIVE_ORDER)
        else:
            query = query.join(orders, _ACTIVE_ORDER).where(orders.c.ward_id.in_(list(wards)))
        query = query.order_by(devices.c.device_id).limit(limit).offset(offset)
        with self._tx(conn) as c:
            return [Device.from_row(r) for r in c.execute(query).mappings()]

    def record_readings(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Store each device's latest reading (keys: device_id, time, site_id, battery, rssi, presence)."""
        ts = self.bulk.ts
        self.bulk.update(
            conn,
            devices,
            ("last_seen_at", "last_site_id", "last_battery", "last_rssi", "last_presence"),
            ("device_id",),
            [
                (ts(r["time"]), r["site_id"], r["battery"], r["rssi"], r["presence"], r["device_id"])
                for r in rows
            ],
        )


class ConditionRecords(Records):
    """Per-subject (bracelet or room), per-condition state the rules engine reads and writes."""

    def load(self, conn: Connection, subjects: Collection[str]) -> dict[str, dict[Condition, ConditionState]]:
        """The conditions of each subject (subjects without any are absent)."""
        out: dict[str, dict[Condition, ConditionState]] = {}
        if not subjects:
            return out
        query = sa.select(device_conditions).where(device_conditions.c.subject.in_(list(subjects)))
        for row in conn.execute(query):
            state = ConditionState(row.active, row.time, row.seq, AlertType(row.alert_type))
            out.setdefault(row.subject, {})[Condition(row.condition)] = state
        return out

    def save(self, conn: Connection, rows: Iterable[tuple[str, Condition, ConditionState]]) -> None:
        """Insert or replace condition states (one statement; each (subject, condition) at most once)."""
        ts = self.bulk.ts
        values = [(d, c.value, s.active, ts(s.time), s.seq, s.alert_type.value) for d, c, s in rows]
        self.bulk.insert(
            conn,
            device_conditions,
            ("subject", "condition", "active", "time", "seq", "alert_type"),
            values,
            suffix="ON CONFLICT (subject, condition) DO UPDATE SET active = excluded.active, "
            "time = excluded.time, seq = excluded.seq, alert_type = excluded.alert_type",
        )


class SiteRecords(Records):
    """Each site's last announced online/offline state."""

    def get_many(self, conn: Connection, site_ids: Collection[str]) -> dict[str, SiteStatusRecord]:
        """Status of the given sites (unknown ones are absent)."""
        if not site_ids:
            return {}
        query = sa.select(site_status).where(site_status.c.site_id.in_(list(site_ids)))
        return {row.site_id: SiteStatusRecord(**row) for row in conn.execute(query).mappings()}

    def save(self, conn: Connection, records: Sequence[SiteStatusRecord]) -> None:
        """Insert or replace site statuses."""
        if not records:
            return
        insert = insert_for(conn, site_status)
        excluded = insert.excluded
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["site_id"],
                set_={
                    "state": excluded.state,
                    "since": excluded.since,
                    "reason": excluded.reason,
                    "updated_at": excluded.updated_at,
                    "alerted_at": excluded.alerted_at,
                },
            ),
            [
                {
                    "site_id": r.site_id,
                    "state": r.state,
                    "since": r.since,
                    "reason": r.reason,
                    "updated_at": r.updated_at,
                    "alerted_at": r.alerted_at,
                }
                for r in records
            ],
        )

    def offline_unalerted(self, conn: Connection, since_before: datetime) -> builtins.list[SiteStatusRecord]:
        """Sites offline since `since_before` or earlier whose orders were not alerted yet (locked)."""
        query = (
            sa.select(site_status)
            .where(
                site_status.c.state == "offline",
                site_status.c.alerted_at.is_(None),
                site_status.c.since <= since_before,
            )
            .order_by(site_status.c.site_id)
            .with_for_update(skip_locked=True)
        )
        return [SiteStatusRecord(**row) for row in conn.execute(query).mappings()]

    def mark_alerted(self, conn: Connection, site_ids: Collection[str], now: datetime) -> None:
        """Record that these sites' current offline spells have been alerted."""
        if site_ids:
            conn.execute(
                site_status.update()
                .where(site_status.c.site_id.in_(list(site_ids)), site_status.c.state == "offline")
                .values(alerted_at=now)
            )

    def list(
        self, site_ids: Collection[str] | None = None, *, conn: Connection | None = None
    ) -> builtins.list[SiteStatusRecord]:
        """Status of the given sites (None: every known site), by site id."""
        query = sa.select(site_status).order_by(site_status.c.site_id)
        if site_ids is not None:
            query = query.where(site_status.c.site_id.in_(list(site_ids)))
        with self._tx(conn) as c:
            return [SiteStatusRecord(**row) for row in c.execute(query).mappings()]
