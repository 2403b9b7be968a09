"""The AT interpreter: every command, its good and bad forms, and what each does to the bracelet."""

from __future__ import annotations

from typing import Any

import pytest

from firmware_sim.bracelet import FIRMWARE_REVISION, SimBracelet
from firmware_sim.console import Console
from qmon.bracelet.advert import Flags, decode_advert_payload
from qmon.clock import ManualClock

T0 = 1_800_000_000.0
KEY = bytes(range(16))


def make_console(**bracelet: Any) -> tuple[Console, SimBracelet, ManualClock]:
    clock = ManualClock(T0)
    b = SimBracelet(0x0A1B2C3D, KEY, now=T0, **bracelet)
    return Console(b, clock), b, clock


# ---- basics and identity ---------------------------------------------------------------------------------


def test_at_answers_ok() -> None:
    console, _, _ = make_console()
    assert console.execute("AT") == ["OK"]
    assert console.execute("  at  ") == ["OK"]


def test_ati_prints_identity_lines() -> None:
    console, _, _ = make_console()
    assert console.execute("ATI") == [
        "qmon QB-1 sim bracelet",
        "device id: 0a1b2c3d",
        "name: QB0a1b2c3d",
        f"firmware: {FIRMWARE_REVISION}",
        "advert format: 1",
        "gatt layout: 1",
        "console: 1",
        "OK",
    ]


def test_id_query_is_one_machine_readable_line() -> None:
    console, _, _ = make_console()
    assert console.execute("AT+ID?") == [f'+ID: 0a1b2c3d,"{FIRMWARE_REVISION}",1,1', "OK"]
    assert console.execute("at+id?") == console.execute("AT+ID?")


def test_id_cannot_be_set() -> None:
    console, _, _ = make_console()
    assert console.execute("AT+ID=1") == ["ERROR: AT+ID cannot be set"]


def test_echo_switch() -> None:
    console, _, _ = make_console()
    assert console.execute("ATE1") == ["OK"]
    assert console.echo
    assert console.execute("ATE0") == ["OK"]
    assert not console.echo


def test_help_lists_every_command() -> None:
    console, _, _ = make_console()
    lines = console.execute("AT+HELP")
    assert lines[0] == "AT | ATI | ATE0 | ATE1"
    assert lines[-1] == "OK"
    for name in ("ID", "BATT", "CHARGE", "STRAP", "SKIN", "HR", "TEMP", "TIME", "DRIFT", "CFG", "RADIO"):
        assert any(line.startswith(f"AT+{name}") for line in lines), name
    assert "AT+STRAP? | AT+STRAP=OPEN|CLOSED  (strap closed or open)" in lines


def test_test_form_shows_the_syntax() -> None:
    console, _, _ = make_console()
    assert console.execute("AT+STRAP=?") == ["+STRAP: AT+STRAP? | AT+STRAP=OPEN|CLOSED", "OK"]
    assert console.execute("AT+RESET=?") == ["+RESET: AT+RESET", "OK"]


# ---- battery, charging -----------------------------------------------------------------------------------


def test_battery_query_and_drop() -> None:
    console, b, _ = make_console(battery_pct=87.0, drain_pct_per_hour=0.0)
    assert console.execute("AT+BATT?") == ["+BATT: 87,0,0", "OK"]
    assert console.execute("AT+BATT=12.5") == ["OK"]
    assert b.battery == 12.5
    assert console.execute("AT+BATT?") == ["+BATT: 13,1,0", "OK"]  # below the 15 % threshold: low
    assert console.execute("AT+BATT=0") == ["OK"]
    assert not b.advertising


@pytest.mark.parametrize("arg", ["101", "-1", "abc", "", "1e2", "nan", "50%", "1_0"])
def test_battery_refuses_bad_values(arg: str) -> None:
    console, b, _ = make_console()
    assert console.execute(f"AT+BATT={arg}")[0].startswith("ERROR: battery must be")
    assert b.battery == 100.0


def test_charging_query_and_set() -> None:
    console, b, _ = make_console()
    assert console.execute("AT+CHARGE?") == ["+CHARGE: OFF", "OK"]
    assert console.execute("AT+CHARGE=on") == ["OK"]
    assert b.charging
    assert console.execute("AT+BATT?") == ["+BATT: 100,0,1", "OK"]
    assert console.execute("AT+CHARGE=MAYBE") == ["ERROR: expected ON or OFF"]


# ---- strap, skin, sensors --------------------------------------------------------------------------------


def test_strap_query_open_and_close() -> None:
    console, b, clock = make_console()
    assert console.execute("AT+STRAP?") == ["+STRAP: CLOSED", "OK"]
    assert console.execute("AT+STRAP=OPEN") == ["OK"]
    assert not b.strap_closed
    assert not decode_advert_payload(b.advertisement(clock.now())).state.strap_closed
    assert console.execute("AT+STRAP?") == ["+STRAP: OPEN", "OK"]
    assert console.execute("AT+STRAP=closed") == ["OK"]
    assert b.flags() & Flags.STRAP_CLOSED


def test_strap_refuses_other_words() -> None:
    console, b, _ = make_console()
    assert console.execute("AT+STRAP=CUT") == ["ERROR: expected CLOSED or OPEN"]
    assert console.execute("AT+STRAP=") == ["ERROR: expected CLOSED or OPEN"]
    assert b.strap_closed


def test_skin_contact_query_and_sensor_fault() -> None:
    console, b, _ = make_console()
    assert console.execute("AT+SKIN?") == ["+SKIN: ON", "OK"]
    assert console.execute("AT+SKIN=OFF") == ["OK"]
    assert not b.skin_contact
    assert console.execute("AT+SKIN?") == ["+SKIN: OFF", "OK"]
    assert console.execute("AT+SKIN=1") == ["ERROR: expected ON or OFF"]


def test_heart_rate_and_temperature_read_the_sensors() -> None:
    console, _, _ = make_console(heart_rate_bpm=72.0, body_temp_c=36.41)
    assert console.execute("AT+HR?") == ["+HR: 72", "OK"]
    assert console.execute("AT+TEMP?") == ["+TEMP: 36.41", "OK"]
    assert console.execute("AT+SKIN=OFF") == ["OK"]
    assert console.execute("AT+HR?") == ["+HR: UNKNOWN", "OK"]
    assert console.execute("AT+TEMP?") == ["+TEMP: UNKNOWN", "OK"]


def test_sensors_cannot_be_set() -> None:
    console, _, _ = make_console()
    assert console.execute("AT+HR=80") == ["ERROR: AT+HR cannot be set"]
    assert console.execute("AT+TEMP=39") == ["ERROR: AT+TEMP cannot be set"]


# ---- clock -----------------------------------------------------------------------------------------------


def test_time_query_set_and_synced_flag() -> None:
    console, b, clock = make_console(clock_offset_s=-300.0)
    assert console.execute("AT+TIME?") == [f"+TIME: {T0 - 300:.3f},0", "OK"]
    assert console.execute("AT+TIME=1800000100.5") == ["OK"]
    assert b.clock_synced
    clock.advance(10)
    assert console.execute("AT+TIME?") == ["+TIME: 1800000110.500,1", "OK"]


@pytest.mark.parametrize("arg", ["1000", "1577836799", "4294967296", "soon", "", "-5"])
def test_time_refuses_bad_values(arg: str) -> None:
    console, b, _ = make_console()
    assert console.execute(f"AT+TIME={arg}")[0].startswith("ERROR: time must be")
    assert not b.clock_synced


def test_drift_changes_the_clock_rate_from_now_on() -> None:
    console, b, clock = make_console()
    assert console.execute("AT+TIME=1800000000") == ["OK"]
    assert console.execute("AT+DRIFT?") == ["+DRIFT: 0", "OK"]
    assert console.execute("AT+DRIFT=500") == ["OK"]
    assert console.execute("AT+DRIFT?") == ["+DRIFT: 500", "OK"]
    clock.advance(10_000)  # 500 ppm of 10,000 s: 5 s fast
    assert console.execute("AT+TIME?") == ["+TIME: 1800010005.000,1", "OK"]
    assert console.execute("AT+DRIFT=-12.5") == ["OK"]
    assert b.clock_drift_ppm == -12.5


@pytest.mark.parametrize("arg", ["100001", "-100001", "fast", ""])
def test_drift_refuses_bad_values(arg: str) -> None:
    console, b, _ = make_console()
    assert console.execute(f"AT+DRIFT={arg}")[0].startswith("ERROR: drift must be")
    assert b.clock_drift_ppm == 0.0


# ---- configuration ---------------------------------------------------------------------------------------


def test_config_query_lists_every_field() -> None:
    console, _, _ = make_console()
    assert console.execute("AT+CFG?") == [
        "+CFG: adv_interval_ms,1000",
        "+CFG: status_notify_s,30",
        "+CFG: low_battery_pct,15",
        "+CFG: tx_power_dbm,0",
        "OK",
    ]


def test_config_set_applies_each_field() -> None:
    console, b, _ = make_console(battery_pct=40.0)
    assert console.execute("AT+CFG=adv_interval_ms,250") == ["OK"]
    assert console.execute("AT+CFG=status_notify_s,0") == ["OK"]
    assert console.execute("AT+CFG=LOW_BATTERY_PCT, 50") == ["OK"]
    assert console.execute("AT+CFG=tx_power_dbm,-4") == ["OK"]
    assert (b.config.adv_interval_ms, b.config.status_notify_s) == (250, 0)
    assert (b.config.low_battery_pct, b.config.tx_power_dbm) == (50, -4)
    assert b.low_battery  # 40 % is below the new threshold


@pytest.mark.parametrize(
    ("arg", "reason"),
    [
        ("adv_interval_ms,99", "ERROR: adv_interval_ms=99 outside 100..10240"),
        ("tx_power_dbm,9", "ERROR: tx_power_dbm=9 outside -20..8"),
        ("low_battery_pct,0", "ERROR: low_battery_pct=0 outside 1..50"),
        ("status_notify_s,1.5", "ERROR: status_notify_s must be an integer"),
        ("status_notify_s,", "ERROR: status_notify_s must be an integer"),
        ("colour,3", "ERROR: expected <key>,<value> with key one of adv_interval_ms, status_notify_s, "
         "low_battery_pct, tx_power_dbm"),
        ("adv_interval_ms", "ERROR: expected <key>,<value> with key one of adv_interval_ms, "
         "status_notify_s, low_battery_pct, tx_power_dbm"),
    ],
)  # fmt: skip
def test_config_refuses_bad_settings(arg: str, reason: str) -> None:
    console, b, _ = make_console()
    before = b.config
    assert console.execute(f"AT+CFG={arg}") == [reason]
    assert b.config == before


# ---- radio, advertising, reset ---------------------------------------------------------------------------


def test_radio_off_stops_advertising_and_on_restores_it() -> None:
    console, b, _ = make_console()
    assert console.execute("AT+RADIO?") == ["+RADIO: ON", "OK"]
    assert console.execute("AT+RADIO=OFF") == ["OK"]
    assert not b.advertising
    assert console.execute("AT+RADIO?") == ["+RADIO: OFF", "OK"]
    assert console.execute("AT+ADV?") == ["+ADV: 0,0,1000", "OK"]
    assert console.execute("AT+RADIO=ON") == ["OK"]
    assert console.execute("AT+ADV?") == ["+ADV: 1,0,1000", "OK"]
    assert console.execute("AT+RADIO=DOWN") == ["ERROR: expected ON or OFF"]


def test_adv_reports_the_counter() -> None:
    console, b, clock = make_console()
    b.advertisement(clock.now())
    b.advertisement(clock.now())
    assert console.execute("AT+ADV?") == ["+ADV: 1,2,1000", "OK"]
    assert console.execute("AT+ADV=1") == ["ERROR: AT+ADV cannot be set"]


def test_reset_clears_the_injected_faults_only() -> None:
    console, b, _ = make_console()
    for command in ("ATE1", "AT+RADIO=OFF", "AT+DRIFT=300", "AT+STRAP=OPEN", "AT+BATT=50"):
        assert console.execute(command) == ["OK"]
    assert console.execute("AT+RESET") == ["OK"]
    assert b.radio_on
    assert b.clock_drift_ppm == 0.0
    assert not console.echo
    assert not b.strap_closed  # physical state is not a fault the firmware can reset
    assert b.battery == 50.0


def test_reset_and_help_take_no_arguments() -> None:
    console, _, _ = make_console()
    assert console.execute("AT+RESET?") == ["ERROR: AT+RESET cannot be queried"]
    assert console.execute("AT+HELP=1") == ["ERROR: AT+HELP cannot be set"]


def test_query_commands_need_a_form() -> None:
    console, _, _ = make_console()
    assert console.execute("AT+BATT") == ["ERROR: AT+BATT needs ? or ="]


# ---- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "ERROR: not an AT command"),
        ("HELLO", "ERROR: not an AT command"),
        ("A", "ERROR: not an AT command"),
        ("ATX", "ERROR: unknown command ATX"),
        ("ATE2", "ERROR: unknown command ATE2"),
        ("AT+FOO?", "ERROR: unknown command AT+FOO?"),
        ("AT+", "ERROR: unknown command AT+"),
        ("AT+BATT?;+STRAP?", "ERROR: unknown command AT+BATT?;+STRAP?"),
        ("AT+\x00\x1b[2J", "ERROR: unknown command AT+??[2J"),
        ("AT+" + "X" * 40, "ERROR: unknown command AT+" + "X" * 31 + "..."),
        ("AT+STRAPé?", "ERROR: unknown command AT+STRAP??"),
    ],
)
def test_bad_lines_answer_error_with_a_reason(line: str, reason: str) -> None:
    console, _, _ = make_console()
    assert console.execute(line) == [reason]
