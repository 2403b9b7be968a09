"""The telemetry port and its SQL implementation (cloud/telemetry/influx.py is the InfluxDB-protocol one)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from cloud.storage.base import Database
from cloud.storage.schema import room_telemetry, telemetry
from qmon.clock import Clock, SystemClock


@dataclass(frozen=True, slots=True)
class TelemetryPoint:
    """One bracelet's reading at one time, as a site reported it."""

    site_id: str
    device_id: str
    time: datetime
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RoomTelemetryPoint:
    """One facility room's reading at one time (occupancy, camera health), as a site reported it."""

    site_id: str
    room_id: str
    time: datetime
    values: Mapping[str, Any]


AnyTelemetryPoint = TelemetryPoint | RoomTelemetryPoint


class TelemetryStore(Protocol):
    """Where readings go: a time-series store, written in batches."""

    def write(self, points: Sequence[AnyTelemetryPoint]) -> None:
        """Store a batch of points (bracelets' and rooms')."""
        ...

    def query(
        self, device_id: str, since: datetime, until: datetime | None = None, limit: int = 1000
    ) -> list[TelemetryPoint]:
        """One device's points in [since, until], oldest first."""
        ...

    def query_room(
        self, site_id: str, room_id: str, since: datetime, until: datetime | None = None, limit: int = 1000
    ) -> list[RoomTelemetryPoint]:
        """One room's points in [since, until], oldest first."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class SqlTelemetryStore:
    """Telemetry in the hub's own database (the embedded default).

    Bracelets' points go to `telemetry`, rooms' to `room_telemetry` (keyed by site and room). With
    `retention_days`, rows of both older than that are deleted at write time, at most once per
    `purge_interval_s` of the injected clock, and queries never reach further back.
    """

    def __init__(
        self,
        db: Database,
        *,
        retention_days: float | None = None,
        clock: Clock | None = None,
        purge_interval_s: float = 3600.0,
    ) -> None:
        self._db = db
        self._retention = timedelta(days=retention_days) if retention_days else None
        self._clock = clock or SystemClock()
        self._purge_interval_s = purge_interval_s
        self._next_purge = float("-inf")
        self._purge_lock = threading.Lock()

    def write(self, points: Sequence[AnyTelemetryPoint]) -> None:
        """Insert the points in one transaction (a statement per table); purge if one is due."""
        rows: list[dict[str, Any]] = []
        room_rows: list[dict[str, Any]] = []
        for p in points:
            if isinstance(p, TelemetryPoint):
                rows.append(
                    {"site_id": p.site_id, "device_id": p.device_id, "time": p.time, "values": dict(p.values)}
                )
            else:
                room_rows.append(
                    {"site_id": p.site_id, "room_id": p.room_id, "time": p.time, "values": dict(p.values)}
                )
        if rows or room_rows:
            with self._db.write() as conn:
                if rows:
                    conn.execute(telemetry.insert(), rows)
                if room_rows:
                    conn.execute(room_telemetry.insert(), room_rows)
        if self._retention is not None and self._clock.now() >= self._next_purge:
            self.purge()

    def purge(self) -> int:
        """Delete the rows (bracelets' and rooms') older than the retention period; returns how many."""
        if self._retention is None:
            return 0
        with self._purge_lock:
            now = self._clock.now()
            self._next_purge = now + self._purge_interval_s
            cutoff = datetime.fromtimestamp(now, UTC) - self._retention
            with self._db.write() as conn:
                return sum(
                    conn.execute(table.delete().where(table.c.time < cutoff)).rowcount or 0
                    for table in (telemetry, room_telemetry)
                )

    def _oldest(self, since: datetime) -> datetime:
        """`since`, or the retention horizon if that is later."""
        if self._retention is None:
            return since
        return max(since, datetime.fromtimestamp(self._clock.now(), UTC) - self._retention)

    def query(
        self, device_id: str, since: datetime, until: datetime | None = None, limit: int = 1000
    ) -> list[TelemetryPoint]:
        """One device's points in [since, until], oldest first."""
        since = self._oldest(since)
        query = sa.select(telemetry).where(telemetry.c.device_id == device_id, telemetry.c.time >= since)
        if until is not None:
            query = query.where(telemetry.c.time <= until)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(telemetry.c.time).limit(limit)).mappings()
            return [TelemetryPoint(r["site_id"], r["device_id"], r["time"], r["values"]) for r in rows]

    def query_room(
        self, site_id: str, room_id: str, since: datetime, until: datetime | None = None, limit: int = 1000
    ) -> list[RoomTelemetryPoint]:
        """One room's points in [since, until], oldest first."""
        since = self._oldest(since)
        t = room_telemetry.c
        query = sa.select(room_telemetry).where(t.site_id == site_id, t.room_id == room_id, t.time >= since)
        if until is not None:
            query = query.where(t.time <= until)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(t.time).limit(limit)).mappings()
            return [RoomTelemetryPoint(r["site_id"], r["room_id"], r["time"], r["values"]) for r in rows]

    def close(self) -> None:
        """Nothing to release: the engine belongs to the repository."""
