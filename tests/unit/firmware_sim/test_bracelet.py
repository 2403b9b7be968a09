"""SimBracelet: battery, counter, flags in adverts, sensors, GATT server behaviour."""

from __future__ import annotations

import random
from typing import Any

import pytest

from firmware_sim.bracelet import (
    ATT_ATTRIBUTE_NOT_FOUND,
    ATT_READ_NOT_PERMITTED,
    ATT_REQUEST_NOT_SUPPORTED,
    ATT_WRITE_NOT_PERMITTED,
    AttError,
    SimBracelet,
)
from qmon.bracelet import gatt
from qmon.bracelet.advert import (
    BraceletState,
    Flags,
    decode_advert_payload,
    encode_advert_payload,
    verify_tag,
)
from qmon.bracelet.gatt import BraceletConfig

T0 = 1_800_000_000.0
KEY = bytes(range(16))


def make_bracelet(**overrides: Any) -> SimBracelet:
    return SimBracelet(0x0000A001, KEY, now=T0, **overrides)


def decode(payload: bytes) -> BraceletState:
    decoded = decode_advert_payload(payload)
    verify_tag(decoded, KEY)
    return decoded.state


# ---- battery ---------------------------------------------------------------------------------------------


def test_battery_drains_at_the_configured_rate() -> None:
    b = make_bracelet(battery_pct=80.0, drain_pct_per_hour=2.0)
    b.update(T0 + 3600)
    assert b.battery == pytest.approx(78.0)
    b.update(T0 + 3 * 3600)
    assert b.battery == pytest.approx(74.0)


def test_battery_drains_faster_while_a_link_is_up() -> None:
    b = make_bracelet(battery_pct=80.0, drain_pct_per_hour=2.0, link_drain_pct_per_hour=6.0)
    b.links = 1
    b.update(T0 + 1800)
    assert b.battery == pytest.approx(76.0)


def test_charging_raises_the_battery_up_to_full() -> None:
    b = make_bracelet(battery_pct=50.0, charge_pct_per_hour=60.0)
    b.set_charging(True, T0)
    b.update(T0 + 1800)
    assert b.battery == pytest.approx(80.0)
    b.update(T0 + 3 * 3600)
    assert b.battery == 100.0


def test_low_battery_flag_at_or_below_the_threshold() -> None:
    b = make_bracelet(battery_pct=15.5, drain_pct_per_hour=1.0)
    assert not decode(b.advertisement(T0)).low_battery
    b.update(T0 + 1800)  # 15.0 %
    state = decode(b.advertisement(T0 + 1800))
    assert state.low_battery and state.battery_pct == 15


def test_at_zero_percent_the_bracelet_is_dead() -> None:
    b = make_bracelet(battery_pct=1.0, drain_pct_per_hour=3600.0, clock_synced=True)
    assert b.advertising
    b.update(T0 + 2.0)
    assert b.battery == 0.0
    assert not b.alive and not b.advertising
    assert not b.clock_synced  # the clock lost its time with the power


def test_a_dead_bracelet_comes_back_on_the_charger() -> None:
    b = make_bracelet(battery_pct=0.0)
    assert not b.advertising
    b.set_charging(True, T0)
    b.update(T0 + 60)
    assert b.advertising


# ---- adverts ---------------------------------------------------------------------------------------------


def test_counter_increments_on_each_advertisement() -> None:
    b = make_bracelet()
    counters = [decode(b.advertisement(T0 + i)).counter for i in range(5)]
    assert counters == [1, 2, 3, 4, 5]
    b.skip_advertisement()
    assert decode(b.advertisement(T0 + 6)).counter == 7


def test_counter_wraps_at_32_bits() -> None:
    b = make_bracelet(counter=0xFFFFFFFF)
    assert decode(b.advertisement(T0)).counter == 0


def test_strap_and_skin_flags_appear_in_adverts() -> None:
    b = make_bracelet()
    state = decode(b.advertisement(T0))
    assert state.strap_closed and state.skin_contact
    assert state.heart_rate_bpm is not None and state.skin_temp_c is not None
    b.set_strap_closed(False, T0 + 1)
    state = decode(b.advertisement(T0 + 1))
    assert not state.strap_closed and state.skin_contact
    b.set_skin_contact(False, T0 + 2)
    state = decode(b.advertisement(T0 + 2))
    assert not state.skin_contact
    assert state.heart_rate_bpm is None and state.skin_temp_c is None


def test_charging_and_clock_flags_appear_in_adverts() -> None:
    b = make_bracelet()
    b.set_charging(True, T0)
    b.set_device_time(T0, T0)
    state = decode(b.advertisement(T0))
    assert state.charging and state.clock_synced


def test_measured_power_follows_the_tx_power_setting() -> None:
    b = make_bracelet(measured_power_dbm=-59)
    assert decode(b.advertisement(T0)).measured_power_dbm == -59
    b.gatt_write(gatt.CONFIGURATION, gatt.encode_config(BraceletConfig(tx_power_dbm=4)), T0)
    assert decode(b.advertisement(T0)).measured_power_dbm == -55


def test_adverts_are_byte_identical_to_the_reference_codec() -> None:
    """The counter-patching fast path must give exactly encode_advert_payload's bytes."""
    rng = random.Random(5)
    b = make_bracelet(rng=random.Random(1))
    now = T0
    for step in range(600):
        now += rng.choice((0.2, 1.0, 1.0, 1.0, 7.0))
        if step % 37 == 0:
            b.set_strap_closed(rng.random() < 0.5, now)
        if step % 53 == 0:
            b.set_skin_contact(rng.random() < 0.7, now)
        if step % 71 == 0:
            b.set_battery(rng.uniform(0.5, 100.0), now)
        payload = b.advertisement(now)
        assert payload == encode_advert_payload(b.state(), KEY)


def test_heart_rate_walks_around_its_baseline() -> None:
    b = make_bracelet(heart_rate_bpm=70.0, rng=random.Random(3))
    rates = []
    for i in range(2000):
        b.update(T0 + 5.0 * i)
        rates.append(b.heart_rate_bpm)
    assert 66 < sum(r for r in rates if r) / len(rates) < 74
    assert len(set(rates)) > 5  # it does move


def test_fever_raises_the_temperature_estimate() -> None:
    b = make_bracelet(rng=random.Random(4))
    b.update(T0 + 60)
    assert b.body_temp_c is not None and 36.0 < b.body_temp_c < 37.0
    b.set_fever(True, T0 + 60)
    b.update(T0 + 120)
    assert b.body_temp_c is not None and 38.0 < b.body_temp_c < 38.8
    b.set_fever(False, T0 + 120)
    b.update(T0 + 180)
    assert b.body_temp_c is not None and b.body_temp_c < 37.0


def test_bad_construction_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        SimBracelet(1, b"short", now=T0)
    with pytest.raises(ValueError, match="32 bits"):
        SimBracelet(1 << 32, KEY, now=T0)
    with pytest.raises(gatt.GattValueError):
        SimBracelet(1, KEY, now=T0, config=BraceletConfig(adv_interval_ms=5))


# ---- GATT server -----------------------------------------------------------------------------------------


def test_device_information_strings() -> None:
    b = make_bracelet()
    assert b.gatt_read(gatt.SERIAL_NUMBER, T0) == b"0000a001"
    assert b.gatt_read(gatt.MANUFACTURER_NAME, T0).decode()
    assert b.gatt_read(gatt.MODEL_NUMBER, T0).decode()
    assert b.gatt_read(gatt.HARDWARE_REVISION, T0).decode()
    assert b.gatt_read(gatt.FIRMWARE_REVISION, T0).startswith(b"firmware_sim")


def test_fixed_value_reads() -> None:
    b = make_bracelet(battery_pct=42.2)
    assert gatt.decode_battery_level(b.gatt_read(gatt.BATTERY_LEVEL, T0)) == 43
    assert b.gatt_read(gatt.BODY_SENSOR_LOCATION, T0) == bytes([gatt.BODY_SENSOR_LOCATION_WRIST])
    assert b.gatt_read(gatt.TEMPERATURE_TYPE, T0) == bytes([gatt.TEMPERATURE_TYPE_BODY])
    assert gatt.decode_config(b.gatt_read(gatt.CONFIGURATION, T0)) == BraceletConfig()


def test_status_read_matches_the_state() -> None:
    b = make_bracelet(battery_pct=55.0)
    b.advertisement(T0)
    b.set_strap_closed(False, T0)
    status = gatt.decode_status(b.gatt_read(gatt.STATUS, T0))
    assert status.counter == 1
    assert status.battery_pct == 55
    assert not status.flags & Flags.STRAP_CLOSED and status.flags & Flags.SKIN_CONTACT
    assert status.device_time == int(T0)


def test_configuration_write_is_applied() -> None:
    b = make_bracelet()
    config = BraceletConfig(adv_interval_ms=2000, status_notify_s=10, low_battery_pct=20, tx_power_dbm=-4)
    b.gatt_write(gatt.CONFIGURATION, gatt.encode_config(config), T0)
    assert b.config == config
    assert gatt.decode_config(b.gatt_read(gatt.CONFIGURATION, T0)) == config


def test_a_bad_configuration_write_is_refused_with_the_att_error() -> None:
    b = make_bracelet()
    bad = (
        bytes([1]) + (50).to_bytes(2, "little") + (30).to_bytes(2, "little") + bytes([15, 0])
    )  # 50 ms interval
    with pytest.raises(AttError) as refused:
        b.gatt_write(gatt.CONFIGURATION, bad, T0)
    assert refused.value.code == gatt.ATT_ERROR_INVALID_CONFIGURATION
    with pytest.raises(AttError) as short:
        b.gatt_write(gatt.CONFIGURATION, b"\x01\x02", T0)
    assert short.value.code == gatt.ATT_ERROR_INVALID_LENGTH
    assert b.config == BraceletConfig()  # unchanged


def test_time_sync_sets_the_clock() -> None:
    b = make_bracelet(clock_offset_s=-300.0, clock_drift_ppm=50.0)
    assert gatt.decode_time(b.gatt_read(gatt.TIME_SYNC, T0)) == int((T0 - 300) * 1000)
    b.gatt_write(gatt.TIME_SYNC, gatt.encode_time(int(T0 * 1000)), T0)
    assert b.clock_synced
    later = T0 + 100_000
    # 50 ppm of drift over 100,000 s: 5 s fast
    assert gatt.decode_time(b.gatt_read(gatt.TIME_SYNC, later)) == pytest.approx((later + 5.0) * 1000, abs=1)
    with pytest.raises(AttError) as refused:
        b.gatt_write(gatt.TIME_SYNC, gatt.encode_time(1000), T0)
    assert refused.value.code == gatt.ATT_ERROR_INVALID_TIME


def test_changing_the_drift_keeps_the_time_shown_and_runs_at_the_new_rate() -> None:
    b = make_bracelet(clock_drift_ppm=100.0)
    shown = b.device_time(T0 + 10_000)  # 1 s fast after 10,000 s at 100 ppm
    b.set_clock_drift(-50.0, T0 + 10_000)
    assert b.device_time(T0 + 10_000) == pytest.approx(shown)
    assert b.device_time(T0 + 30_000) == pytest.approx(shown + 20_000 - 1.0)


@pytest.mark.parametrize(
    ("operation", "uuid", "code"),
    [
        ("read", gatt.HEART_RATE_MEASUREMENT, ATT_READ_NOT_PERMITTED),
        ("read", "0000ffff-0000-1000-8000-00805f9b34fb", ATT_ATTRIBUTE_NOT_FOUND),
        ("write", gatt.BATTERY_LEVEL, ATT_WRITE_NOT_PERMITTED),
        ("write", "0000ffff-0000-1000-8000-00805f9b34fb", ATT_ATTRIBUTE_NOT_FOUND),
        ("subscribe", gatt.BATTERY_SERVICE, ATT_ATTRIBUTE_NOT_FOUND),
        ("subscribe", gatt.CONFIGURATION, ATT_REQUEST_NOT_SUPPORTED),
    ],
)
def test_operations_the_layout_does_not_permit(operation: str, uuid: str, code: int) -> None:
    b = make_bracelet()
    with pytest.raises(AttError) as refused:
        if operation == "read":
            b.gatt_read(uuid, T0)
        elif operation == "write":
            b.gatt_write(uuid, b"\x00", T0)
        else:
            b.subscribe(uuid, lambda value: None)
    assert refused.value.code == code


# ---- notifications ---------------------------------------------------------------------------------------


def test_status_notifies_on_flag_changes_and_periodically() -> None:
    b = make_bracelet(config=BraceletConfig(status_notify_s=30))
    got: list[gatt.StatusValue] = []
    unsubscribe = b.subscribe(gatt.STATUS, lambda v: got.append(gatt.decode_status(v)))
    b.tick(T0 + 1)
    assert got == []
    b.set_strap_closed(False, T0 + 2)
    assert len(got) == 1 and not got[0].flags & Flags.STRAP_CLOSED
    b.set_strap_closed(False, T0 + 3)  # no change, no notification
    assert len(got) == 1
    b.tick(T0 + 33)  # 31 s after the last one
    assert len(got) == 2
    unsubscribe()
    b.set_strap_closed(True, T0 + 40)
    assert len(got) == 2


def test_battery_notifies_when_the_level_changes() -> None:
    b = make_bracelet(battery_pct=50.0, drain_pct_per_hour=3600.0)
    levels: list[int] = []
    b.subscribe(gatt.BATTERY_LEVEL, lambda v: levels.append(gatt.decode_battery_level(v)))
    for i in range(1, 4):
        b.tick(T0 + i)
    assert levels == [49, 48, 47]


def test_heart_rate_and_temperature_notifications() -> None:
    b = make_bracelet()
    rates: list[gatt.HeartRateMeasurement] = []
    temps: list[float] = []
    b.subscribe(gatt.HEART_RATE_MEASUREMENT, lambda v: rates.append(gatt.decode_heart_rate(v)))
    b.subscribe(gatt.TEMPERATURE_MEASUREMENT, lambda v: temps.append(gatt.decode_temperature(v)))
    for i in range(1, 21):
        b.tick(T0 + i)
    assert len(rates) == 20 and all(r.skin_contact and 40 < r.bpm < 120 for r in rates)
    assert len(temps) == 2 and all(35.5 < t < 37.5 for t in temps)
    b.set_skin_contact(False, T0 + 21)
    b.tick(T0 + 31)
    assert not rates[-1].skin_contact
    assert len(temps) == 2  # no reading without skin contact


def test_radio_off_drops_subscriptions() -> None:
    b = make_bracelet()
    got: list[bytes] = []
    b.subscribe(gatt.STATUS, got.append)
    b.set_radio(False, T0)
    assert not b.advertising and not b.subscribed(gatt.STATUS)
    b.set_strap_closed(False, T0 + 1)
    assert got == []
