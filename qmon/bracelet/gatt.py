"""GATT layout and characteristic codecs, format version 1 (docs/PROTOCOL.md, section 2).

Standard services where they fit (Device Information, Battery, Heart Rate, Health Thermometer) and one
qmon quarantine service for status notifications, configuration and time sync. All functions are pure.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from qmon.bracelet.advert import (
    BATTERY_UNKNOWN,
    HEART_RATE_UNKNOWN,
    TEMP_UNKNOWN,
    Flags,
)


def sig_uuid(short: int) -> str:
    """The full 128-bit form of a Bluetooth SIG 16-bit UUID, as bleak spells it."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


def qmon_uuid(short: int) -> str:
    """A UUID in qmon's own 128-bit base (3d1bXXXX-df0a-418d-b282-42c3e3122cf6)."""
    return f"3d1b{short:04x}-df0a-418d-b282-42c3e3122cf6"


DEVICE_INFORMATION_SERVICE = sig_uuid(0x180A)
MANUFACTURER_NAME = sig_uuid(0x2A29)
MODEL_NUMBER = sig_uuid(0x2A24)
SERIAL_NUMBER = sig_uuid(0x2A25)
HARDWARE_REVISION = sig_uuid(0x2A27)
FIRMWARE_REVISION = sig_uuid(0x2A26)

BATTERY_SERVICE = sig_uuid(0x180F)
BATTERY_LEVEL = sig_uuid(0x2A19)

HEART_RATE_SERVICE = sig_uuid(0x180D)
HEART_RATE_MEASUREMENT = sig_uuid(0x2A37)
BODY_SENSOR_LOCATION = sig_uuid(0x2A38)
BODY_SENSOR_LOCATION_WRIST = 0x02

HEALTH_THERMOMETER_SERVICE = sig_uuid(0x1809)
TEMPERATURE_MEASUREMENT = sig_uuid(0x2A1C)
TEMPERATURE_TYPE = sig_uuid(0x2A1D)
TEMPERATURE_TYPE_BODY = 0x02

CCCD = sig_uuid(0x2902)

QUARANTINE_SERVICE = qmon_uuid(0x0100)
STATUS = qmon_uuid(0x0101)
CONFIGURATION = qmon_uuid(0x0102)
TIME_SYNC = qmon_uuid(0x0103)

# Application ATT error codes (0x80-0x9F are for the application to define).
ATT_ERROR_INVALID_CONFIGURATION = 0x80
ATT_ERROR_INVALID_TIME = 0x81
ATT_ERROR_INVALID_LENGTH = 0x0D  # the core spec's Invalid Attribute Value Length


class GattValueError(ValueError):
    """A characteristic value that does not decode; `att_error` is what a GATT server answers."""

    def __init__(self, message: str, att_error: int) -> None:
        super().__init__(message)
        self.att_error = att_error


# ---- Battery Level (0x2A19): uint8 percent --------------------------------------------------------------


def encode_battery_level(percent: int) -> bytes:
    """Battery Level value: one byte, 0-100."""
    if not 0 <= percent <= 100:
        raise ValueError("battery level must be 0-100")
    return bytes([percent])


def decode_battery_level(value: bytes) -> int:
    """Decode a Battery Level value."""
    if len(value) != 1 or value[0] > 100:
        raise GattValueError(f"bad battery level {value.hex()}", ATT_ERROR_INVALID_LENGTH)
    return value[0]


# ---- Heart Rate Measurement (0x2A37) ----------------------------------------------------------------------

HR_FLAG_UINT16 = 0x01
HR_FLAG_CONTACT_DETECTED = 0x02
HR_FLAG_CONTACT_SUPPORTED = 0x04


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    """Heart rate in bpm and the sensor-contact status (the bracelet's skin contact)."""

    bpm: int
    skin_contact: bool


def encode_heart_rate(measurement: HeartRateMeasurement) -> bytes:
    """Flags (uint8 format, contact supported, contact detected) then the bpm as uint8."""
    flags = HR_FLAG_CONTACT_SUPPORTED | (HR_FLAG_CONTACT_DETECTED if measurement.skin_contact else 0)
    if not 0 <= measurement.bpm <= 255:
        raise ValueError("bpm out of uint8 range")
    return bytes([flags, measurement.bpm])


def decode_heart_rate(value: bytes) -> HeartRateMeasurement:
    """Decode a Heart Rate Measurement (uint8 or uint16 format; energy and RR fields ignored)."""
    if len(value) < 2:
        raise GattValueError("heart rate measurement too short", ATT_ERROR_INVALID_LENGTH)
    flags = value[0]
    if flags & HR_FLAG_UINT16:
        if len(value) < 3:
            raise GattValueError("heart rate measurement too short", ATT_ERROR_INVALID_LENGTH)
        bpm = int.from_bytes(value[1:3], "little")
    else:
        bpm = value[1]
    contact = bool(flags & HR_FLAG_CONTACT_SUPPORTED) and bool(flags & HR_FLAG_CONTACT_DETECTED)
    return HeartRateMeasurement(bpm=bpm, skin_contact=contact)


# ---- Temperature Measurement (0x2A1C): flags + IEEE-11073 32-bit FLOAT ----------------------------------


def encode_ieee11073_float(value: float, exponent: int = -2) -> bytes:
    """A 32-bit IEEE-11073 FLOAT: int24 mantissa (little-endian) then int8 exponent."""
    mantissa = round(value / (10.0**exponent))
    if not -(2**23) + 3 <= mantissa <= 2**23 - 3:  # the top codes are reserved for NaN and infinities
        raise ValueError("value out of FLOAT range")
    return (mantissa & 0xFFFFFF).to_bytes(3, "little") + struct.pack("<b", exponent)


def decode_ieee11073_float(raw: bytes) -> float:
    """Decode a 32-bit IEEE-11073 FLOAT; raise on NaN and the other special values."""
    if len(raw) != 4:
        raise GattValueError("FLOAT must be 4 bytes", ATT_ERROR_INVALID_LENGTH)
    mantissa = int.from_bytes(raw[:3], "little")
    if mantissa >= 0x7FFFFE and mantissa <= 0x800002:
        raise GattValueError("FLOAT special value (NaN, NRes or infinity)", ATT_ERROR_INVALID_LENGTH)
    if mantissa & 0x800000:
        mantissa -= 1 << 24
    exponent = struct.unpack("<b", raw[3:4])[0]
    return float(mantissa * (10.0**exponent))


def encode_temperature(celsius: float) -> bytes:
    """Temperature Measurement: flags 0x00 (Celsius, no time stamp, no type) then the FLOAT."""
    return b"\x00" + encode_ieee11073_float(celsius)


def decode_temperature(value: bytes) -> float:
    """Decode a Temperature Measurement in Celsius (Fahrenheit is converted)."""
    if len(value) < 5:
        raise GattValueError("temperature measurement too short", ATT_ERROR_INVALID_LENGTH)
    celsius = decode_ieee11073_float(value[1:5])
    if value[0] & 0x01:
        celsius = (celsius - 32.0) * 5.0 / 9.0
    return round(celsius, 2)


# ---- Quarantine Status (3d1b0101): read, notify --------------------------------------------------------

# version u8, counter u32, flags u8, battery u8, heart rate u8, temp i16 (0.01 C), device time u32 (unix s)
_STATUS = struct.Struct("<BIBBBhI")
STATUS_LEN = _STATUS.size
STATUS_VERSION = 1


@dataclass(frozen=True, slots=True)
class StatusValue:
    """The Status characteristic: the advert's state plus the bracelet's clock."""

    counter: int
    flags: Flags
    battery_pct: int | None
    heart_rate_bpm: int | None
    skin_temp_c: float | None
    device_time: int


def encode_status(status: StatusValue) -> bytes:
    """Encode the 14-byte Status value."""
    return _STATUS.pack(
        STATUS_VERSION,
        status.counter & 0xFFFFFFFF,
        int(status.flags),
        BATTERY_UNKNOWN if status.battery_pct is None else status.battery_pct,
        HEART_RATE_UNKNOWN if status.heart_rate_bpm is None else status.heart_rate_bpm,
        TEMP_UNKNOWN if status.skin_temp_c is None else round(status.skin_temp_c * 100),
        status.device_time & 0xFFFFFFFF,
    )


def decode_status(value: bytes) -> StatusValue:
    """Decode the Status value."""
    if len(value) != STATUS_LEN:
        raise GattValueError(f"status must be {STATUS_LEN} bytes", ATT_ERROR_INVALID_LENGTH)
    version, counter, flags, battery, heart, temp, device_time = _STATUS.unpack(value)
    if version != STATUS_VERSION:
        raise GattValueError(f"status version {version}", ATT_ERROR_INVALID_LENGTH)
    return StatusValue(
        counter=counter,
        flags=Flags(flags & 0x1F),
        battery_pct=None if battery == BATTERY_UNKNOWN else battery,
        heart_rate_bpm=None if heart == HEART_RATE_UNKNOWN else heart,
        skin_temp_c=None if temp == TEMP_UNKNOWN else temp / 100,
        device_time=device_time,
    )


# ---- Configuration (3d1b0102): read, write with response ------------------------------------------------

# version u8, advertising interval ms u16, status notify period s u16, low-battery threshold % u8, tx dBm i8
_CONFIG = struct.Struct("<BHHBb")
CONFIG_LEN = _CONFIG.size
CONFIG_VERSION = 1
ADV_INTERVAL_RANGE_MS = (100, 10_240)
NOTIFY_PERIOD_RANGE_S = (0, 3_600)
LOW_BATTERY_RANGE = (1, 50)
TX_POWER_SETTING_RANGE = (-20, 8)


@dataclass(frozen=True, slots=True)
class BraceletConfig:
    """Settings the edge may write to a bracelet."""

    adv_interval_ms: int = 1_000
    status_notify_s: int = 30
    low_battery_pct: int = 15
    tx_power_dbm: int = 0


def encode_config(config: BraceletConfig) -> bytes:
    """Encode the 7-byte Configuration value (ranges are checked)."""
    validate_config(config)
    return _CONFIG.pack(
        CONFIG_VERSION,
        config.adv_interval_ms,
        config.status_notify_s,
        config.low_battery_pct,
        config.tx_power_dbm,
    )


def validate_config(config: BraceletConfig) -> None:
    """Raise GattValueError(INVALID_CONFIGURATION) if any field is out of its documented range."""
    checks = (
        ("adv_interval_ms", config.adv_interval_ms, ADV_INTERVAL_RANGE_MS),
        ("status_notify_s", config.status_notify_s, NOTIFY_PERIOD_RANGE_S),
        ("low_battery_pct", config.low_battery_pct, LOW_BATTERY_RANGE),
        ("tx_power_dbm", config.tx_power_dbm, TX_POWER_SETTING_RANGE),
    )
    for name, value, (low, high) in checks:
        if not low <= value <= high:
            raise GattValueError(f"{name}={value} outside {low}..{high}", ATT_ERROR_INVALID_CONFIGURATION)


def decode_config(value: bytes) -> BraceletConfig:
    """Decode and range-check a Configuration value."""
    if len(value) != CONFIG_LEN:
        raise GattValueError(f"configuration must be {CONFIG_LEN} bytes", ATT_ERROR_INVALID_LENGTH)
    version, adv, notify, low, tx = _CONFIG.unpack(value)
    if version != CONFIG_VERSION:
        raise GattValueError(f"configuration version {version}", ATT_ERROR_INVALID_CONFIGURATION)
    config = BraceletConfig(adv_interval_ms=adv, status_notify_s=notify, low_battery_pct=low, tx_power_dbm=tx)
    validate_config(config)
    return config


# ---- Time Sync (3d1b0103): read, write with response -----------------------------------------------------

TIME_LEN = 8
EARLIEST_VALID_TIME_MS = 1_577_836_800_000  # 2020-01-01: a clock before this was never set


def encode_time(unix_ms: int) -> bytes:
    """Unix time in milliseconds as uint64 little-endian."""
    return unix_ms.to_bytes(TIME_LEN, "little")


def decode_time(value: bytes) -> int:
    """Decode a Time Sync value; reject lengths other than 8 and times before 2020."""
    if len(value) != TIME_LEN:
        raise GattValueError(f"time must be {TIME_LEN} bytes", ATT_ERROR_INVALID_LENGTH)
    unix_ms = int.from_bytes(value, "little")
    if unix_ms < EARLIEST_VALID_TIME_MS:
        raise GattValueError("time before 2020-01-01", ATT_ERROR_INVALID_TIME)
    return unix_ms
