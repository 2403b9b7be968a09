"""The console's byte-level line discipline: line endings, echo, erase, over-long lines, bad bytes."""

from __future__ import annotations

import pytest

from firmware_sim.bracelet import SimBracelet
from firmware_sim.console import Console, ConsoleSession
from firmware_sim.console.session import MAX_LINE
from qmon.clock import ManualClock


def make_session() -> ConsoleSession:
    clock = ManualClock()
    return ConsoleSession(Console(SimBracelet(0xA001, bytes(16), now=clock.now()), clock))


@pytest.mark.parametrize("ending", [b"\r", b"\n", b"\r\n"])
def test_any_line_ending_ends_a_command_and_responses_end_with_crlf(ending: bytes) -> None:
    session = make_session()
    assert session.feed(b"AT+STRAP?" + ending) == b"+STRAP: CLOSED\r\nOK\r\n"


def test_bytes_may_arrive_one_at_a_time() -> None:
    session = make_session()
    out = b"".join(session.feed(bytes([byte])) for byte in b"AT\r")
    assert out == b"OK\r\n"


def test_several_commands_in_one_chunk_are_answered_in_order() -> None:
    session = make_session()
    assert (
        session.feed(b"AT\rAT+RADIO?\r\nAT+NOPE\n")
        == b"OK\r\n+RADIO: ON\r\nOK\r\nERROR: unknown command AT+NOPE\r\n"
    )


def test_empty_and_blank_lines_are_ignored() -> None:
    session = make_session()
    assert session.feed(b"\r\n\r\n   \r") == b""


def test_echo_sends_every_received_byte_back() -> None:
    session = make_session()
    assert session.feed(b"ATE1\r") == b"OK\r\n"  # the command's own bytes came before echo was on
    assert session.feed(b"AT\r") == b"AT\rOK\r\n"
    assert session.feed(b"ATE0\r") == b"ATE0\rOK\r\n"
    assert session.feed(b"AT\r") == b"OK\r\n"


def test_backspace_and_delete_erase_the_previous_byte() -> None:
    session = make_session()
    assert session.feed(b"AT+STRAX\x08P?\r") == b"+STRAP: CLOSED\r\nOK\r\n"
    assert session.feed(b"AT+RADIOO\x7f?\r") == b"+RADIO: ON\r\nOK\r\n"
    assert session.feed(b"\x08\x08AT\r") == b"OK\r\n"  # nothing to erase: ignored


def test_an_over_long_line_is_refused_once_and_the_next_line_works() -> None:
    session = make_session()
    assert session.feed(b"AT" + b"X" * MAX_LINE) == b""
    assert session.feed(b"Y" * 10_000) == b""  # discarded, not buffered
    assert session.feed(b"\rAT\r") == b"ERROR: line too long\r\nOK\r\n"


def test_a_line_of_exactly_the_limit_is_accepted() -> None:
    session = make_session()
    assert session.feed(b"AT" + b" " * (MAX_LINE - 2) + b"\r") == b"OK\r\n"


@pytest.mark.parametrize("junk", [b"AT+BATT?\xff", b"\xc3\x28", b"AT\x80\r"[:-1]])
def test_bytes_that_are_not_utf8_answer_error(junk: bytes) -> None:
    session = make_session()
    assert session.feed(junk + b"\r") == b"ERROR: not UTF-8\r\n"
    assert session.feed(b"AT\r") == b"OK\r\n"


def test_control_bytes_are_part_of_the_line() -> None:
    session = make_session()
    assert session.feed(b"AT\x00\r") == b"ERROR: unknown command AT?\r\n"


def test_two_consoles_of_one_bracelet_keep_their_own_line_and_echo() -> None:
    first = make_session()
    console = first.console
    second = ConsoleSession(Console(console.bracelet, console.clock))
    assert first.feed(b"ATE1\rAT+ST") == b"OK\r\nAT+ST"
    assert second.feed(b"AT+STRAP=OPEN\r") == b"OK\r\n"
    assert first.feed(b"RAP?\r") == b"RAP?\r+STRAP: OPEN\r\nOK\r\n"
