"""The consoles over real transports: pyserial on the pty, `socket://` and `rfc2217://`, loopback only.

pyserial blocks, so each client runs in a thread while the event loop serves the console; faults injected
through a console must show in what the simulated world then advertises (decoded with qmon's codec).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
import serial

from firmware_sim.builders import device_id_of, make_household, make_world
from firmware_sim.console import serve_consoles
from firmware_sim.world import AdvertReport
from qmon.bracelet.advert import BraceletState, decode_manufacturer_data, verify_tag
from qmon.clock import ManualClock

pytestmark = pytest.mark.timeout(60)
READ_TIMEOUT_S = 5.0
# pyserial 3.5's rfc2217 client starts its reader thread with the deprecated Thread.setDaemon/setName
PYSERIAL_RFC2217_CLIENT = pytest.mark.filterwarnings(
    r"ignore:set(Daemon|Name)\(\) is deprecated:DeprecationWarning"
)


def converse(open_port: Callable[[], serial.SerialBase], *commands: bytes) -> list[bytes]:
    """Open the port, send each command and read its response up to the final OK or ERROR line."""
    answers = []
    with open_port() as port:
        for command in commands:
            port.write(command)
            answers.append(read_response(port))
    return answers


def read_response(port: serial.SerialBase) -> bytes:
    data = b""
    while not re.search(rb"(^|\n)(OK|ERROR[^\r]*)\r\n$", data):
        chunk = port.read_until(b"\r\n")
        if not chunk.endswith(b"\r\n"):
            raise AssertionError(f"no complete response, got {data + chunk!r}")
        data += chunk
    return data


def by_url(url: str) -> Callable[[], serial.SerialBase]:
    return lambda: serial.serial_for_url(url, timeout=READ_TIMEOUT_S)


class AdvertLog:
    """Every advert the world delivers, decoded and verified with the bracelet's key."""

    def __init__(self, world_keys: dict[str, bytes]) -> None:
        self.keys = world_keys
        self.states: list[BraceletState] = []

    def __call__(self, report: AdvertReport) -> None:
        decoded = decode_manufacturer_data(report.manufacturer_data)
        verify_tag(decoded, self.keys[f"{decoded.state.device_id:08x}"])
        self.states.append(decoded.state)


async def test_pyserial_talks_to_the_console_over_the_pty() -> None:
    clock = ManualClock()
    world = make_world([make_household(1)], clock)
    bracelet = world.bracelet(device_id_of(1))
    async with serve_consoles([bracelet], clock, tcp=False) as server:
        (endpoint,) = server.endpoints
        assert endpoint.pty_path is not None and endpoint.socket_url is None
        path = endpoint.pty_path
        answers = await asyncio.to_thread(
            converse, lambda: serial.Serial(path, 115_200, timeout=READ_TIMEOUT_S), b"AT+ID?\r", b"AT+NO\r"
        )
    assert answers[0] == b'+ID: 0000a001,"firmware_sim 0.1.0",1,1\r\nOK\r\n'
    assert answers[1] == b"ERROR: unknown command AT+NO\r\n"


async def test_a_pty_nobody_reads_drops_output_and_keeps_answering() -> None:
    clock = ManualClock()
    world = make_world([make_household(1)], clock)
    async with serve_consoles([world.bracelet(device_id_of(1))], clock, tcp=False) as server:
        path = str(server.endpoints[0].pty_path)

        def flood_then_ask() -> bytes:
            with serial.Serial(path, timeout=READ_TIMEOUT_S, write_timeout=READ_TIMEOUT_S) as port:
                for _ in range(50):  # ~200 kB of answers, far beyond the pty's buffer, none read yet
                    port.write(b"AT+STRAP?\r" * 400)
                    port.flush()
                quiet_since = time.monotonic()
                while time.monotonic() - quiet_since < 0.2:  # drain what it still answers to the flood
                    if port.in_waiting:
                        port.reset_input_buffer()
                        quiet_since = time.monotonic()
                    time.sleep(0.02)
                port.write(b"AT+ID?\r")
                return read_response(port)

        answer = await asyncio.to_thread(flood_then_ask)
    assert answer.startswith(b"+ID: 0000a001,")


async def test_pyserial_socket_url_talks_to_the_console() -> None:
    clock = ManualClock()
    world = make_world([make_household(1), make_household(2)], clock)
    bracelets = [world.bracelet(device_id_of(n)) for n in (1, 2)]
    async with serve_consoles(bracelets, clock, pty=False) as server:
        urls = [e.socket_url for e in server.endpoints]
        assert all(url is not None and url.startswith("socket://127.0.0.1:") for url in urls)
        first = await asyncio.to_thread(converse, by_url(str(urls[0])), b"ATI\r\n", b"AT+BATT=42\r")
        second = await asyncio.to_thread(converse, by_url(str(urls[1])), b"AT+BATT?\n")
    assert b"device id: 0000a001\r\n" in first[0]
    assert first[1] == b"OK\r\n"
    assert bracelets[0].battery == 42.0
    assert second[0] == b"+BATT: 100,0,0\r\nOK\r\n"  # the other bracelet's console


@PYSERIAL_RFC2217_CLIENT
async def test_pyserial_rfc2217_url_talks_to_the_console() -> None:
    clock = ManualClock()
    world = make_world([make_household(1)], clock)
    bracelet = world.bracelet(device_id_of(1))
    async with serve_consoles([bracelet], clock, pty=False, tcp=False, rfc2217=True) as server:
        url = server.endpoints[0].rfc2217_url
        assert url is not None and url.startswith("rfc2217://127.0.0.1:")

        def talk() -> list[bytes]:
            with serial.serial_for_url(url, baudrate=9600, timeout=READ_TIMEOUT_S) as port:
                port.baudrate = 115_200  # negotiated with the PortManager, accepted by the stub
                port.write(b"AT+CFG=tx_power_dbm,-4\r")
                first = read_response(port)
                port.write(b"AT+DRIFT=\xff\r")  # 0xFF is Telnet's IAC: escaped on the wire, not UTF-8 here
                return [first, read_response(port)]

        answers = await asyncio.to_thread(talk)
    assert answers == [b"OK\r\n", b"ERROR: not UTF-8\r\n"]
    assert bracelet.config.tx_power_dbm == -4


async def test_closing_the_server_ends_open_connections() -> None:
    clock = ManualClock()
    world = make_world([make_household(1)], clock)
    async with serve_consoles([world.bracelet(device_id_of(1))], clock, pty=False) as server:
        port = await asyncio.to_thread(serial.serial_for_url, server.endpoints[0].socket_url, timeout=2.0)
        await asyncio.to_thread(port.write, b"AT\r")
        assert await asyncio.to_thread(port.read_until, b"OK\r\n") == b"OK\r\n"
    try:
        with pytest.raises(serial.SerialException):
            await asyncio.to_thread(port.read, 1)  # the server hung up
    finally:
        port.close()


async def test_strap_open_through_the_console_shows_in_the_next_advert() -> None:
    clock = ManualClock()
    world = make_world([make_household(1)], clock)
    adverts = AdvertLog(world.keys())
    world.subscribe(None, adverts)
    clock.advance(3.0)
    world.step()
    assert adverts.states and all(s.strap_closed for s in adverts.states)
    async with serve_consoles([world.bracelet(device_id_of(1))], clock, pty=False) as server:
        url = str(server.endpoints[0].socket_url)
        assert await asyncio.to_thread(converse, by_url(url), b"AT+STRAP=OPEN\r") == [b"OK\r\n"]
        seen = len(adverts.states)
        clock.advance(1.5)
        world.step()
        assert adverts.states[seen:], "no advert after the strap opened"
        assert not adverts.states[seen].strap_closed
        assert adverts.states[seen].counter == adverts.states[seen - 1].counter + 1

        assert await asyncio.to_thread(converse, by_url(url), b"AT+BATT=10\r") == [b"OK\r\n"]
        seen = len(adverts.states)
        clock.advance(1.5)
        world.step()
        assert adverts.states[seen].battery_pct == 10 and adverts.states[seen].low_battery


async def test_radio_off_through_the_console_stops_adverts_until_radio_on() -> None:
    clock = ManualClock()
    world = make_world([make_household(1)], clock)
    adverts = AdvertLog(world.keys())
    world.subscribe(None, adverts)
    async with serve_consoles([world.bracelet(device_id_of(1))], clock, tcp=False) as server:
        path = str(server.endpoints[0].pty_path)

        def send(command: bytes) -> list[bytes]:
            return converse(lambda: serial.Serial(path, timeout=READ_TIMEOUT_S), command)

        assert await asyncio.to_thread(send, b"AT+RADIO=OFF\r") == [b"OK\r\n"]
        clock.advance(10.0)
        world.step()
        assert adverts.states == []
        assert await asyncio.to_thread(send, b"AT+ADV?\r") == [b"+ADV: 0,0,1000\r\nOK\r\n"]
        assert await asyncio.to_thread(send, b"AT+RADIO=ON\r") == [b"OK\r\n"]
        clock.advance(3.0)
        world.step()
        assert len(adverts.states) >= 2
        assert all(s.strap_closed for s in adverts.states)


@PYSERIAL_RFC2217_CLIENT
async def test_module_entry_serves_the_demo_consoles() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "firmware_sim.console", "--duration", "120", "--no-pty", "--rfc2217"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("console: lines end with"):
            line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 20.0)
            assert line, f"the console process ended: {b''.join(process.stderr or []).decode()}"
            lines.append(line.decode().strip())
        consoles = [line for line in lines if re.match(r"console [0-9a-f]{8}: ", line)]
        assert len(consoles) == 4  # the packaged demo's four bracelets
        device, socket_url, rfc2217_url = re.findall(r"console (\w+): (\S+)\s+(\S+)", consoles[0])[0]
        answers = await asyncio.to_thread(converse, by_url(socket_url), b"AT+ID?\r")
        assert answers[0].startswith(f"+ID: {device},".encode())
        answers = await asyncio.to_thread(converse, by_url(rfc2217_url), b"AT+STRAP?\r")
        assert answers[0] in (b"+STRAP: CLOSED\r\nOK\r\n", b"+STRAP: OPEN\r\nOK\r\n")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert process.returncode == 0


async def test_faults_typed_at_a_world_console_are_the_world_s_happenings() -> None:
    from firmware_sim.world import Happening, HappeningKind

    clock = ManualClock()
    world = make_world([make_household(1)], clock)
    happenings: list[Happening] = []
    world.subscribe_happenings(happenings.append)
    clock.advance(2.0)
    world.step()
    bracelet = world.bracelet(device_id_of(1))
    async with serve_consoles([bracelet], clock, pty=False, inject=world.inject) as server:
        url = server.endpoints[0].socket_url
        answers = await asyncio.to_thread(
            converse,
            lambda: serial.serial_for_url(url, timeout=READ_TIMEOUT_S),
            b"AT+STRAP=OPEN\r",
            b"AT+DRIFT=40\r",
            b"AT+RADIO=OFF\r",
        )
    assert answers == [b"OK\r\n", b"OK\r\n", b"OK\r\n"]
    assert [h.kind for h in happenings] == [
        HappeningKind.STRAP_OPENED,
        HappeningKind.CLOCK_DRIFT_SET,
        HappeningKind.RADIO_OFF,
    ]
    assert not bracelet.strap_closed and bracelet.clock_drift_ppm == 40 and not bracelet.radio_on
