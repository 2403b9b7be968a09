"""The MQTT wire protocol, version 1: topics and message models (docs/PROTOCOL.md, section 3).

Every message is UTF-8 JSON validated by these pydantic models at both ends. Topics live under
`qmon/v1/`; a breaking change to any payload moves the tree to `qmon/v2/` and both can run side by side.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

PROTOCOL_VERSION = 1
TOPIC_ROOT = f"qmon/v{PROTOCOL_VERSION}"
SITE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
DEVICE_ID_PATTERN = r"^[0-9a-f]{8}$"
ROOM_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
_SITE_RE = re.compile(SITE_ID_PATTERN)

SiteId = Annotated[str, Field(pattern=SITE_ID_PATTERN, description="Edge site (MQTT client) identity.")]
DeviceId = Annotated[
    str, Field(pattern=DEVICE_ID_PATTERN, description="Bracelet id, 8 lowercase hex digits.")
]
RoomId = Annotated[
    str, Field(pattern=ROOM_ID_PATTERN, description="Room of an isolation facility, unique per site.")
]


class Channel(StrEnum):
    """The last topic level: what kind of message the topic carries."""

    EVENTS = "events"
    TELEMETRY = "telemetry"
    STATUS = "status"
    SNAPSHOTS = "snapshots"  # site -> hub: the answer to a snapshot command
    COMMANDS = "commands"  # hub -> site: explicit requests (a snapshot of a room)


SITE_CHANNELS = (Channel.EVENTS, Channel.TELEMETRY, Channel.STATUS, Channel.SNAPSHOTS)  # a site publishes
HUB_CHANNELS = (Channel.COMMANDS,)  # the hub publishes


def topic_for(site_id: str, channel: Channel) -> str:
    """`qmon/v1/sites/{site_id}/{channel}`."""
    if not _SITE_RE.match(site_id):
        raise ValueError(f"invalid site id {site_id!r}")
    return f"{TOPIC_ROOT}/sites/{site_id}/{channel.value}"


def subscription_for(channel: Channel) -> str:
    """The hub's wildcard subscription for one channel of every site."""
    return f"{TOPIC_ROOT}/sites/+/{channel.value}"


def parse_topic(topic: str) -> tuple[str, Channel]:
    """Split a qmon topic into (site id, channel), either direction; raise ValueError for anything else."""
    parts = topic.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT or parts[2] != "sites":
        raise ValueError(f"not a {TOPIC_ROOT} site topic: {topic!r}")
    site_id, channel = parts[3], parts[4]
    if not _SITE_RE.match(site_id):
        raise ValueError(f"invalid site id in topic: {site_id!r}")
    try:
        return site_id, Channel(channel)
    except ValueError:
        raise ValueError(f"unknown channel {channel!r} in topic {topic!r}") from None


class EventType(StrEnum):
    """Events an edge agent decides on. Each onset has the event that clears it."""

    LEFT_HOME = "left_home"
    RETURNED_HOME = "returned_home"
    STRAP_OPENED = "strap_opened"
    STRAP_CLOSED = "strap_closed"
    BRACELET_REMOVED = "bracelet_removed"
    BRACELET_WORN = "bracelet_worn"
    SIGNAL_LOST = "signal_lost"
    SIGNAL_RESTORED = "signal_restored"
    BATTERY_LOW = "battery_low"
    BATTERY_OK = "battery_ok"
    FEVER = "fever"
    FEVER_CLEARED = "fever_cleared"
    # Rooms of an isolation facility, decided by the edge's camera pipeline (subject: room_id).
    PERSON_ABSENT = "person_absent"
    PERSON_PRESENT = "person_present"
    OCCUPANCY_EXCEEDED = "occupancy_exceeded"
    OCCUPANCY_NORMAL = "occupancy_normal"
    CAMERA_COVERED = "camera_covered"
    CAMERA_DARK = "camera_dark"
    CAMERA_FROZEN = "camera_frozen"
    CAMERA_OK = "camera_ok"
    UNKNOWN_FACE = "unknown_face"
    UNKNOWN_FACE_CLEARED = "unknown_face_cleared"


ROOM_EVENT_TYPES = frozenset(
    {
        EventType.PERSON_ABSENT,
        EventType.PERSON_PRESENT,
        EventType.OCCUPANCY_EXCEEDED,
        EventType.OCCUPANCY_NORMAL,
        EventType.CAMERA_COVERED,
        EventType.CAMERA_DARK,
        EventType.CAMERA_FROZEN,
        EventType.CAMERA_OK,
        EventType.UNKNOWN_FACE,
        EventType.UNKNOWN_FACE_CLEARED,
    }
)


class PresenceState(StrEnum):
    """Where the edge believes the wearer is."""

    HOME = "home"
    AWAY = "away"
    UNKNOWN = "unknown"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a time zone (use Z)")
    return value.astimezone(UTC)


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class EventMessage(_Message):
    """One decided event about one bracelet or one facility room; QoS 1 on `.../events`."""

    v: Literal[1] = Field(1, description="Protocol version.")
    event_id: uuid.UUID = Field(description="Unique per event; the hub de-duplicates on it.")
    site_id: SiteId
    device_id: DeviceId | None = Field(None, description="The bracelet the event is about (or room_id).")
    room_id: RoomId | None = Field(None, description="The facility room the event is about (or device_id).")
    seq: int = Field(
        ge=1, description="Per-subject sequence number, increasing by one per event, kept on disk."
    )
    type: EventType
    time: datetime = Field(description="When the edge decided the event (RFC 3339, UTC).")
    data: dict[str, Any] = Field(
        default_factory=dict, description="Evidence for the decision; see PROTOCOL.md."
    )

    @model_validator(mode="after")
    def _one_subject(self) -> EventMessage:
        if (self.device_id is None) == (self.room_id is None):
            raise ValueError("an event names exactly one subject: device_id or room_id")
        if (self.room_id is not None) != (self.type in ROOM_EVENT_TYPES):
            subject = "room" if self.room_id is not None else "bracelet"
            raise ValueError(f"{self.type.value} is not an event about a {subject}")
        return self

    @property
    def subject(self) -> str:
        """The sequence key: the device id, or `room:<room id>`."""
        return self.device_id if self.device_id is not None else f"room:{self.room_id}"

    _check_time = field_validator("time")(_utc)


class Reading(_Message):
    """The latest state of one bracelet in a telemetry batch."""

    device_id: DeviceId
    time: datetime = Field(description="Time of the last accepted advertisement.")
    presence: PresenceState
    rssi: float | None = Field(None, ge=-127, le=20, description="Smoothed RSSI at the home hub, dBm.")
    distance_m: float | None = Field(None, ge=0, description="Distance estimated from RSSI, metres.")
    battery: int | None = Field(None, ge=0, le=100)
    heart_rate: int | None = Field(None, ge=0, le=255)
    skin_temp_c: float | None = Field(None, ge=0, le=60)
    strap_closed: bool
    skin_contact: bool
    charging: bool
    adverts: int = Field(ge=0, description="Advertisements accepted since the previous batch.")

    _check_time = field_validator("time")(_utc)


class CameraState(StrEnum):
    """What a room's camera can see."""

    OK = "ok"
    COVERED = "covered"
    DARK = "dark"
    FROZEN = "frozen"
    OFFLINE = "offline"


class RoomReading(_Message):
    """The latest state of one facility room in a telemetry batch (counts and scores, never images)."""

    room_id: RoomId
    time: datetime = Field(description="Time of the last analysed frame.")
    faces: int = Field(ge=0, le=100, description="Faces counted in the room (after hysteresis).")
    allowed: int = Field(ge=0, le=100, description="How many people the room may hold.")
    person_present: bool | None = Field(None, description="Whether the assigned person is in the room.")
    camera: CameraState
    brightness: float | None = Field(None, ge=0, le=255, description="Mean luminance of the last frame.")
    fps: float | None = Field(None, ge=0, description="Frames analysed per second since the previous batch.")
    detections: int = Field(0, ge=0, description="Detector runs since the previous batch (motion-gated).")

    _check_time = field_validator("time")(_utc)


class TelemetryMessage(_Message):
    """A batch of readings for every monitored bracelet and room of a site; QoS 0 on `.../telemetry`."""

    v: Literal[1] = 1
    site_id: SiteId
    time: datetime
    readings: list[Reading] = Field(default_factory=list, max_length=10_000)
    rooms: list[RoomReading] = Field(default_factory=list, max_length=1_000)
    rejected: dict[str, int] = Field(
        default_factory=dict, description="Advertisements rejected since the previous batch, by reason."
    )

    _check_time = field_validator("time")(_utc)


class SiteState(StrEnum):
    """The edge agent's connection state, as announced on `.../status`."""

    ONLINE = "online"
    OFFLINE = "offline"


class StatusMessage(_Message):
    """The edge agent's online/offline state; `offline` is also the MQTT last will; retained, QoS 1."""

    v: Literal[1] = 1
    site_id: SiteId
    state: SiteState
    time: datetime
    reason: str | None = Field(None, max_length=200, description="Why the state changed (e.g. 'last will').")
    agent_version: str | None = Field(None, max_length=40)

    _check_time = field_validator("time")(_utc)


class CommandType(StrEnum):
    """What the hub asks a site to do."""

    SNAPSHOT = "snapshot"


class CommandMessage(_Message):
    """An explicit request from the hub to one site; QoS 1, not retained, on `.../commands`.

    Who asked stays on the hub: the command names the room, never the officer.
    """

    v: Literal[1] = Field(default=1, description="Protocol version.")
    command_id: uuid.UUID = Field(description="Unique per request; the answer carries it back.")
    site_id: SiteId
    type: CommandType
    room_id: RoomId
    time: datetime = Field(description="When the hub issued the command (RFC 3339, UTC).")

    _check_time = field_validator("time")(_utc)


# A snapshot's JPEG, before base64. A 640x480 frame at quality 85 is 40-80 kB; a full-HD one fits too.
MAX_SNAPSHOT_BYTES = 1024 * 1024
_MAX_SNAPSHOT_BASE64 = 4 * -(-MAX_SNAPSHOT_BYTES // 3)
_JPEG_MAGIC = b"\xff\xd8\xff"


class SnapshotError(StrEnum):
    """Why a site answered a snapshot command without a picture."""

    UNKNOWN_ROOM = "unknown_room"  # no camera room of that id at this site
    CAMERA_OFFLINE = "camera_offline"  # no recent frame from the room's camera
    BUSY = "busy"  # too many snapshots in progress at this site
    FAILED = "failed"  # the picture could not be made (blurring or encoding failed)


class SnapshotMessage(_Message):
    """A site's answer to a snapshot command: a JPEG with every face blurred, or an error; QoS 1 on
    `.../snapshots`. Exactly one of `jpeg` and `error`."""

    v: Literal[1] = Field(default=1, description="Protocol version.")
    command_id: uuid.UUID = Field(description="The command this answers.")
    site_id: SiteId
    room_id: RoomId
    time: datetime = Field(description="When the frame was taken (with an error: when the site answered).")
    faces_blurred: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Faces found and blurred; null if detection failed and the whole frame was blurred "
        "instead (and with an error).",
    )
    error: SnapshotError | None = Field(default=None, description="Why there is no picture.")
    # Last, so that the head of a payload (what a dead letter keeps) names the request.
    jpeg: str | None = Field(
        default=None,
        max_length=_MAX_SNAPSHOT_BASE64,
        description=f"The JPEG, standard base64; at most {MAX_SNAPSHOT_BYTES} bytes before encoding.",
    )

    _check_time = field_validator("time")(_utc)

    @field_validator("jpeg")
    @classmethod
    def _check_jpeg(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                data = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("jpeg must be standard base64") from None
            if not data.startswith(_JPEG_MAGIC):
                raise ValueError("jpeg is not a JPEG image")
        return value

    @model_validator(mode="after")
    def _picture_or_error(self) -> SnapshotMessage:
        if (self.jpeg is None) == (self.error is None):
            raise ValueError("a snapshot carries exactly one of jpeg and error")
        if self.error is not None and self.faces_blurred is not None:
            raise ValueError("faces_blurred goes with a picture, not with an error")
        return self

    @property
    def image(self) -> bytes | None:
        """The JPEG bytes (None with an error)."""
        return None if self.jpeg is None else base64.b64decode(self.jpeg)


def encode_jpeg(data: bytes) -> str:
    """JPEG bytes as SnapshotMessage.jpeg (standard base64); ValueError over MAX_SNAPSHOT_BYTES."""
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise ValueError(f"snapshot of {len(data)} bytes exceeds {MAX_SNAPSHOT_BYTES}")
    return base64.b64encode(data).decode("ascii")


EVENT_ADAPTER: TypeAdapter[EventMessage] = TypeAdapter(EventMessage)
TELEMETRY_ADAPTER: TypeAdapter[TelemetryMessage] = TypeAdapter(TelemetryMessage)
STATUS_ADAPTER: TypeAdapter[StatusMessage] = TypeAdapter(StatusMessage)
COMMAND_ADAPTER: TypeAdapter[CommandMessage] = TypeAdapter(CommandMessage)
SNAPSHOT_ADAPTER: TypeAdapter[SnapshotMessage] = TypeAdapter(SnapshotMessage)


def encode_message(message: _Message) -> bytes:
    """Serialise a message to compact JSON bytes."""
    return message.model_dump_json(exclude_none=True).encode()


def utc_from_timestamp(seconds: float) -> datetime:
    """A UTC datetime from Unix seconds (the clocks' unit)."""
    return datetime.fromtimestamp(seconds, UTC)
