"""Topics, message validation and the topic ACL (docs/PROTOCOL.md section 3)."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from pydantic import ValidationError

from gateway.acl import MqttRole, is_allowed, render_mosquitto_acl, topic_matches
from gateway.protocol import (
    COMMAND_ADAPTER,
    EVENT_ADAPTER,
    MAX_SNAPSHOT_BYTES,
    SNAPSHOT_ADAPTER,
    STATUS_ADAPTER,
    TELEMETRY_ADAPTER,
    Channel,
    CommandType,
    EventMessage,
    EventType,
    SnapshotError,
    encode_jpeg,
    encode_message,
    parse_topic,
    topic_for,
    utc_from_timestamp,
)

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9"  # a JPEG's framing, enough for the checks


def make_event(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "v": 1,
        "event_id": str(uuid.uuid4()),
        "site_id": "home-1",
        "device_id": "0a1b2c3d",
        "seq": 3,
        "type": "left_home",
        "time": "2026-11-21T10:00:00.125Z",
        "data": {"rssi": -88.5},
    }
    body.update(overrides)
    return body


def test_topics_round_trip() -> None:
    topic = topic_for("home-1", Channel.EVENTS)
    assert topic == "qmon/v1/sites/home-1/events"
    assert parse_topic(topic) == ("home-1", Channel.EVENTS)
    assert topic_for("facility-1", Channel.COMMANDS) == "qmon/v1/sites/facility-1/commands"
    assert parse_topic("qmon/v1/sites/facility-1/snapshots") == ("facility-1", Channel.SNAPSHOTS)


@pytest.mark.parametrize(
    "topic",
    [
        "qmon/v2/sites/home-1/events",
        "qmon/v1/sites/home-1/videos",
        "qmon/v1/sites/home-1/command",
        "qmon/v1/sites/Home_1/events",
        "qmon/v1/sites/home-1/events/extra",
        "qmon/v1/home-1/events",
        "",
    ],
)
def test_foreign_topics_are_refused(topic: str) -> None:
    with pytest.raises(ValueError):
        parse_topic(topic)


def test_event_round_trip_and_encoding() -> None:
    message = EVENT_ADAPTER.validate_json(json.dumps(make_event()))
    assert message.type is EventType.LEFT_HOME
    assert message.time == utc_from_timestamp(message.time.timestamp())
    assert EVENT_ADAPTER.validate_json(encode_message(message)) == message


@pytest.mark.parametrize(
    "overrides",
    [
        {"v": 2},
        {"seq": 0},
        {"device_id": "0A1B2C3D"},
        {"device_id": "abc"},
        {"type": "teleported"},
        {"time": "2026-11-21T10:00:00"},
        {"extra": 1},
        {"event_id": "not-a-uuid"},
        {"site_id": "bad site"},
    ],
)
def test_invalid_events_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        EVENT_ADAPTER.validate_json(json.dumps(make_event(**overrides)))


def test_non_json_is_refused() -> None:
    with pytest.raises(ValidationError):
        EVENT_ADAPTER.validate_json(b"\xff\xfe not json")
    with pytest.raises(ValidationError):
        STATUS_ADAPTER.validate_json(b"[]")


def test_models_are_immutable() -> None:
    message = EventMessage.model_validate(make_event())
    with pytest.raises(ValidationError):
        message.seq = 4  # type: ignore[misc]


def test_topic_filter_matching() -> None:
    assert topic_matches("qmon/v1/sites/+/events", "qmon/v1/sites/a/events")
    assert topic_matches("qmon/#", "qmon/v1/sites/a/events")
    assert not topic_matches("qmon/v1/sites/+/events", "qmon/v1/sites/a/telemetry")
    assert not topic_matches("qmon/v1/sites/+", "qmon/v1/sites/a/events")


def test_site_may_publish_only_under_its_own_id() -> None:
    assert is_allowed("site-a", MqttRole.SITE, "publish", "qmon/v1/sites/site-a/events")
    assert is_allowed("site-a", MqttRole.SITE, "publish", "qmon/v1/sites/site-a/snapshots")
    assert not is_allowed("site-a", MqttRole.SITE, "publish", "qmon/v1/sites/site-b/events")
    assert not is_allowed("site-a", MqttRole.SITE, "publish", "qmon/v1/sites/site-b/snapshots")
    assert not is_allowed("site-a", MqttRole.SITE, "publish", "qmon/v1/sites/+/events")
    assert not is_allowed("site-a", MqttRole.SITE, "subscribe", "qmon/v1/sites/+/events")


def test_site_reads_only_its_own_commands_and_never_publishes_one() -> None:
    assert is_allowed("site-a", MqttRole.SITE, "subscribe", "qmon/v1/sites/site-a/commands")
    assert not is_allowed("site-a", MqttRole.SITE, "subscribe", "qmon/v1/sites/site-b/commands")
    assert not is_allowed("site-a", MqttRole.SITE, "subscribe", "qmon/v1/sites/+/commands")
    assert not is_allowed("site-a", MqttRole.SITE, "subscribe", "qmon/v1/sites/site-a/#")
    assert not is_allowed("site-a", MqttRole.SITE, "subscribe", "qmon/v1/sites/site-a/snapshots")
    assert not is_allowed("site-a", MqttRole.SITE, "publish", "qmon/v1/sites/site-a/commands")
    assert not is_allowed("site-a", MqttRole.SITE, "publish", "qmon/v1/sites/site-b/commands")


def test_hub_reads_every_site_but_not_beyond() -> None:
    assert is_allowed("hub", MqttRole.HUB, "subscribe", "qmon/v1/sites/+/events")
    assert is_allowed("hub", MqttRole.HUB, "subscribe", "qmon/v1/sites/site-a/status")
    assert is_allowed("hub", MqttRole.HUB, "subscribe", "qmon/v1/sites/+/snapshots")
    assert not is_allowed("hub", MqttRole.HUB, "subscribe", "qmon/#")
    assert not is_allowed("hub", MqttRole.HUB, "subscribe", "qmon/v1/sites/#")
    assert not is_allowed("hub", MqttRole.HUB, "subscribe", "qmon/v1/sites/+/commands")
    assert not is_allowed("hub", MqttRole.HUB, "publish", "qmon/v1/sites/site-a/events")
    assert not is_allowed("hub", MqttRole.HUB, "publish", "qmon/v1/sites/site-a/snapshots")


def test_hub_publishes_commands_to_each_site_by_name() -> None:
    assert is_allowed("hub", MqttRole.HUB, "publish", "qmon/v1/sites/site-a/commands")
    assert is_allowed("hub", MqttRole.HUB, "publish", "qmon/v1/sites/facility-1/commands")
    assert not is_allowed("hub", MqttRole.HUB, "publish", "qmon/v1/sites/+/commands")  # no wildcard publish


def test_mosquitto_acl_renders_the_same_rules() -> None:
    text = render_mosquitto_acl(["hub"])
    assert "user hub\ntopic read qmon/v1/sites/+/events" in text
    assert "topic read qmon/v1/sites/+/snapshots\ntopic write qmon/v1/sites/+/commands\n" in text
    assert "pattern write qmon/v1/sites/%u/events" in text
    assert "pattern write qmon/v1/sites/%u/snapshots" in text
    assert "pattern read qmon/v1/sites/%u/commands" in text
    assert "pattern write qmon/v1/sites/%u/commands" not in text
    assert [line for line in text.splitlines() if "write" in line and "commands" in line] == [
        "topic write qmon/v1/sites/+/commands"
    ]
    assert "topic read qmon/v1/sites/+/commands" not in text


def test_room_events_name_a_room_and_a_room_event_type() -> None:
    room = EVENT_ADAPTER.validate_json(
        json.dumps(
            make_event(device_id=None, room_id="room-101", type="occupancy_exceeded", data={"faces": 3})
        )
    )
    assert room.room_id == "room-101" and room.device_id is None and room.subject == "room:room-101"


@pytest.mark.parametrize(
    "overrides",
    [
        {"room_id": "room-101"},  # both subjects
        {"device_id": None},  # none
        {"device_id": None, "room_id": "room-101", "type": "left_home"},  # a bracelet event about a room
        {"type": "camera_covered"},  # a room event about a bracelet
        {"device_id": None, "room_id": "Room 101", "type": "camera_ok"},  # bad room id
    ],
)
def test_event_subjects_are_checked(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        EVENT_ADAPTER.validate_json(json.dumps(make_event(**overrides)))


def test_telemetry_carries_room_readings() -> None:
    body = {
        "v": 1,
        "site_id": "facility-1",
        "time": "2026-11-21T10:00:00Z",
        "rooms": [
            {
                "room_id": "room-101",
                "time": "2026-11-21T10:00:00Z",
                "faces": 1,
                "allowed": 1,
                "person_present": True,
                "camera": "ok",
                "brightness": 120.5,
                "fps": 4.8,
                "detections": 12,
            }
        ],
    }
    message = TELEMETRY_ADAPTER.validate_json(json.dumps(body))
    assert message.readings == [] and message.rooms[0].faces == 1


def make_command(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "v": 1,
        "command_id": str(uuid.uuid4()),
        "site_id": "facility-1",
        "type": "snapshot",
        "room_id": "room-101",
        "time": "2026-11-21T10:00:00Z",
    }
    body.update(overrides)
    return body


def make_snapshot(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "v": 1,
        "command_id": str(uuid.uuid4()),
        "site_id": "facility-1",
        "room_id": "room-101",
        "time": "2026-11-21T10:00:01.2Z",
        "faces_blurred": 1,
        "jpeg": base64.b64encode(JPEG).decode(),
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def test_command_round_trip_names_the_room_not_the_officer() -> None:
    message = COMMAND_ADAPTER.validate_json(json.dumps(make_command()))
    assert message.type is CommandType.SNAPSHOT and message.room_id == "room-101"
    encoded = encode_message(message)
    assert COMMAND_ADAPTER.validate_json(encoded) == message
    assert set(json.loads(encoded)) == {"v", "command_id", "site_id", "type", "room_id", "time"}


@pytest.mark.parametrize(
    "overrides",
    [
        {"v": 2},
        {"type": "video"},
        {"room_id": None},
        {"room_id": "Room 101"},
        {"command_id": "1"},
        {"time": "2026-11-21T10:00:00"},
        {"requested_by": "officer-a"},  # the officer stays on the hub
    ],
)
def test_invalid_commands_are_refused(overrides: dict[str, object]) -> None:
    body = {k: v for k, v in make_command(**overrides).items() if v is not None}
    with pytest.raises(ValidationError):
        COMMAND_ADAPTER.validate_json(json.dumps(body))


def test_snapshot_carries_the_jpeg_as_base64() -> None:
    message = SNAPSHOT_ADAPTER.validate_json(json.dumps(make_snapshot()))
    assert message.image == JPEG and message.faces_blurred == 1 and message.error is None
    encoded = encode_message(message)
    assert SNAPSHOT_ADAPTER.validate_json(encoded) == message
    assert list(json.loads(encoded))[-1] == "jpeg"  # last: a dead letter's head names the request
    whole = SNAPSHOT_ADAPTER.validate_json(json.dumps(make_snapshot(faces_blurred=None)))
    assert whole.faces_blurred is None  # detection failed: the whole frame is blurred


def test_snapshot_errors_carry_no_picture() -> None:
    refused = make_snapshot(faces_blurred=None, jpeg=None, error="camera_offline")
    message = SNAPSHOT_ADAPTER.validate_json(json.dumps(refused))
    assert message.error is SnapshotError.CAMERA_OFFLINE and message.image is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"jpeg": None},  # neither picture nor error
        {"error": "unknown_room"},  # both
        {"jpeg": None, "error": "unknown_room"},  # faces_blurred with an error
        {"jpeg": None, "faces_blurred": None, "error": "melted"},
        {"jpeg": "not base64!"},
        {"jpeg": base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(64)).decode()},  # not a JPEG
        {"jpeg": base64.b64encode(JPEG).decode().replace("=", "")},  # bad padding
        {"faces_blurred": -1},
        {"extra": 1},
        {"site_id": "Facility 1"},
    ],
)
def test_invalid_snapshots_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SNAPSHOT_ADAPTER.validate_json(json.dumps(make_snapshot(**overrides)))


def test_snapshot_size_is_capped() -> None:
    at_cap = JPEG + bytes(MAX_SNAPSHOT_BYTES - len(JPEG))
    assert len(encode_jpeg(at_cap)) <= 4 * MAX_SNAPSHOT_BYTES // 3 + 4
    SNAPSHOT_ADAPTER.validate_json(json.dumps(make_snapshot(jpeg=encode_jpeg(at_cap))))
    with pytest.raises(ValueError):
        encode_jpeg(at_cap + b"\x00")
    over = base64.b64encode(at_cap + bytes(3)).decode()
    with pytest.raises(ValidationError, match="at most"):
        SNAPSHOT_ADAPTER.validate_json(json.dumps(make_snapshot(jpeg=over)))
