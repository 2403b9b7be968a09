"""Checks of the bracelet's serial console against docs/CONSOLE.md (pure).

Only queries are checked (they change nothing); the strap toggle that tests notifications is the one
setting the suite makes, and it is undone (gatt_checks.check_strap_notification).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from firmware_sim.conformance.observations import ConsoleTranscript
from firmware_sim.conformance.results import CheckResult, failed, passed, skipped

BATTERY_TOLERANCE_PCT = 2
_SWITCH = r"(ON|OFF)"
_CONFIG_KEYS = ("adv_interval_ms", "status_notify_s", "low_battery_pct", "tx_power_dbm")

# Each documented query and the information lines it must answer with (all of them, in order), before OK.
QUERIES: Mapping[str, tuple[str, ...]] = {
    "AT": (),
    "ATI": (r".+", r"device id: [0-9a-f]{8}"),
    "AT+ID?": (r'\+ID: [0-9a-f]{8},".*",\d+,\d+',),
    "AT+BATT?": (r"\+BATT: \d{1,3},[01],[01]",),
    "AT+CHARGE?": (rf"\+CHARGE: {_SWITCH}",),
    "AT+STRAP?": (r"\+STRAP: (CLOSED|OPEN)",),
    "AT+SKIN?": (rf"\+SKIN: {_SWITCH}",),
    "AT+HR?": (r"\+HR: (\d{2,3}|UNKNOWN)",),
    "AT+TEMP?": (r"\+TEMP: (\d{2}\.\d{2}|UNKNOWN)",),
    "AT+TIME?": (r"\+TIME: \d+\.\d{3},[01]",),
    "AT+DRIFT?": (r"\+DRIFT: [-+0-9.e]+",),
    "AT+CFG?": tuple(rf"\+CFG: {key},-?\d+" for key in _CONFIG_KEYS),
    "AT+RADIO?": (rf"\+RADIO: {_SWITCH}",),
    "AT+ADV?": (r"\+ADV: [01],\d+,\d+",),
    "AT+HELP": (r"AT.*",),
}


def _answer_problem(command: str, lines: Sequence[str] | None, patterns: Sequence[str]) -> str | None:
    if lines is None:
        return f"{command}: no answer"
    if not lines or lines[-1] != "OK":
        return f"{command}: final line {lines[-1] if lines else 'missing'!r}, expected OK"
    info = lines[:-1]
    if command == "ATI":
        missing = [p for p in patterns if not any(re.fullmatch(p, line) for line in info)]
        return f"{command}: no line like {missing[0]!r}" if missing else None
    if len(info) < len(patterns):
        return f"{command}: {len(info)} information lines, expected {len(patterns)}"
    for pattern, line in zip(patterns, info, strict=False):
        if not re.fullmatch(pattern, line):
            return f"{command}: {line!r} does not match {pattern!r}"
    return None


def check_console_queries(transcript: ConsoleTranscript | None) -> CheckResult:
    """Every documented query answers in its documented form, ending with OK."""
    name = "console.queries"
    if transcript is None:
        return skipped(name, "no --console given")
    if transcript.error is not None:
        return failed(name, f"console {transcript.url}: {transcript.error}")
    problems = [
        problem
        for command, patterns in QUERIES.items()
        if (problem := _answer_problem(command, transcript.responses.get(command), patterns)) is not None
    ]
    measured = f"{len(QUERIES) - len(problems)} of {len(QUERIES)} queries answered as documented"
    if problems:
        return failed(name, "; ".join(problems), measured)
    return passed(name, "every documented query answers as documented", measured)


def console_value(transcript: ConsoleTranscript, command: str, prefix: str) -> str | None:
    """The text after `prefix` in the first line of `command`'s answer that starts with it, if any."""
    for line in transcript.responses.get(command, ()):
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    return None


def check_console_identity(transcript: ConsoleTranscript | None, device_id: str | None) -> CheckResult:
    """The console's identity (AT+ID? and ATI) is the device id the bracelet advertises."""
    name = "console.identity"
    if transcript is None:
        return skipped(name, "no --console given")
    if transcript.error is not None:
        return failed(name, f"console {transcript.url}: {transcript.error}")
    if device_id is None:
        return skipped(name, "no advertised device id to compare with")
    ident = console_value(transcript, "AT+ID?", "+ID:")
    info = console_value(transcript, "ATI", "device id:")
    said = {ident.split(",")[0] if ident else None, info}
    measured = f"AT+ID? {ident!r}; ATI device id {info!r}; advert {device_id}"
    if said != {device_id}:
        return failed(name, f"console says {sorted(str(s) for s in said)}, the advert {device_id}", measured)
    return passed(name, "console identity is the advertised device id", measured)


def check_console_battery(
    transcript: ConsoleTranscript | None, advert_battery: int | None, tolerance: int = BATTERY_TOLERANCE_PCT
) -> CheckResult:
    """AT+BATT? is within `tolerance` percentage points of the battery the last advert reported."""
    name = "console.battery"
    if transcript is None:
        return skipped(name, "no --console given")
    if transcript.error is not None:
        return failed(name, f"console {transcript.url}: {transcript.error}")
    if advert_battery is None:
        return skipped(name, "no advertised battery level to compare with")
    answer = console_value(transcript, "AT+BATT?", "+BATT:")
    try:
        console_pct = int((answer or "").split(",")[0])
    except ValueError:
        return failed(name, f"AT+BATT? answered {answer!r}")
    measured = f"console {console_pct} %, advert {advert_battery} %"
    if abs(console_pct - advert_battery) > tolerance:
        return failed(name, f"console and advert differ by more than {tolerance} points", measured)
    return passed(name, f"console battery within {tolerance} points of the advert's", measured)
