"""The simulated bracelet's GATT database: services, characteristics, properties and attribute handles.

One table serves the bracelet's GATT server (which operations each characteristic permits) and the bleak
backend (the `BleakGATTServiceCollection` a client discovers), so both always agree. Handles follow the
ATT layout: service declaration, then per characteristic its declaration, its value and, for notify or
indicate, its Client Characteristic Configuration Descriptor (CCCD).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qmon.bracelet import gatt

CCCD_NOTIFY = 0x0001
CCCD_INDICATE = 0x0002
DEFAULT_MTU = 247  # what phones and BlueZ usually negotiate with a BLE 4.2+ peripheral


@dataclass(frozen=True, slots=True)
class CharacteristicSpec:
    """One characteristic: its UUID, bleak property names, value handle and CCCD handle (if any)."""

    uuid: str
    properties: tuple[str, ...]
    handle: int
    cccd_handle: int | None

    @property
    def readable(self) -> bool:
        """Whether a client may read the value."""
        return "read" in self.properties

    @property
    def writable(self) -> bool:
        """Whether a client may write the value (with or without response)."""
        return "write" in self.properties or "write-without-response" in self.properties

    @property
    def subscribable(self) -> bool:
        """Whether a client may enable notifications or indications."""
        return "notify" in self.properties or "indicate" in self.properties

    @property
    def cccd_enable_value(self) -> int:
        """The CCCD value a client writes to subscribe (notifications preferred over indications)."""
        return CCCD_NOTIFY if "notify" in self.properties else CCCD_INDICATE


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One primary service with its characteristics."""

    uuid: str
    handle: int
    characteristics: tuple[CharacteristicSpec, ...]


_R = ("read",)
_RN = ("read", "notify")
_N = ("notify",)
_I = ("indicate",)
_RW = ("read", "write")

_SERVICES: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    (
        gatt.DEVICE_INFORMATION_SERVICE,
        (
            (gatt.MANUFACTURER_NAME, _R),
            (gatt.MODEL_NUMBER, _R),
            (gatt.SERIAL_NUMBER, _R),
            (gatt.HARDWARE_REVISION, _R),
            (gatt.FIRMWARE_REVISION, _R),
        ),
    ),
    (gatt.BATTERY_SERVICE, ((gatt.BATTERY_LEVEL, _RN),)),
    (gatt.HEART_RATE_SERVICE, ((gatt.HEART_RATE_MEASUREMENT, _N), (gatt.BODY_SENSOR_LOCATION, _R))),
    (gatt.HEALTH_THERMOMETER_SERVICE, ((gatt.TEMPERATURE_MEASUREMENT, _I), (gatt.TEMPERATURE_TYPE, _R))),
    (gatt.QUARANTINE_SERVICE, ((gatt.STATUS, _RN), (gatt.CONFIGURATION, _RW), (gatt.TIME_SYNC, _RW))),
)


def build_layout() -> tuple[ServiceSpec, ...]:
    """Assign ATT handles to the bracelet's services, in declaration order, starting at 0x0001."""
    services: list[ServiceSpec] = []
    handle = 1
    for service_uuid, chars in _SERVICES:
        service_handle = handle
        handle += 1
        specs: list[CharacteristicSpec] = []
        for uuid, props in chars:
            value_handle = handle + 1  # handle itself is the characteristic declaration
            handle += 2
            cccd = None
            if "notify" in props or "indicate" in props:
                cccd = handle
                handle += 1
            specs.append(
                CharacteristicSpec(uuid=uuid, properties=props, handle=value_handle, cccd_handle=cccd)
            )
        services.append(ServiceSpec(uuid=service_uuid, handle=service_handle, characteristics=tuple(specs)))
    return tuple(services)


BRACELET_LAYOUT: tuple[ServiceSpec, ...] = build_layout()
CHARACTERISTICS: dict[str, CharacteristicSpec] = {
    c.uuid: c for service in BRACELET_LAYOUT for c in service.characteristics
}


def layout_to_json(layout: tuple[ServiceSpec, ...] = BRACELET_LAYOUT) -> list[dict[str, Any]]:
    """The layout as plain JSON data (the radio server sends it in its connect reply)."""
    return [
        {
            "uuid": s.uuid,
            "handle": s.handle,
            "characteristics": [
                {"uuid": c.uuid, "properties": list(c.properties), "handle": c.handle, "cccd": c.cccd_handle}
                for c in s.characteristics
            ],
        }
        for s in layout
    ]


def layout_from_json(data: list[dict[str, Any]]) -> tuple[ServiceSpec, ...]:
    """Parse what layout_to_json produced; raise ValueError on anything malformed."""
    try:
        return tuple(
            ServiceSpec(
                uuid=str(s["uuid"]),
                handle=int(s["handle"]),
                characteristics=tuple(
                    CharacteristicSpec(
                        uuid=str(c["uuid"]),
                        properties=tuple(str(p) for p in c["properties"]),
                        handle=int(c["handle"]),
                        cccd_handle=None if c.get("cccd") is None else int(c["cccd"]),
                    )
                    for c in s["characteristics"]
                ),
            )
            for s in data
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed GATT layout: {exc}") from None
