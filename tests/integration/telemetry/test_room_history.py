"""Facility rooms' telemetry history: kept, read back and pruned by the SQL store (SQLite and PostgreSQL),
and read back the same by the InfluxDB-protocol store from a real VictoriaMetrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cloud.storage.migrate import upgrade
from cloud.storage.repository import Repository
from cloud.storage.schema import room_telemetry, telemetry
from cloud.storage.telemetry import AnyTelemetryPoint, RoomTelemetryPoint, SqlTelemetryStore, TelemetryPoint
from cloud.telemetry.influx import InfluxTelemetryStore
from qmon.clock import ManualClock
from tests.support.services import VictoriaInstance

FACILITY, ROOM = "facility-1", "room-101"
DAY = 24 * 3600.0
# Recent times: VictoriaMetrics drops samples older than its retention (30 days).
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def room_point(
    seconds: float = 0, site_id: str = FACILITY, room_id: str = ROOM, **overrides: Any
) -> RoomTelemetryPoint:
    """A room reading with every field ingest writes for a room (cloud/processor.py)."""
    values: dict[str, Any] = {
        "faces": 1,
        "allowed": 1,
        "person_present": True,
        "brightness": 121.5,
        "fps": 5.0,
        "detections": 25,
        "camera": "ok",
    }
    values.update(overrides)
    return RoomTelemetryPoint(site_id, room_id, at(seconds), values)


def a_story() -> list[RoomTelemetryPoint]:
    """A room over a minute: a visitor comes (two faces, one allowed), then the lens is covered."""
    return [
        room_point(0),
        room_point(10, faces=2, detections=50),
        room_point(20, faces=2, detections=50),
        room_point(30, faces=0, person_present=False, camera="covered", brightness=3.25, detections=0),
        room_point(40, faces=1),
    ]


def bracelet_point(seconds: float = 0) -> TelemetryPoint:
    return TelemetryPoint("home-0001", "0a1b2c3d", at(seconds), {"battery": 80, "presence": "home"})


def counts(repo: Repository) -> tuple[int, int]:
    """Rows of (telemetry, room_telemetry)."""
    with repo.read() as conn:
        bracelets, rooms = (
            int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
            for t in (telemetry, room_telemetry)
        )
    return bracelets, rooms


def test_room_points_are_kept_apart_by_site_and_room(repo: Repository) -> None:
    store = SqlTelemetryStore(repo.db)
    story = a_story()
    elsewhere = room_point(10, site_id="facility-2", faces=3)  # the same room id at another facility
    store.write([*story, elsewhere, room_point(5, room_id="room-102"), bracelet_point()])
    assert counts(repo) == (1, 7)

    found = store.query_room(FACILITY, ROOM, at(-60))
    assert found == story  # the same points, values keyed and typed as written
    assert type(found[0].values["person_present"]) is bool and type(found[0].values["faces"]) is int
    assert found[3].values["camera"] == "covered"
    assert store.query_room("facility-2", ROOM, at(-60)) == [elsewhere]
    assert store.query_room(FACILITY, "room-103", at(-60)) == []
    assert store.query(ROOM, at(-60)) == [], "a room is not a bracelet"
    assert [p.device_id for p in store.query("0a1b2c3d", at(-60))] == ["0a1b2c3d"]


def test_a_room_window_is_inclusive_and_the_limit_keeps_the_oldest(repo: Repository) -> None:
    store = SqlTelemetryStore(repo.db)
    store.write(a_story())
    assert [p.time for p in store.query_room(FACILITY, ROOM, at(10), at(30))] == [at(10), at(20), at(30)]
    assert [p.time for p in store.query_room(FACILITY, ROOM, at(0), limit=2)] == [at(0), at(10)]
    assert store.query_room(FACILITY, ROOM, at(41)) == []
    assert store.query_room(FACILITY, ROOM, at(30), at(20)) == []


def test_room_points_past_retention_are_hidden_then_purged_with_the_bracelets(repo: Repository) -> None:
    clock = ManualClock(T0.timestamp())
    SqlTelemetryStore(repo.db).write(  # no retention: everything is kept
        [room_point(-40 * DAY), room_point(-31 * DAY), room_point(-29 * DAY), bracelet_point(-31 * DAY)]
    )
    store = SqlTelemetryStore(repo.db, retention_days=30, clock=clock, purge_interval_s=7 * DAY)
    far_back = at(-365 * DAY)
    assert [p.time for p in store.query_room(FACILITY, ROOM, far_back)] == [at(-29 * DAY)], "hidden"
    assert counts(repo) == (1, 3)
    assert store.purge() == 3  # two rooms' rows and the bracelet's
    assert counts(repo) == (0, 1)

    clock.advance(2 * DAY)  # the -29 day reading is now 31 days old; a purge is not due for 5 more days
    store.write([room_point(2 * DAY)])
    assert counts(repo) == (0, 2)
    assert [p.time for p in store.query_room(FACILITY, ROOM, far_back)] == [at(2 * DAY)]
    clock.advance(5 * DAY)
    store.write([room_point(7 * DAY)])  # due: purged at write time
    assert counts(repo) == (0, 2)
    assert [p.time for p in store.query_room(FACILITY, ROOM, far_back)] == [at(2 * DAY), at(7 * DAY)]


@pytest.mark.victoria
def test_victoria_reads_back_the_room_points_the_sql_store_does(
    victoria: VictoriaInstance, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    upgrade(url)
    repository = Repository.from_url(url)
    clock = ManualClock(datetime.now(UTC).timestamp())
    influx = InfluxTelemetryStore(victoria.url, retention_days=30, clock=clock)
    sql = SqlTelemetryStore(repository.db, retention_days=30, clock=clock)
    points: list[AnyTelemetryPoint] = [
        *a_story(),
        room_point(10, site_id="facility-2", faces=3),
        bracelet_point(),
    ]
    try:
        for store in (influx, sql):
            store.write(points)
        victoria.flush()
        for since, until, limit in ((at(-60), None, 1000), (at(10), at(30), 1000), (at(0), None, 2)):
            from_sql = sql.query_room(FACILITY, ROOM, since, until, limit)
            assert influx.query_room(FACILITY, ROOM, since, until, limit) == from_sql
        assert influx.query_room(FACILITY, ROOM, at(-60)) == a_story()
        assert influx.query_room("facility-2", ROOM, at(-60)) == sql.query_room("facility-2", ROOM, at(-60))
    finally:
        influx.close()
        repository.close()
