"""The telemetry port and its SQL implementation (an InfluxDB line-protocol store can replace it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from cloud.storage.base import Database
from cloud.storage.schema import telemetry


@dataclass(frozen=True, slots=True)
class TelemetryPoint:
    """One bracelet's reading at one time, as a site reported it."""

    site_id: str
    device_id: str
    time: datetime
    values: Mapping[str, Any]


class TelemetryStore(Protocol):
    """Where readings go: a time-series store, written in batches."""

    def write(self, points: Sequence[TelemetryPoint]) -> None:
        """Store a batch of points."""
        ...

    def query(
        self, device_id: str, since: datetime, until: datetime | None = None, limit: int = 1000
    ) -> list[TelemetryPoint]:
        """One device's points in [since, until], oldest first."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class SqlTelemetryStore:
    """Telemetry in the hub's own database (the embedded default)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def write(self, points: Sequence[TelemetryPoint]) -> None:
        """Insert the points in one statement and one transaction."""
        if not points:
            return
        rows = [
            {"site_id": p.site_id, "device_id": p.device_id, "time": p.time, "values": dict(p.values)}
            for p in points
        ]
        with self._db.write() as conn:
            conn.execute(telemetry.insert(), rows)

    def query(
        self, device_id: str, since: datetime, until: datetime | None = None, limit: int = 1000
    ) -> list[TelemetryPoint]:
        """One device's points in [since, until], oldest first."""
        query = sa.select(telemetry).where(telemetry.c.device_id == device_id, telemetry.c.time >= since)
        if until is not None:
            query = query.where(telemetry.c.time <= until)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(telemetry.c.time).limit(limit)).mappings()
            return [TelemetryPoint(r["site_id"], r["device_id"], r["time"], r["values"]) for r in rows]

    def close(self) -> None:
        """Nothing to release: the engine belongs to the repository."""
