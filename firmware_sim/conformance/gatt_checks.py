"""Checks of the bracelet's GATT server against docs/PROTOCOL.md section 2 (pure).

The expected layout is transcribed here from the protocol's table, not taken from the simulator's own
(firmware_sim.gatt_layout), so that the simulator is checked against the document like any bracelet.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from firmware_sim.conformance.observations import (
    GattSnapshot,
    Notification,
    NotificationTrace,
    ReadResult,
    StrapToggle,
)
from firmware_sim.conformance.results import CheckResult, failed, passed, skipped
from qmon.bracelet import gatt
from qmon.bracelet.advert import HEART_RATE_RANGE, RESERVED_FLAGS, TEMP_CENTI_RANGE, Flags

_R = frozenset({"read"})
_RN = frozenset({"read", "notify"})
_N = frozenset({"notify"})
_I = frozenset({"indicate"})
_RW = frozenset({"read", "write"})
_SEMVER = re.compile(r"\d+\.\d+\.\d+")
_STATUS_FLAGS_OFFSET = 5


@dataclass(frozen=True, slots=True)
class ExpectedCharacteristic:
    """A characteristic the protocol requires, with exactly these bleak property names."""

    label: str
    uuid: str
    properties: frozenset[str]


@dataclass(frozen=True, slots=True)
class ExpectedService:
    """A service the protocol requires; `key` names its check (`gatt.<key>`)."""

    key: str
    label: str
    uuid: str
    characteristics: tuple[ExpectedCharacteristic, ...]


C = ExpectedCharacteristic
EXPECTED_SERVICES: tuple[ExpectedService, ...] = (
    ExpectedService(
        "device_information",
        "Device Information 0x180A",
        gatt.DEVICE_INFORMATION_SERVICE,
        (
            C("Manufacturer Name", gatt.MANUFACTURER_NAME, _R),
            C("Model Number", gatt.MODEL_NUMBER, _R),
            C("Serial Number", gatt.SERIAL_NUMBER, _R),
            C("Hardware Revision", gatt.HARDWARE_REVISION, _R),
            C("Firmware Revision", gatt.FIRMWARE_REVISION, _R),
        ),
    ),
    ExpectedService(
        "battery", "Battery 0x180F", gatt.BATTERY_SERVICE, (C("Battery Level", gatt.BATTERY_LEVEL, _RN),)
    ),
    ExpectedService(
        "heart_rate",
        "Heart Rate 0x180D",
        gatt.HEART_RATE_SERVICE,
        (
            C("Heart Rate Measurement", gatt.HEART_RATE_MEASUREMENT, _N),
            C("Body Sensor Location", gatt.BODY_SENSOR_LOCATION, _R),
        ),
    ),
    ExpectedService(
        "health_thermometer",
        "Health Thermometer 0x1809",
        gatt.HEALTH_THERMOMETER_SERVICE,
        (
            C("Temperature Measurement", gatt.TEMPERATURE_MEASUREMENT, _I),
            C("Temperature Type", gatt.TEMPERATURE_TYPE, _R),
        ),
    ),
    ExpectedService(
        "quarantine",
        "Quarantine 3d1b0100",
        gatt.QUARANTINE_SERVICE,
        (
            C("Status", gatt.STATUS, _RN),
            C("Configuration", gatt.CONFIGURATION, _RW),
            C("Time Sync", gatt.TIME_SYNC, _RW),
        ),
    ),
)
del C


def check_service(snapshot: GattSnapshot | None, expected: ExpectedService) -> CheckResult:
    """The service is there with each characteristic, exactly its properties, and a CCCD where it notifies."""
    name = f"gatt.{expected.key}"
    if snapshot is None:
        return skipped(name, "no GATT session (bracelet not found)")
    if snapshot.error is not None:
        return failed(name, f"GATT session failed: {snapshot.error}")
    found = snapshot.services.get(expected.uuid)
    if found is None:
        return failed(name, f"service {expected.label} missing", f"{len(snapshot.services)} services found")
    problems = []
    for char in expected.characteristics:
        info = found.get(char.uuid)
        if info is None:
            problems.append(f"{char.label} missing")
            continue
        if info.properties != char.properties:
            problems.append(
                f"{char.label} is {', '.join(sorted(info.properties)) or 'nothing'}, "
                f"expected {', '.join(sorted(char.properties))}"
            )
        if char.properties & {"notify", "indicate"} and gatt.CCCD not in info.descriptors:
            problems.append(f"{char.label} has no CCCD (0x2902)")
    measured = f"{len(found)} characteristics"
    if problems:
        return failed(name, f"{expected.label}: " + "; ".join(problems), measured)
    return passed(name, f"{expected.label} with the documented characteristics and properties", measured)


# ---- reads --------------------------------------------------------------------------------------------


def _text(value: bytes) -> str:
    text = value.decode("utf-8")
    if not text.strip():
        raise ValueError("empty")
    return text


def _battery(value: bytes) -> str:
    return f"{gatt.decode_battery_level(value)} %"


def _one_byte(expected: int) -> Callable[[bytes], str]:
    def check(value: bytes) -> str:
        if value != bytes([expected]):
            raise ValueError(f"{value.hex() or 'empty'}, expected {expected:02x}")
        return f"0x{expected:02x}"

    return check


def _status(value: bytes) -> str:
    status = gatt.decode_status(value)
    if value[_STATUS_FLAGS_OFFSET] & RESERVED_FLAGS:
        raise ValueError(f"reserved flag bits set (0x{value[_STATUS_FLAGS_OFFSET]:02x})")
    if status.battery_pct is not None and status.battery_pct > 100:
        raise ValueError(f"battery {status.battery_pct} %")
    bpm = status.heart_rate_bpm
    if bpm is not None and not HEART_RATE_RANGE[0] <= bpm <= HEART_RATE_RANGE[1]:
        raise ValueError(f"heart rate {bpm} bpm")
    temp = status.skin_temp_c
    if temp is not None and not TEMP_CENTI_RANGE[0] <= round(temp * 100) <= TEMP_CENTI_RANGE[1]:
        raise ValueError(f"temperature {temp} C")
    return f"counter {status.counter}, flags 0x{int(status.flags):02x}, battery {status.battery_pct}"


def _config(value: bytes) -> str:
    config = gatt.decode_config(value)
    return f"adv {config.adv_interval_ms} ms, status every {config.status_notify_s} s"


def _time(value: bytes) -> str:
    if len(value) != gatt.TIME_LEN:
        raise ValueError(f"{len(value)} bytes, expected {gatt.TIME_LEN}")
    return f"{int.from_bytes(value, 'little')} ms"


def _firmware(value: bytes) -> str:
    text = _text(value)
    if not _SEMVER.search(text):
        raise ValueError(f"{text!r} has no MAJOR.MINOR.PATCH version")
    return text


READ_VALIDATORS: Mapping[str, tuple[str, Callable[[bytes], str]]] = {
    gatt.MANUFACTURER_NAME: ("Manufacturer Name", _text),
    gatt.MODEL_NUMBER: ("Model Number", _text),
    gatt.SERIAL_NUMBER: ("Serial Number", _text),
    gatt.HARDWARE_REVISION: ("Hardware Revision", _text),
    gatt.FIRMWARE_REVISION: ("Firmware Revision", _firmware),
    gatt.BATTERY_LEVEL: ("Battery Level", _battery),
    gatt.BODY_SENSOR_LOCATION: ("Body Sensor Location", _one_byte(gatt.BODY_SENSOR_LOCATION_WRIST)),
    gatt.TEMPERATURE_TYPE: ("Temperature Type", _one_byte(gatt.TEMPERATURE_TYPE_BODY)),
    gatt.STATUS: ("Status", _status),
    gatt.CONFIGURATION: ("Configuration", _config),
    gatt.TIME_SYNC: ("Time Sync", _time),
}


def configured_interval_ms(snapshot: GattSnapshot | None) -> int | None:
    """The advertising interval the bracelet's Configuration characteristic reports, if it could be read."""
    read = None if snapshot is None else snapshot.reads.get(gatt.CONFIGURATION)
    if read is None or read.value is None:
        return None
    try:
        return gatt.decode_config(read.value).adv_interval_ms
    except ValueError:
        return None


def check_reads(snapshot: GattSnapshot | None, device_id: str | None) -> CheckResult:
    """Every documented readable characteristic reads and decodes to a valid value; the serial number is
    the advertised device id."""
    name = "gatt.reads"
    if snapshot is None:
        return skipped(name, "no GATT session (bracelet not found)")
    if snapshot.error is not None:
        return failed(name, f"GATT session failed: {snapshot.error}")
    problems = []
    good = 0
    for uuid, (label, validate) in READ_VALIDATORS.items():
        read = snapshot.reads.get(uuid, ReadResult(error="not readable or not found"))
        if read.value is None:
            problems.append(f"{label}: {read.error}")
            continue
        try:
            validate(read.value)
        except (ValueError, UnicodeDecodeError) as exc:
            problems.append(f"{label}: {exc}")
            continue
        good += 1
    serial = snapshot.reads.get(gatt.SERIAL_NUMBER)
    serial_text = None if serial is None or serial.value is None else serial.value.decode("utf-8", "replace")
    if device_id is not None and serial_text is not None and serial_text != device_id:
        problems.append(f"Serial Number {serial_text!r} is not the advertised device id {device_id}")
    measured = f"{good} of {len(READ_VALIDATORS)} values valid"
    if problems:
        return failed(name, "; ".join(problems), measured)
    return passed(name, "every readable characteristic decodes to a valid value", measured)


# ---- notifications ------------------------------------------------------------------------------------


def _heart_rate_notification(value: bytes) -> None:
    measurement = gatt.decode_heart_rate(value)
    if measurement.skin_contact and not HEART_RATE_RANGE[0] <= measurement.bpm <= HEART_RATE_RANGE[1]:
        raise ValueError(f"heart rate {measurement.bpm} bpm with skin contact")


def _status_notification(value: bytes) -> None:
    _status(value)


NOTIFICATION_DECODERS: Mapping[str, tuple[str, Callable[[bytes], None]]] = {
    gatt.STATUS: ("status", _status_notification),
    gatt.HEART_RATE_MEASUREMENT: ("heart_rate", _heart_rate_notification),
}


def check_notifications(trace: NotificationTrace | None, uuid: str, bound_s: float) -> CheckResult:
    """After subscribing, a first valid notification arrives within `bound_s` and every one decodes."""
    key, decode = NOTIFICATION_DECODERS[uuid]
    name = f"notify.{key}"
    if trace is None:
        return skipped(name, "no GATT session (bracelet not found)")
    if trace.error is not None:
        return failed(name, f"subscribing failed: {trace.error}")
    if not trace.notifications:
        return failed(name, f"no notification within {bound_s:g} s of subscribing")
    latency = trace.notifications[0].time - trace.subscribed_at
    measured = f"{len(trace.notifications)} notifications, first after {latency:.2f} s"
    if latency > bound_s:
        return failed(name, f"first notification after {latency:.2f} s (bound {bound_s:g} s)", measured)
    for notification in trace.notifications:
        try:
            decode(notification.value)
        except ValueError as exc:
            return failed(name, f"bad value {notification.value.hex()}: {exc}", measured)
    return passed(name, f"first notification within {bound_s:g} s, every value valid", measured)


def strap_states(notifications: Sequence[Notification], since: float) -> list[tuple[float, bool]]:
    """(time, strap closed?) of each status notification from `since` on that decodes."""
    out = []
    for notification in notifications:
        if notification.time < since:
            continue
        try:
            status = gatt.decode_status(notification.value)
        except ValueError:
            continue
        out.append((notification.time, bool(status.flags & Flags.STRAP_CLOSED)))
    return out


def _strap_closed_after(toggle: StrapToggle, since: float) -> list[tuple[float, bool]]:
    return [(t - since, closed) for t, closed in strap_states(toggle.notifications, since)]


def check_strap_notification(
    toggle: StrapToggle | None, bound_s: float, reason_if_missing: str
) -> CheckResult:
    """Opening the strap (console) is notified as a Status with the strap flag clear, closing it with the
    flag set, each within `bound_s`."""
    name = "notify.strap"
    if toggle is None:
        return skipped(name, reason_if_missing)
    if toggle.console_error is not None:
        return failed(name, f"console: {toggle.console_error}")
    problems, delays = [], []
    for label, since, closed in (("open", toggle.opened_at, False), ("closed", toggle.closed_at, True)):
        match = next((d for d, c in _strap_closed_after(toggle, since) if c is closed), None)
        if match is None or match > bound_s:
            problems.append(f"no Status with strap {label} within {bound_s:g} s of AT+STRAP={label.upper()}")
        else:
            delays.append(f"{label} after {match:.2f} s")
    measured = ", ".join(delays)
    if problems:
        return failed(name, "; ".join(problems), measured)
    return passed(name, "strap open and closed each notified in Status", measured)
