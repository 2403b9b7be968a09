"""The InfluxDB-protocol telemetry store against a real VictoriaMetrics (a private server per test)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cloud.storage.telemetry import RoomTelemetryPoint, TelemetryPoint
from cloud.telemetry.influx import InfluxTelemetryStore, TelemetryWriteError
from qmon.clock import ManualClock
from tests.support.services import VictoriaInstance

pytestmark = pytest.mark.victoria

SITE = "home-0001"
DEVICE = "0a1b2c3d"
OTHER = "0a1b2c3e"
# Recent times: the server drops samples older than its retention (30 days).
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def reading(device_id: str = DEVICE, seconds: float = 0, **overrides: Any) -> TelemetryPoint:
    """A reading with every field ingest writes for a bracelet."""
    values: dict[str, Any] = {
        "presence": "home",
        "rssi": -61.5,
        "distance_m": 1.75,
        "battery": 80,
        "heart_rate": 72,
        "skin_temp_c": 36.4,
        "strap_closed": True,
        "skin_contact": True,
        "charging": False,
        "adverts": 10,
    }
    values.update(overrides)
    return TelemetryPoint(SITE, device_id, at(seconds), values)


@pytest.fixture
def store(victoria: VictoriaInstance) -> Iterator[InfluxTelemetryStore]:
    clock = ManualClock(datetime.now(UTC).timestamp())
    influx = InfluxTelemetryStore(victoria.url, retention_days=30, clock=clock, batch_lines=100)
    yield influx
    influx.close()


def test_points_read_back_with_their_values_times_and_device(
    store: InfluxTelemetryStore, victoria: VictoriaInstance
) -> None:
    mine = [reading(seconds=i, battery=80 - i, presence="away" if i == 3 else "home") for i in range(6)]
    theirs = [reading(OTHER, seconds=i, battery=50) for i in range(6)]
    store.write(mine + theirs)
    victoria.flush()

    found = store.query(DEVICE, at(0))
    assert found == mine  # the same TelemetryPoints, values keyed and typed as the SQL store's
    assert found[3].values["presence"] == "away"
    assert type(found[0].values["strap_closed"]) is bool and type(found[0].values["battery"]) is int
    assert [p.device_id for p in store.query(OTHER, at(0))] == [OTHER] * 6


def test_the_window_is_inclusive_and_the_limit_keeps_the_oldest(
    store: InfluxTelemetryStore, victoria: VictoriaInstance
) -> None:
    store.write([reading(seconds=10 * i, battery=i) for i in range(10)])
    victoria.flush()

    window = store.query(DEVICE, at(20), at(50))
    assert [p.time for p in window] == [at(20), at(30), at(40), at(50)]
    assert [p.values["battery"] for p in store.query(DEVICE, at(0), limit=3)] == [0, 1, 2]
    assert store.query(DEVICE, at(91)) == []
    assert store.query(DEVICE, at(50), at(40)) == []


def test_millisecond_times_survive_and_partial_readings_keep_only_their_fields(
    store: InfluxTelemetryStore, victoria: VictoriaInstance
) -> None:
    point = TelemetryPoint(SITE, DEVICE, at(1.234), {"presence": "unknown", "adverts": 0})
    store.write([point])
    victoria.flush()
    assert store.query(DEVICE, at(0)) == [point]


def test_a_room_point_reads_back_by_site_and_room(
    store: InfluxTelemetryStore, victoria: VictoriaInstance
) -> None:
    values = {
        "faces": 2,
        "allowed": 1,
        "person_present": True,
        "brightness": 121.5,
        "fps": 4.0,
        "detections": 20,
        "camera": "ok",
    }
    room = RoomTelemetryPoint("facility-1", "room-101", at(5), values)
    elsewhere = RoomTelemetryPoint("facility-2", "room-101", at(5), {**values, "faces": 0})
    store.write([room, elsewhere, reading()])
    victoria.flush()

    assert store.query_room("facility-1", "room-101", at(0)) == [room]
    assert store.query_room("facility-2", "room-101", at(0))[0].values["faces"] == 0
    assert store.query("room-101", at(0)) == []


def test_a_batch_of_many_requests_arrives_whole(
    store: InfluxTelemetryStore, victoria: VictoriaInstance
) -> None:
    points = [reading(seconds=i / 10, battery=i % 100) for i in range(1_050)]  # 11 requests of <= 100 lines
    store.write(points)
    victoria.flush()
    assert store.query(DEVICE, at(0), limit=5_000) == points


def test_queries_never_reach_beyond_retention(victoria: VictoriaInstance) -> None:
    clock = ManualClock(datetime.now(UTC).timestamp())
    store = InfluxTelemetryStore(victoria.url, retention_days=30, clock=clock)
    try:
        store.write([reading()])
        victoria.flush()
        assert len(store.query(DEVICE, at(0) - timedelta(days=365))) == 1
        clock.advance(timedelta(days=31).total_seconds())  # the reading is now past the retention horizon
        assert store.query(DEVICE, at(0) - timedelta(days=365)) == []
    finally:
        store.close()


def test_a_write_to_a_stopped_server_fails_with_the_count_dropped(victoria: VictoriaInstance) -> None:
    store = InfluxTelemetryStore(victoria.url, timeout_s=2, batch_lines=100)
    victoria.stop()
    try:
        with pytest.raises(TelemetryWriteError) as failed:
            store.write([reading(seconds=i) for i in range(250)])
        assert failed.value.dropped == 250
        with pytest.raises(TelemetryWriteError) as failed:
            store.write([reading()])
        assert failed.value.dropped == 1
    finally:
        store.close()


def test_long_windows_are_read_in_pages_without_gaps_or_repeats(
    store: InfluxTelemetryStore, victoria: VictoriaInstance
) -> None:
    points = [reading(seconds=-6 * 3600 + 1200 * i, battery=i) for i in range(19)]  # 6 h, every 20 min
    store.write(points)
    victoria.flush()
    assert store.query(DEVICE, points[0].time) == points  # pages of 1 h, 4 h, 16 h ...
    assert store.query(DEVICE, points[0].time, limit=5) == points[:5]
    assert store.query(DEVICE, points[3].time, points[3].time) == [points[3]]
