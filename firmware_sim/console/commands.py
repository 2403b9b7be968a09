"""The AT command interpreter of a simulated bracelet's serial console (pure: one line in, lines out).

`Console.execute("AT+STRAP=OPEN")` returns the response lines without line endings, the last one always
`OK` or `ERROR: <reason>`; bytes, line endings and echo belong to `session.ConsoleSession`. The command set
is documented in docs/CONSOLE.md; every handler acts on the SimBracelet at the clock's current time.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass

from firmware_sim.bracelet import FIRMWARE_REVISION, SimBracelet
from firmware_sim.faults import apply_to_bracelet
from firmware_sim.households import (
    BatteryEvent,
    ChargingEvent,
    ClockDriftEvent,
    RadioEvent,
    SkinContactEvent,
    StrapEvent,
    TimelineEvent,
)
from qmon.bracelet import gatt
from qmon.bracelet.advert import FORMAT_VERSION, format_device_id
from qmon.bracelet.gatt import BraceletConfig, GattValueError
from qmon.clock import Clock

CONSOLE_VERSION = 1
GATT_LAYOUT_VERSION = 1  # docs/PROTOCOL.md section 2
MIN_DEVICE_TIME_S = 1_577_836_800  # 2020-01-01, as the Time Sync characteristic refuses earlier times
MAX_DEVICE_TIME_S = 0xFFFFFFFF  # the Status characteristic carries the device time as u32 seconds
DRIFT_LIMIT_PPM = 100_000.0  # +-10 %: far beyond any crystal, enough for any drift scenario
CONFIG_KEYS = tuple(field.name for field in dataclasses.fields(BraceletConfig))

_INTEGER = re.compile(r"[+-]?[0-9]{1,10}")
_DECIMAL = re.compile(r"[+-]?[0-9]{1,12}(\.[0-9]{1,9})?")


class CommandError(Exception):
    """A command the console refuses; the message is the reason after `ERROR: `."""


Handler = Callable[[str], list[str]]


@dataclass(frozen=True, slots=True)
class Command:
    """One `AT+NAME` command: its query (`?`), set (`=<args>`) and action (bare) forms, any may be absent."""

    name: str
    summary: str
    set_syntax: str = ""
    query: Callable[[], list[str]] | None = None
    setter: Handler | None = None
    action: Callable[[], list[str]] | None = None

    def forms(self) -> str:
        """The accepted forms, as AT+HELP and `AT+NAME=?` show them."""
        forms = []
        if self.action is not None:
            forms.append(f"AT+{self.name}")
        if self.query is not None:
            forms.append(f"AT+{self.name}?")
        if self.setter is not None:
            forms.append(f"AT+{self.name}={self.set_syntax}")
        return " | ".join(forms)


class Console:
    """One connection's console to a bracelet (several may share one); `execute` answers bad input with
    `ERROR: ...` and never raises for it."""

    def __init__(
        self, bracelet: SimBracelet, clock: Clock, inject: Callable[[TimelineEvent], None] | None = None
    ) -> None:
        self.bracelet = bracelet
        self.clock = clock
        # Faults go through `inject` when the bracelet lives in a world (which then reports them as
        # happenings and drops a link the radio-off cuts); alone, they set the bracelet directly.
        self._inject = inject or (lambda event: apply_to_bracelet(bracelet, event, clock.now()))
        self.echo = False  # ATE0/ATE1 and AT+RESET set it; the session echoes while it is on
        b = bracelet
        self.commands: dict[str, Command] = {
            c.name: c
            for c in (
                Command("ID", "device id, firmware, advert format, GATT layout", query=self._identity),
                Command(
                    "BATT",
                    "battery %, low flag, charging",
                    "<percent 0-100>",
                    self._battery,
                    self._set_battery,
                ),
                Command(
                    "CHARGE",
                    "on the charger",
                    "ON|OFF",
                    lambda: [f"+CHARGE: {_on(b.charging)}"],
                    self._set_charging,
                ),
                Command("STRAP", "strap closed or open", "OPEN|CLOSED", self._strap, self._set_strap),
                Command(
                    "SKIN",
                    "skin-contact sensor",
                    "ON|OFF",
                    lambda: [f"+SKIN: {_on(b.skin_contact)}"],
                    self._set_skin,
                ),
                Command("HR", "heart rate, bpm", query=self._heart_rate),
                Command("TEMP", "body temperature, Celsius", query=self._temperature),
                Command(
                    "TIME",
                    "device clock, Unix seconds, synced flag",
                    "<unix seconds>",
                    self._time,
                    self._set_time,
                ),
                Command(
                    "DRIFT",
                    "clock drift, ppm",
                    "<ppm>",
                    lambda: [f"+DRIFT: {b.clock_drift_ppm:g}"],
                    self._set_drift,
                ),
                Command(
                    "CFG",
                    "configuration (the GATT Configuration fields)",
                    f"<{'|'.join(CONFIG_KEYS)}>,<value>",
                    self._config,
                    self._set_config,
                ),
                Command(
                    "RADIO", "radio switch", "ON|OFF", lambda: [f"+RADIO: {_on(b.radio_on)}"], self._set_radio
                ),
                Command("ADV", "advertising now, counter, interval ms", query=self._advertising),
                Command("RESET", "radio on, drift 0, echo off", action=self._reset),
                Command("HELP", "this list", action=self._help),
            )
        }

    def execute(self, line: str) -> list[str]:
        """Run one command line (without its line ending); the response lines end with OK or ERROR."""
        try:
            return [*self._dispatch(line.strip()), "OK"]
        except CommandError as exc:
            return [f"ERROR: {exc}"]

    # ---- parsing -----------------------------------------------------------------------------------------

    def _dispatch(self, text: str) -> list[str]:
        if text[:2].upper() != "AT":
            raise CommandError("not an AT command")
        rest = text[2:]
        upper = rest.upper()
        if upper == "":
            return []
        if upper == "I":
            return self._information()
        if upper in ("E0", "E1"):
            self.echo = upper == "E1"
            return []
        if not rest.startswith("+"):
            raise CommandError(f"unknown command AT{_shown(rest)}")
        match = re.fullmatch(r"\+([A-Za-z]+)(\?|=\?|=.*)?", rest)
        command = self.commands.get(match.group(1).upper()) if match else None
        if match is None or command is None:
            raise CommandError(f"unknown command AT{_shown(rest)}")
        form = match.group(2)
        if form is None:
            if command.action is None:
                raise CommandError(f"AT+{command.name} needs ? or =")
            return command.action()
        if form == "?":
            if command.query is None:
                raise CommandError(f"AT+{command.name} cannot be queried")
            return command.query()
        if form == "=?":
            return [f"+{command.name}: {command.forms()}"]
        if command.setter is None:
            raise CommandError(f"AT+{command.name} cannot be set")
        return command.setter(form[1:].strip())

    # ---- identity ---------------------------------------------------------------------------------------

    def _identity(self) -> list[str]:
        device = format_device_id(self.bracelet.device_id)
        return [f'+ID: {device},"{FIRMWARE_REVISION}",{FORMAT_VERSION},{GATT_LAYOUT_VERSION}']

    def _information(self) -> list[str]:
        b = self.bracelet
        return [
            "qmon QB-1 sim bracelet",
            f"device id: {format_device_id(b.device_id)}",
            f"name: {b.name}",
            f"firmware: {FIRMWARE_REVISION}",
            f"advert format: {FORMAT_VERSION}",
            f"gatt layout: {GATT_LAYOUT_VERSION}",
            f"console: {CONSOLE_VERSION}",
        ]

    def _help(self) -> list[str]:
        lines = ["AT | ATI | ATE0 | ATE1"]
        for command in self.commands.values():
            lines.append(f"{command.forms()}  ({command.summary})")
        return lines

    # ---- battery and sensors ----------------------------------------------------------------------------

    def _now(self) -> float:
        now = self.clock.now()
        self.bracelet.update(now)
        return now

    def _battery(self) -> list[str]:
        self._now()
        b = self.bracelet
        return [f"+BATT: {b.battery_level},{int(b.low_battery)},{int(b.charging)}"]

    def _set_battery(self, arg: str) -> list[str]:
        percent = _decimal(arg, "battery")
        if not 0.0 <= percent <= 100.0:
            raise CommandError("battery must be 0-100")
        self._inject(BatteryEvent(t=0, battery=percent))
        return []

    def _set_charging(self, arg: str) -> list[str]:
        self._inject(ChargingEvent(t=0, charging=_choice(arg, "ON", "OFF")))
        return []

    def _strap(self) -> list[str]:
        return [f"+STRAP: {'CLOSED' if self.bracelet.strap_closed else 'OPEN'}"]

    def _set_strap(self, arg: str) -> list[str]:
        self._inject(StrapEvent(t=0, strap="closed" if _choice(arg, "CLOSED", "OPEN") else "open"))
        return []

    def _set_skin(self, arg: str) -> list[str]:
        self._inject(SkinContactEvent(t=0, skin_contact=_choice(arg, "ON", "OFF")))
        return []

    def _heart_rate(self) -> list[str]:
        self._now()
        bpm = self.bracelet.heart_rate_bpm
        return [f"+HR: {'UNKNOWN' if bpm is None else bpm}"]

    def _temperature(self) -> list[str]:
        self._now()
        temp = self.bracelet.body_temp_c
        return [f"+TEMP: {'UNKNOWN' if temp is None else f'{temp:.2f}'}"]

    # ---- clock ------------------------------------------------------------------------------------------

    def _time(self) -> list[str]:
        now = self._now()
        b = self.bracelet
        return [f"+TIME: {b.device_time(now):.3f},{int(b.clock_synced)}"]

    def _set_time(self, arg: str) -> list[str]:
        unix_s = _decimal(arg, "time")
        if not MIN_DEVICE_TIME_S <= unix_s <= MAX_DEVICE_TIME_S:
            raise CommandError(f"time must be {MIN_DEVICE_TIME_S}-{MAX_DEVICE_TIME_S} (2020-01-01 to 2106)")
        self.bracelet.set_device_time(unix_s, self.clock.now())
        return []

    def _set_drift(self, arg: str) -> list[str]:
        ppm = _decimal(arg, "drift")
        if abs(ppm) > DRIFT_LIMIT_PPM:
            raise CommandError(f"drift must be within +-{DRIFT_LIMIT_PPM:g} ppm")
        self._inject(ClockDriftEvent(t=0, clock_drift_ppm=ppm))
        return []

    # ---- configuration and radio ------------------------------------------------------------------------

    def _config(self) -> list[str]:
        config = self.bracelet.config
        return [f"+CFG: {key},{getattr(config, key)}" for key in CONFIG_KEYS]

    def _set_config(self, arg: str) -> list[str]:
        key, sep, value = arg.partition(",")
        key = key.strip().lower()
        if not sep or key not in CONFIG_KEYS:
            raise CommandError(f"expected <key>,<value> with key one of {', '.join(CONFIG_KEYS)}")
        value = value.strip()
        if not _INTEGER.fullmatch(value):
            raise CommandError(f"{key} must be an integer")
        config = dataclasses.replace(self.bracelet.config, **{key: int(value)})
        try:
            gatt.validate_config(config)
        except GattValueError as exc:
            raise CommandError(str(exc)) from None
        # Through the GATT write path, so that a flag the new threshold flips is notified as after a write.
        self.bracelet.gatt_write(gatt.CONFIGURATION, gatt.encode_config(config), self.clock.now())
        return []

    def _set_radio(self, arg: str) -> list[str]:
        self._inject(RadioEvent(t=0, radio="on" if _choice(arg, "ON", "OFF") else "off"))
        return []

    def _advertising(self) -> list[str]:
        self._now()
        b = self.bracelet
        return [f"+ADV: {int(b.advertising)},{b.counter},{b.config.adv_interval_ms}"]

    def _reset(self) -> list[str]:
        if not self.bracelet.radio_on:
            self._inject(RadioEvent(t=0, radio="on"))
        self._inject(ClockDriftEvent(t=0, clock_drift_ppm=0.0))
        self.echo = False
        return []


def _shown(text: str) -> str:
    """User input as an error message may quote it: printable ASCII, at most 32 characters."""
    shown = "".join(c if c.isascii() and c.isprintable() else "?" for c in text[:32])
    return shown + ("..." if len(text) > 32 else "")


def _on(value: bool) -> str:
    return "ON" if value else "OFF"


def _choice(arg: str, yes: str, no: str) -> bool:
    word = arg.upper()
    if word not in (yes, no):
        raise CommandError(f"expected {yes} or {no}")
    return word == yes


def _decimal(arg: str, what: str) -> float:
    if not _DECIMAL.fullmatch(arg):
        raise CommandError(f"{what} must be a decimal number")
    return float(arg)
