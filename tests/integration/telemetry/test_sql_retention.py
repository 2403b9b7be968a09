"""The embedded SQL telemetry store's retention: purged at write time, at most once an interval (rooms:
test_room_history.py)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from cloud.settings import TelemetrySettings
from cloud.storage.repository import Repository
from cloud.storage.schema import telemetry
from cloud.storage.telemetry import SqlTelemetryStore, TelemetryPoint
from cloud.telemetry import build_telemetry_store
from qmon.clock import ManualClock
from tests.unit.cloud.builders import DEVICE, SITE, T0

DAY = 24 * 3600.0


def point(days: float, battery: int = 50) -> TelemetryPoint:
    return TelemetryPoint(SITE, DEVICE, T0 + timedelta(days=days), {"battery": battery, "presence": "home"})


def rows(repo: Repository) -> int:
    with repo.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(telemetry)).scalar_one())


def test_rows_older_than_retention_are_hidden_then_purged_once_an_interval(sqlite_repo: Repository) -> None:
    clock = ManualClock(T0.timestamp())
    store = SqlTelemetryStore(sqlite_repo.db, retention_days=30, clock=clock, purge_interval_s=7 * DAY)
    store.write([point(-10), point(-1), point(0)])  # the first write purges (nothing is old enough)
    assert rows(sqlite_repo) == 3
    far_back = T0 - timedelta(days=365)
    assert len(store.query(DEVICE, far_back)) == 3

    clock.advance(25 * DAY)  # the -10 day reading is now 35 days old
    assert [p.time for p in store.query(DEVICE, far_back)] == [point(-1).time, point(0).time]
    store.write([point(25)])  # a purge is due (25 days since the last)
    assert rows(sqlite_repo) == 3

    clock.advance(6 * DAY)  # -1 and 0 are past retention, but the next purge is not due for a day
    store.write([point(31)])
    assert rows(sqlite_repo) == 4
    assert [p.time for p in store.query(DEVICE, far_back)] == [point(25).time, point(31).time]

    clock.advance(1 * DAY)
    store.write([point(32)])
    assert rows(sqlite_repo) == 3
    assert store.purge() == 0


def test_purge_deletes_what_is_older_than_retention(sqlite_repo: Repository) -> None:
    clock = ManualClock(T0.timestamp())
    SqlTelemetryStore(sqlite_repo.db).write([point(-40), point(-31), point(-29)])  # no retention: kept
    store = SqlTelemetryStore(sqlite_repo.db, retention_days=30, clock=clock)
    assert store.purge() == 2
    assert [p.time for p in store.query(DEVICE, T0 - timedelta(days=100))] == [point(-29).time]


def test_the_settings_build_the_sql_store_with_their_retention(sqlite_repo: Repository) -> None:
    clock = ManualClock(T0.timestamp())
    store = build_telemetry_store(TelemetrySettings(retention_days=7), sqlite_repo, clock)
    assert isinstance(store, SqlTelemetryStore)
    store.write([point(-8), point(-6)])
    assert [p.time for p in store.query(DEVICE, T0 - timedelta(days=30))] == [point(-6).time]
