"""The console checks on transcripts: the simulated bracelet's own interpreter answers, then broken ones."""

from __future__ import annotations

import pytest

from firmware_sim.bracelet import SimBracelet
from firmware_sim.conformance import console_checks as checks
from firmware_sim.conformance.observations import ConsoleTranscript
from firmware_sim.conformance.results import Outcome
from firmware_sim.console.commands import Console
from qmon.clock import ManualClock
from tests.unit.conformance.builders import DEVICE_ID, KEY

URL = "socket://127.0.0.1:7000"


def simulated_transcript(battery: float = 87.0) -> ConsoleTranscript:
    clock = ManualClock()
    console = Console(SimBracelet(DEVICE_ID, KEY, now=clock.now(), battery_pct=battery), clock)
    return ConsoleTranscript(URL, {command: tuple(console.execute(command)) for command in checks.QUERIES})


def edited(command: str, *lines: str) -> ConsoleTranscript:
    transcript = simulated_transcript()
    return ConsoleTranscript(URL, {**transcript.responses, command: lines})


def test_the_simulated_console_answers_every_query_as_documented() -> None:
    result = checks.check_console_queries(simulated_transcript())
    assert result.outcome is Outcome.PASS, result.reason
    assert result.measured == f"{len(checks.QUERIES)} of {len(checks.QUERIES)} queries answered as documented"


@pytest.mark.parametrize(
    ("transcript", "problem"),
    [
        (edited("AT+STRAP?", "+STRAP: CLOSED"), "AT+STRAP?: final line '+STRAP: CLOSED', expected OK"),
        (edited("AT+BATT?", "+BATT: 87", "OK"), "AT+BATT?: '+BATT: 87' does not match"),
        (edited("AT+CFG?", "+CFG: adv_interval_ms,1000", "OK"), "AT+CFG?: 1 information lines, expected 4"),
        (edited("ATI", "qmon", "OK"), "ATI: no line like 'device id: [0-9a-f]{8}'"),
        (edited("AT+HR?", "ERROR: unknown command AT+HR?"), "AT+HR?: final line 'ERROR: unknown command"),
    ],
)
def test_a_wrong_answer_fails_the_queries(transcript: ConsoleTranscript, problem: str) -> None:
    result = checks.check_console_queries(transcript)
    assert result.outcome is Outcome.FAIL
    assert problem in result.reason


def test_an_unanswered_query_and_a_dead_console_fail() -> None:
    transcript = simulated_transcript()
    partial = ConsoleTranscript(URL, {k: v for k, v in transcript.responses.items() if k != "AT+ADV?"})
    assert "AT+ADV?: no answer" in checks.check_console_queries(partial).reason
    dead = ConsoleTranscript(URL, {}, error="cannot open socket://127.0.0.1:7000: refused")
    for check in (checks.check_console_queries(dead), checks.check_console_identity(dead, "0a1b2c3d")):
        assert check.outcome is Outcome.FAIL
        assert "refused" in check.reason


def test_without_a_console_every_console_check_is_skipped() -> None:
    results = (
        checks.check_console_queries(None),
        checks.check_console_identity(None, "0a1b2c3d"),
        checks.check_console_battery(None, 87),
    )
    assert {(r.outcome, r.reason) for r in results} == {(Outcome.SKIP, "no --console given")}


def test_identity_must_be_the_advertised_device_id() -> None:
    transcript = simulated_transcript()
    assert checks.check_console_identity(transcript, "0a1b2c3d").outcome is Outcome.PASS
    other = checks.check_console_identity(transcript, "0000c001")
    assert other.outcome is Outcome.FAIL
    assert other.reason == "console says ['0a1b2c3d'], the advert 0000c001"
    assert checks.check_console_identity(transcript, None).outcome is Outcome.SKIP


@pytest.mark.parametrize(
    ("advertised", "outcome"), [(87, Outcome.PASS), (85, Outcome.PASS), (84, Outcome.FAIL)]
)
def test_battery_must_roughly_match_the_advert(advertised: int, outcome: Outcome) -> None:
    result = checks.check_console_battery(simulated_transcript(battery=87.0), advertised)
    assert result.outcome is outcome
    assert result.measured == f"console 87 %, advert {advertised} %"


def test_battery_without_an_advertised_level_is_skipped() -> None:
    assert checks.check_console_battery(simulated_transcript(), None).outcome is Outcome.SKIP
