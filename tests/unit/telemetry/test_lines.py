"""Telemetry points to line protocol and VictoriaMetrics export lines back (golden vectors)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from cloud.storage.telemetry import RoomTelemetryPoint, TelemetryPoint
from cloud.telemetry.lines import (
    decode_bracelet,
    decode_room,
    encode_point,
    encode_points,
    series_selector,
)
from gateway.protocol import PresenceState

T = datetime(2026, 11, 21, 10, 0, 0, 250_000, tzinfo=UTC)
MS = 1_795_255_200_250


def bracelet(**values: Any) -> TelemetryPoint:
    return TelemetryPoint("home-0001", "0a1b2c3d", T, values)


def export_line(name: str, values: list[float], stamps: list[int], **labels: str) -> str:
    return json.dumps({"metric": {"__name__": name, **labels}, "values": values, "timestamps": stamps})


def test_a_reading_becomes_one_line_with_typed_fields_and_a_millisecond_time() -> None:
    line = encode_point(
        bracelet(presence="away", rssi=-63.5, battery=80, strap_closed=True, charging=False, adverts=10)
    )
    assert line == (
        "bracelet,site_id=home-0001,device_id=0a1b2c3d "
        f"presence=0i,rssi=-63.5,battery=80i,strap_closed=1i,charging=0i,adverts=10i {MS}"
    )


def test_a_room_reading_is_tagged_by_site_and_room_with_its_camera_as_a_code() -> None:
    point = RoomTelemetryPoint(
        "facility-1", "room-101", T, {"faces": 2, "allowed": 1, "person_present": True, "camera": "covered"}
    )
    assert encode_point(point) == (
        f"room,site_id=facility-1,room_id=room-101 faces=2i,allowed=1i,person_present=1i,camera=1i {MS}"
    )


def test_enumerations_are_written_as_codes_whether_strings_or_enum_members() -> None:
    assert encode_point(bracelet(presence=PresenceState.AWAY)) == encode_point(bracelet(presence="away"))
    assert encode_point(bracelet(presence=PresenceState.HOME)) == (
        f"bracelet,site_id=home-0001,device_id=0a1b2c3d presence=1i {MS}"
    )


def test_values_the_store_cannot_keep_are_left_out() -> None:
    assert encode_point(bracelet(rssi=float("nan"), note="free text", battery=5)) == (
        f"bracelet,site_id=home-0001,device_id=0a1b2c3d battery=5i {MS}"
    )
    assert encode_points([bracelet(note="only a string")]) == []


def test_tag_values_outside_the_safe_set_are_escaped() -> None:
    line = encode_point(TelemetryPoint("a site,x=1", "dev", T, {"battery": 1}))
    assert line == f"bracelet,site_id=a\\ site\\,x\\=1,device_id=dev battery=1i {MS}"


def test_export_lines_merge_into_points_of_the_sql_stores_shape() -> None:
    labels = {"site_id": "home-0001", "device_id": "0a1b2c3d"}
    lines = [
        export_line("bracelet_battery", [80, 79], [MS, MS + 1000], **labels),
        export_line("bracelet_presence", [1, 0], [MS, MS + 1000], **labels),
        export_line("bracelet_strap_closed", [1], [MS + 1000], **labels),
        export_line("bracelet_rssi", [-60], [MS], **labels),
        "",
    ]
    points = decode_bracelet("0a1b2c3d", lines, limit=10)
    assert points == [
        TelemetryPoint("home-0001", "0a1b2c3d", T, {"presence": "home", "rssi": -60.0, "battery": 80}),
        TelemetryPoint(
            "home-0001",
            "0a1b2c3d",
            datetime(2026, 11, 21, 10, 0, 1, 250_000, tzinfo=UTC),
            {"presence": "away", "battery": 79, "strap_closed": True},
        ),
    ]
    assert type(points[0].values["rssi"]) is float and type(points[0].values["battery"]) is int
    assert len(decode_bracelet("0a1b2c3d", lines, limit=1)) == 1


def test_room_export_decodes_codes_back_to_names() -> None:
    labels = {"site_id": "facility-1", "room_id": "room-101"}
    lines = [export_line("room_camera", [2], [MS], **labels), export_line("room_faces", [3], [MS], **labels)]
    [point] = decode_room("room-101", lines, limit=5)
    assert point == RoomTelemetryPoint("facility-1", "room-101", T, {"faces": 3, "camera": "dark"})


def test_series_selector_quotes_label_values() -> None:
    assert series_selector("room", {"room_id": 'a"b'}) == '{__name__=~"room_.+",room_id="a\\"b"}'
