"""The GATT checks: layout, reads, notifications and the strap toggle, on hand-built observations.

The conforming snapshot is what the simulated bracelet serves (firmware_sim.gatt_layout and
SimBracelet's reads), plus the GAP service every stack adds: the checks' table, transcribed from
docs/PROTOCOL.md, must accept it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from firmware_sim.bracelet import SimBracelet
from firmware_sim.conformance import gatt_checks as checks
from firmware_sim.conformance.observations import (
    CharacteristicInfo,
    GattSnapshot,
    Notification,
    NotificationTrace,
    ReadResult,
    StrapToggle,
)
from firmware_sim.conformance.results import Outcome
from firmware_sim.gatt_layout import BRACELET_LAYOUT
from qmon.bracelet import gatt
from qmon.bracelet.advert import Flags
from qmon.bracelet.gatt import StatusValue
from tests.unit.conformance.builders import DEVICE_ID, KEY

NOW = 1_800_000_000.0
GAP_SERVICE = gatt.sig_uuid(0x1800)


def conforming_snapshot() -> GattSnapshot:
    bracelet = SimBracelet(DEVICE_ID, KEY, now=NOW)
    services = {
        s.uuid: {
            c.uuid: CharacteristicInfo(
                c.uuid, frozenset(c.properties), frozenset({gatt.CCCD}) if c.cccd_handle else frozenset()
            )
            for c in s.characteristics
        }
        for s in BRACELET_LAYOUT
    }
    services[GAP_SERVICE] = {
        gatt.sig_uuid(0x2A00): CharacteristicInfo(gatt.sig_uuid(0x2A00), frozenset({"read"}))
    }
    reads = {
        c.uuid: ReadResult(value=bracelet.gatt_read(c.uuid, NOW))
        for s in BRACELET_LAYOUT
        for c in s.characteristics
        if c.readable
    }
    return GattSnapshot(services, reads)


def without(snapshot: GattSnapshot, service: str) -> GattSnapshot:
    return replace(snapshot, services={k: v for k, v in snapshot.services.items() if k != service})


def with_read(snapshot: GattSnapshot, uuid: str, read: ReadResult) -> GattSnapshot:
    return replace(snapshot, reads={**snapshot.reads, uuid: read})


def status(closed: bool = True, **overrides: object) -> bytes:
    value = StatusValue(
        counter=7,
        flags=Flags.STRAP_CLOSED if closed else Flags(0),
        battery_pct=87,
        heart_rate_bpm=72,
        skin_temp_c=36.41,
        device_time=1_800_000_000,
    )
    return gatt.encode_status(replace(value, **overrides))  # type: ignore[arg-type]


# ---- services ----------------------------------------------------------------------------------------


def test_the_simulated_layout_passes_every_service_check() -> None:
    snapshot = conforming_snapshot()
    results = [checks.check_service(snapshot, s) for s in checks.EXPECTED_SERVICES]
    assert [r.name for r in results] == [
        "gatt.device_information",
        "gatt.battery",
        "gatt.heart_rate",
        "gatt.health_thermometer",
        "gatt.quarantine",
    ]
    assert {r.outcome for r in results} == {Outcome.PASS}


def test_a_missing_service_fails_its_own_check_only() -> None:
    snapshot = without(conforming_snapshot(), gatt.HEART_RATE_SERVICE)
    results = {s.key: checks.check_service(snapshot, s) for s in checks.EXPECTED_SERVICES}
    assert results["heart_rate"].outcome is Outcome.FAIL
    assert results["heart_rate"].reason == "service Heart Rate 0x180D missing"
    assert all(r.outcome is Outcome.PASS for k, r in results.items() if k != "heart_rate")


def test_wrong_properties_and_a_missing_cccd_fail() -> None:
    snapshot = conforming_snapshot()
    quarantine = dict(snapshot.services[gatt.QUARANTINE_SERVICE])
    quarantine[gatt.STATUS] = CharacteristicInfo(gatt.STATUS, frozenset({"read", "notify"}))  # no CCCD
    quarantine[gatt.TIME_SYNC] = CharacteristicInfo(gatt.TIME_SYNC, frozenset({"read"}))
    del quarantine[gatt.CONFIGURATION]
    broken = replace(snapshot, services={**snapshot.services, gatt.QUARANTINE_SERVICE: quarantine})
    result = checks.check_service(broken, checks.EXPECTED_SERVICES[-1])
    assert result.outcome is Outcome.FAIL
    assert "Status has no CCCD (0x2902)" in result.reason
    assert "Configuration missing" in result.reason
    assert "Time Sync is read, expected read, write" in result.reason


def test_no_session_is_skipped_and_a_failed_session_fails() -> None:
    expected = checks.EXPECTED_SERVICES[0]
    assert checks.check_service(None, expected).outcome is Outcome.SKIP
    failed = checks.check_service(GattSnapshot({}, error="cannot connect: timeout"), expected)
    assert failed.outcome is Outcome.FAIL
    assert "cannot connect" in failed.reason


# ---- reads -------------------------------------------------------------------------------------------


def test_the_simulated_values_read_valid() -> None:
    result = checks.check_reads(conforming_snapshot(), "0a1b2c3d")
    assert result.outcome is Outcome.PASS, result.reason
    assert result.measured == "11 of 11 values valid"
    assert checks.configured_interval_ms(conforming_snapshot()) == 1000


@pytest.mark.parametrize(
    ("uuid", "read", "problem"),
    [
        (gatt.BATTERY_LEVEL, ReadResult(value=b"\x65"), "Battery Level: bad battery level 65"),
        (gatt.BODY_SENSOR_LOCATION, ReadResult(value=b"\x01"), "Body Sensor Location: 01, expected 02"),
        (gatt.STATUS, ReadResult(value=status()[:-1]), "Status: status must be 14 bytes"),
        (gatt.STATUS, ReadResult(value=status(battery_pct=150)), "Status: battery 150 %"),
        (gatt.CONFIGURATION, ReadResult(value=bytes.fromhex("01e8031e00ff00")), "low_battery_pct=255"),
        (gatt.FIRMWARE_REVISION, ReadResult(value=b"beta"), "has no MAJOR.MINOR.PATCH version"),
        (gatt.TIME_SYNC, ReadResult(error="BleakGATTProtocolError: 2"), "Time Sync: BleakGATTProtocolError"),
        (gatt.MODEL_NUMBER, ReadResult(value=b"\xff\xfe"), "Model Number:"),
    ],
)
def test_an_invalid_value_fails_the_reads(uuid: str, read: ReadResult, problem: str) -> None:
    result = checks.check_reads(with_read(conforming_snapshot(), uuid, read), "0a1b2c3d")
    assert result.outcome is Outcome.FAIL
    assert problem in result.reason


def test_reserved_status_flags_and_a_foreign_serial_fail() -> None:
    value = bytearray(status())
    value[5] |= 0x80
    result = checks.check_reads(with_read(conforming_snapshot(), gatt.STATUS, ReadResult(bytes(value))), None)
    assert "reserved flag bits set (0x81)" in result.reason
    foreign = checks.check_reads(conforming_snapshot(), "00000001")
    assert "is not the advertised device id 00000001" in foreign.reason


# ---- notifications -----------------------------------------------------------------------------------


def trace(uuid: str, *values: tuple[float, bytes], error: str | None = None) -> NotificationTrace:
    return NotificationTrace(uuid, 10.0, tuple(Notification(t, v) for t, v in values), error)


def test_notifications_within_the_bound_pass() -> None:
    result = checks.check_notifications(
        trace(gatt.STATUS, (10.4, status()), (11.4, status())), gatt.STATUS, 3
    )
    assert result.outcome is Outcome.PASS
    assert result.name == "notify.status"
    assert result.measured == "2 notifications, first after 0.40 s"
    heart = trace(gatt.HEART_RATE_MEASUREMENT, (10.9, b"\x06\x48"), (11.9, b"\x04\x00"))
    assert checks.check_notifications(heart, gatt.HEART_RATE_MEASUREMENT, 3).outcome is Outcome.PASS


@pytest.mark.parametrize(
    ("observed", "reason"),
    [
        (trace(gatt.STATUS), "no notification within 3 s of subscribing"),
        (trace(gatt.STATUS, (14.0, status())), "first notification after 4.00 s (bound 3 s)"),
        (trace(gatt.STATUS, (10.5, b"\x01\x02")), "bad value 0102: status must be 14 bytes"),
        (trace(gatt.STATUS, error="BleakError: no CCCD"), "subscribing failed: BleakError: no CCCD"),
    ],
)
def test_missing_late_bad_or_refused_notifications_fail(observed: NotificationTrace, reason: str) -> None:
    result = checks.check_notifications(observed, gatt.STATUS, 3)
    assert result.outcome is Outcome.FAIL
    assert result.reason == reason


def test_heart_rate_out_of_range_with_contact_fails() -> None:
    heart = trace(gatt.HEART_RATE_MEASUREMENT, (10.5, b"\x06\x05"))
    result = checks.check_notifications(heart, gatt.HEART_RATE_MEASUREMENT, 3)
    assert result.reason == "bad value 0605: heart rate 5 bpm with skin contact"


def test_no_session_skips_the_notification_checks() -> None:
    assert checks.check_notifications(None, gatt.STATUS, 3).outcome is Outcome.SKIP


# ---- strap toggle ------------------------------------------------------------------------------------


def toggle(*values: tuple[float, bytes], error: str | None = None) -> StrapToggle:
    return StrapToggle(20.0, 22.0, tuple(Notification(t, v) for t, v in values), error)


def test_strap_open_and_close_notified_passes() -> None:
    result = checks.check_strap_notification(toggle((20.1, status(False)), (22.2, status(True))), 3, "")
    assert result.outcome is Outcome.PASS
    assert result.measured == "open after 0.10 s, closed after 0.20 s"


def test_strap_never_shown_open_fails() -> None:
    result = checks.check_strap_notification(toggle((20.1, status(True)), (22.2, status(True))), 3, "")
    assert result.outcome is Outcome.FAIL
    assert result.reason == "no Status with strap open within 3 s of AT+STRAP=OPEN"


def test_strap_toggle_without_console_is_skipped_and_a_console_error_fails() -> None:
    skipped = checks.check_strap_notification(None, 3, "no --console given")
    assert (skipped.outcome, skipped.reason) == (Outcome.SKIP, "no --console given")
    broken = checks.check_strap_notification(toggle(error="AT+STRAP=OPEN answered ['ERROR: x']"), 3, "")
    assert broken.outcome is Outcome.FAIL
