"""Golden bytes for the GATT characteristic values (docs/PROTOCOL.md section 2)."""

from __future__ import annotations

import pytest

from qmon.bracelet.advert import Flags
from qmon.bracelet.gatt import (
    ATT_ERROR_INVALID_CONFIGURATION,
    ATT_ERROR_INVALID_TIME,
    BATTERY_LEVEL,
    CONFIGURATION,
    HEART_RATE_MEASUREMENT,
    QUARANTINE_SERVICE,
    BraceletConfig,
    GattValueError,
    HeartRateMeasurement,
    StatusValue,
    decode_battery_level,
    decode_config,
    decode_heart_rate,
    decode_ieee11073_float,
    decode_status,
    decode_temperature,
    decode_time,
    encode_battery_level,
    encode_config,
    encode_heart_rate,
    encode_status,
    encode_temperature,
    encode_time,
)


def test_uuids_are_the_sig_and_qmon_forms() -> None:
    assert BATTERY_LEVEL == "00002a19-0000-1000-8000-00805f9b34fb"
    assert HEART_RATE_MEASUREMENT == "00002a37-0000-1000-8000-00805f9b34fb"
    assert QUARANTINE_SERVICE == "3d1b0100-df0a-418d-b282-42c3e3122cf6"
    assert CONFIGURATION == "3d1b0102-df0a-418d-b282-42c3e3122cf6"


def test_battery_level() -> None:
    assert encode_battery_level(87) == b"\x57"
    assert decode_battery_level(b"\x57") == 87
    with pytest.raises(GattValueError):
        decode_battery_level(b"\x65")


def test_heart_rate_measurement_flags_carry_skin_contact() -> None:
    assert encode_heart_rate(HeartRateMeasurement(72, True)).hex() == "0648"
    assert encode_heart_rate(HeartRateMeasurement(72, False)).hex() == "0448"
    assert decode_heart_rate(bytes.fromhex("0648")) == HeartRateMeasurement(72, True)
    # uint16 format (flag bit 0), as other heart-rate sensors send it
    assert decode_heart_rate(bytes.fromhex("070001")) == HeartRateMeasurement(256, True)
    # contact "detected" without "supported" means unknown, not detected
    assert decode_heart_rate(bytes.fromhex("0248")).skin_contact is False
    with pytest.raises(GattValueError):
        decode_heart_rate(b"\x06")


def test_temperature_measurement_ieee11073_float() -> None:
    assert encode_temperature(36.85).hex() == "00650e00fe"
    assert decode_temperature(bytes.fromhex("00650e00fe")) == 36.85
    assert decode_temperature(bytes.fromhex("01da0300ff")) == 37.0  # 98.6 F, flag bit 0 = Fahrenheit
    assert decode_ieee11073_float(bytes.fromhex("9cffffff")) == pytest.approx(-10.0)
    with pytest.raises(GattValueError):
        decode_ieee11073_float(bytes.fromhex("ffff7f00"))  # NaN


def test_status_value() -> None:
    value = StatusValue(
        counter=7,
        flags=Flags.STRAP_CLOSED | Flags.SKIN_CONTACT | Flags.CLOCK_SYNCED,
        battery_pct=87,
        heart_rate_bpm=72,
        skin_temp_c=36.41,
        device_time=1_800_000_000,
    )
    raw = encode_status(value)
    assert raw.hex() == "01070000000b5748390e00d2496b"
    assert decode_status(raw) == value
    with pytest.raises(GattValueError):
        decode_status(raw[:-1])


def test_configuration_round_trip_and_range_checks() -> None:
    config = BraceletConfig(adv_interval_ms=1000, status_notify_s=30, low_battery_pct=15, tx_power_dbm=-4)
    assert encode_config(config).hex() == "01e8031e000ffc"
    assert decode_config(bytes.fromhex("01e8031e000ffc")) == config
    with pytest.raises(GattValueError) as info:
        decode_config(bytes.fromhex("0132001e000ffc"))  # 50 ms advertising interval
    assert info.value.att_error == ATT_ERROR_INVALID_CONFIGURATION


def test_time_sync() -> None:
    assert encode_time(1_800_000_000_123).hex() == "7b505c18a3010000"
    assert decode_time(bytes.fromhex("7b505c18a3010000")) == 1_800_000_000_123
    with pytest.raises(GattValueError) as info:
        decode_time(encode_time(1000))
    assert info.value.att_error == ATT_ERROR_INVALID_TIME
