"""Topics, message validation and the topic ACL (docs/PROTOCOL.md section 3)."""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import ValidationError

from gateway.acl import MqttRole, is_allowed, render_mosquitto_acl, topic_matches
from gateway.protocol import (
    EVENT_ADAPTER,
    STATUS_ADAPTER,
    TELEMETRY_ADAPTER,
    Channel,
    EventMessage,
    EventType,
    encode_message,
    parse_topic,
    topic_for,
    utc_from_timestamp,
)


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


@pytest.mark.parametrize(
    "topic",
    [
        "qmon/v2/sites/home-1/events",
        "qmon/v1/sites/home-1/commands",
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
    assert not is_allowed("site-a", MqttRole.SITE, "publish", "qmon/v1/sites/site-b/events")
    assert not is_allowed("site-a", MqttRole.SITE, "publish", "qmon/v1/sites/+/events")
    assert not is_allowed("site-a", MqttRole.SITE, "subscribe", "qmon/v1/sites/+/events")


def test_hub_reads_every_site_but_not_beyond() -> None:
    assert is_allowed("hub", MqttRole.HUB, "subscribe", "qmon/v1/sites/+/events")
    assert is_allowed("hub", MqttRole.HUB, "subscribe", "qmon/v1/sites/site-a/status")
    assert not is_allowed("hub", MqttRole.HUB, "subscribe", "qmon/#")
    assert not is_allowed("hub", MqttRole.HUB, "subscribe", "qmon/v1/sites/#")
    assert not is_allowed("hub", MqttRole.HUB, "publish", "qmon/v1/sites/site-a/events")


def test_mosquitto_acl_renders_the_same_rules() -> None:
    text = render_mosquitto_acl(["hub"])
    assert "user hub\ntopic read qmon/v1/sites/+/events" in text
    assert "pattern write qmon/v1/sites/%u/events" in text
    assert "topic write" not in text


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
