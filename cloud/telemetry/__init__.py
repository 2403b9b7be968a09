"""Telemetry stores beyond the embedded SQL one, and the factory that picks one from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cloud.storage.telemetry import SqlTelemetryStore, TelemetryStore
from qmon.clock import Clock

if TYPE_CHECKING:
    from cloud.settings import TelemetrySettings
    from cloud.storage.repository import Repository


def build_telemetry_store(
    settings: TelemetrySettings, repository: Repository, clock: Clock
) -> TelemetryStore:
    """The store the settings ask for: the hub's own database (sql) or an InfluxDB-protocol server."""
    if settings.backend == "sql":
        return SqlTelemetryStore(repository.db, retention_days=settings.retention_days, clock=clock)
    from cloud.telemetry.influx import InfluxTelemetryStore  # influxdb-client is loaded only when used

    token = settings.token.get_secret_value() if settings.token is not None else None
    assert settings.url is not None  # the settings' validator requires it for this backend
    return InfluxTelemetryStore(
        settings.url,
        token=token,
        org=settings.org,
        bucket=settings.bucket,
        retention_days=settings.retention_days,
        clock=clock,
        timeout_s=settings.timeout_s,
        batch_lines=settings.batch_lines,
    )
