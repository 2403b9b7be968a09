"""Telemetry points to InfluxDB line protocol, and VictoriaMetrics' export back to points (pure functions).

Measurements and fields (docs/ARCHITECTURE.md, "Telemetry"):

- `bracelet`, tags `site_id`, `device_id`; fields `presence` (code), `rssi`, `distance_m`, `battery`,
  `heart_rate`, `skin_temp_c`, `strap_closed`, `skin_contact`, `charging` (0/1), `adverts`.
- `room`, tags `site_id`, `room_id`; fields `faces`, `allowed`, `person_present` (0/1), `brightness`, `fps`,
  `detections`, `camera` (code).

VictoriaMetrics stores no string fields, and an ever-changing string tag would multiply series, so the two
enumerations (`presence`, `camera`) are written as integer codes and decoded back on reading. Times are
written in milliseconds (VictoriaMetrics' resolution). A VictoriaMetrics metric is `<measurement>_<field>`.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from cloud.storage.telemetry import AnyTelemetryPoint, RoomTelemetryPoint, TelemetryPoint

BRACELET = "bracelet"
ROOM = "room"
PRESENCE_CODES = {"home": 1, "away": 0, "unknown": -1}
CAMERA_CODES = {"ok": 0, "covered": 1, "dark": 2, "frozen": 3, "offline": 4}
_ENUMS: dict[str, dict[str, int]] = {"presence": PRESENCE_CODES, "camera": CAMERA_CODES}
_NAMES: dict[str, dict[int, str]] = {f: {c: n for n, c in codes.items()} for f, codes in _ENUMS.items()}


def _enum(field: str) -> Callable[[float], Any]:
    names = _NAMES[field]
    return lambda v: names.get(int(v), "unknown")


def _bool(v: float) -> bool:
    return v != 0


# How a field read back from the store becomes the type the SQL store would have returned.
FIELD_TYPES: dict[str, dict[str, Callable[[float], Any]]] = {
    BRACELET: {
        "presence": _enum("presence"),
        "rssi": float,
        "distance_m": float,
        "battery": int,
        "heart_rate": int,
        "skin_temp_c": float,
        "strap_closed": _bool,
        "skin_contact": _bool,
        "charging": _bool,
        "adverts": int,
    },
    ROOM: {
        "faces": int,
        "allowed": int,
        "person_present": _bool,
        "brightness": float,
        "fps": float,
        "detections": int,
        "camera": _enum("camera"),
    },
}
_TAG_SAFE = re.compile(r"^[A-Za-z0-9_.:-]+$")
_SCHEMA_NAMES = frozenset(name for fields in FIELD_TYPES.values() for name in fields)  # need no escaping
_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\\": "\\\\"})


def _tag(value: str) -> str:
    return value if _TAG_SAFE.match(value) else value.translate(_TAG_ESCAPES).replace("\n", " ")


@functools.lru_cache(maxsize=200_000)
def _prefix(measurement: str, site_id: str, key: str, subject: str) -> str:
    """`measurement,site_id=...,<key>=... ` (cached: a fleet repeats its tag sets every few seconds)."""
    return f"{measurement},site_id={_tag(site_id)},{key}={_tag(subject)} "


def _field(name: str, value: Any) -> str | None:
    """One `name=value` pair, or None for what the store cannot keep (a string outside the enums, NaN)."""
    if not _TAG_SAFE.match(name):
        return None
    kind = type(value)
    if kind is float:
        return f"{name}={value!r}" if math.isfinite(value) else None
    if kind is bool:
        return f"{name}={'1i' if value else '0i'}"
    if kind is int:
        return f"{name}={value}i"
    if isinstance(value, str):  # StrEnum members too (ingest's presence)
        code = _ENUMS.get(name, {}).get(value)
        return None if code is None else f"{name}={code}i"
    if isinstance(value, bool | int | float):  # subclasses (IntEnum, numpy scalars)
        return _field(name, int(value) if isinstance(value, bool | int) else float(value))
    return None


def to_millis(time: datetime) -> int:
    """Milliseconds since the epoch (VictoriaMetrics' resolution)."""
    return round(time.timestamp() * 1000)


def encode_point(point: AnyTelemetryPoint) -> str | None:
    """One point as a line of line protocol, millisecond timestamp (None: it has no storable field)."""
    if isinstance(point, TelemetryPoint):
        prefix = _prefix(BRACELET, point.site_id, "device_id", point.device_id)
    else:
        prefix = _prefix(ROOM, point.site_id, "room_id", point.room_id)
    # The common types inline (a call per field would double the cost: this runs for every reading); the
    # text of an integer, boolean or enumerated field is looked up, as a fleet repeats those values.
    fields = []
    for name, value in point.values.items():
        kind = type(value)
        if kind is float:
            if value - value == 0 and name in _SCHEMA_NAMES:  # not NaN or infinite
                fields.append(f"{name}={value!r}")
                continue
        elif (kind is int or kind is bool or kind is str) and (texts := _TEXTS.get(name)) is not None:
            text = texts.get(value)
            if text is None:
                text = _field(name, value) or ""
                if len(texts) < _MAX_TEXTS:
                    texts[value] = text
            if text:
                fields.append(text)
            continue
        if (other := _field(name, value)) is not None:  # other names and types
            fields.append(other)
    if not fields:
        return None
    return f"{prefix}{','.join(fields)} {round(point.time.timestamp() * 1000)}"


# Per schema field, the line-protocol text of the integer, boolean and enumerated values seen ("" for one
# that cannot be stored). Booleans and the integers equal to them share entries: both are written `1i`/`0i`.
_TEXTS: dict[str, dict[Any, str]] = {name: {} for name in _SCHEMA_NAMES}
_MAX_TEXTS = 10_000


def encode_points(points: Iterable[AnyTelemetryPoint]) -> list[str]:
    """The points as lines (points without a storable field are left out)."""
    return [line for p in points if (line := encode_point(p)) is not None]


def chunks(lines: Sequence[str], size: int) -> Iterator[str]:
    """Newline-joined request bodies of at most `size` lines each."""
    for start in range(0, len(lines), size):
        yield "\n".join(lines[start : start + size])


def series_selector(measurement: str, labels: Mapping[str, str]) -> str:
    """A PromQL series selector for every field of `measurement` with these exact label values."""
    matchers = [f'__name__=~"{measurement}_.+"']
    for name, value in labels.items():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        matchers.append(f'{name}="{escaped}"')
    return "{" + ",".join(matchers) + "}"


def decode_export(
    measurement: str, lines: Iterable[str | bytes], limit: int
) -> list[tuple[str, datetime, dict[str, Any]]]:
    """VictoriaMetrics /api/v1/export JSON lines of one subject -> (site_id, time, values), oldest first.

    Each exported line is one series (one field); the samples of all fields at one time make one point.
    """
    prefix = f"{measurement}_"
    types = FIELD_TYPES[measurement]
    merged: dict[tuple[int, str], dict[str, Any]] = {}
    for raw in lines:
        if not raw or not raw.strip():
            continue
        series = json.loads(raw)
        metric = series["metric"]
        name: str = metric.get("__name__", "")
        if not name.startswith(prefix):
            continue
        field = name[len(prefix) :]
        convert = types.get(field, float)
        site = metric.get("site_id", "")
        for value, millis in zip(series["values"], series["timestamps"], strict=True):
            if value is None:
                continue
            merged.setdefault((millis, site), {})[field] = convert(value)
    order = {name: i for i, name in enumerate(types)}  # the schema's field order, unknown fields last
    return [
        (
            site,
            datetime.fromtimestamp(ms / 1000, UTC),
            dict(sorted(merged[(ms, site)].items(), key=lambda kv: order.get(kv[0], len(order)))),
        )
        for ms, site in sorted(merged)[:limit]
    ]


def decode_bracelet(device_id: str, lines: Iterable[str | bytes], limit: int) -> list[TelemetryPoint]:
    """Exported bracelet series -> TelemetryPoints, oldest first."""
    return [TelemetryPoint(s, device_id, t, v) for s, t, v in decode_export(BRACELET, lines, limit)]


def decode_room(room_id: str, lines: Iterable[str | bytes], limit: int) -> list[RoomTelemetryPoint]:
    """Exported room series -> RoomTelemetryPoints, oldest first."""
    return [RoomTelemetryPoint(s, room_id, t, v) for s, t, v in decode_export(ROOM, lines, limit)]
