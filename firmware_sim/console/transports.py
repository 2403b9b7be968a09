"""Serving each bracelet's console over a pty, a raw TCP socket and (optionally) RFC 2217, on asyncio.

Everything runs on the event loop of the world that drives the bracelets, so a command and an advert never
touch a bracelet at the same time. Per bracelet:

- a pty pair (raw mode): testers open the slave path, e.g. `serial.Serial("/dev/pts/7")`;
- a TCP port on loopback, raw bytes: `serial.serial_for_url("socket://127.0.0.1:PORT")`;
- with `rfc2217=True`, a second TCP port speaking Telnet/RFC 2217 through pyserial's own PortManager:
  `serial.serial_for_url("rfc2217://127.0.0.1:PORT")` (ser2net-style tools). A simulated UART has no
  baud rate or modem lines, so the port the PortManager drives is a stub that accepts any setting and
  reports CTS and DSR up.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import tty
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from serial import rfc2217

from firmware_sim.bracelet import SimBracelet
from firmware_sim.console.commands import Console
from firmware_sim.console.session import ConsoleSession
from firmware_sim.households import TimelineEvent
from firmware_sim.server import check_loopback
from qmon.bracelet.advert import format_device_id
from qmon.clock import Clock

# (device id, fault) -> applied by the world the bracelets live in
Injector = Callable[[str, TimelineEvent], None]

log = logging.getLogger(__name__)

READ_CHUNK = 4096


@dataclass(frozen=True, slots=True)
class ConsoleEndpoint:
    """Where one bracelet's console can be opened (None: that transport is not served)."""

    device_id: str
    pty_path: str | None
    socket_url: str | None
    rfc2217_url: str | None

    def describe(self) -> str:
        """One line for the tester: the device id and every way to open its console."""
        ways = [w for w in (self.pty_path, self.socket_url, self.rfc2217_url) if w is not None]
        return f"{self.device_id}: {'  '.join(ways)}"


class _PtyPort:
    """One pty pair; the slave is kept open so the master never reads EIO while no tester is attached."""

    def __init__(self, console: Console, loop: asyncio.AbstractEventLoop) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._session = ConsoleSession(console)
        self._loop = loop
        loop.add_reader(self._master, self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = os.read(self._master, READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EIO while the slave side is being reopened
            return
        out = self._session.feed(data)
        while out:
            try:
                written = os.write(self._master, out)
            except (BlockingIOError, OSError):
                # Nobody is reading the slave and its buffer is full: drop, as a UART would.
                log.debug("console output dropped on %s (%d bytes)", self.path, len(out))
                return
            out = out[written:]

    def close(self) -> None:
        self._loop.remove_reader(self._master)
        os.close(self._master)
        os.close(self._slave)


class _UartStub:
    """What rfc2217.PortManager expects of a serial port: settings it may change, modem lines it reads."""

    def __init__(self) -> None:
        self.baudrate = 115_200
        self.bytesize = 8
        self.parity = "N"
        self.stopbits = 1
        self.xonxoff = False
        self.rtscts = False
        self.break_condition = False
        self.dtr = True
        self.rts = True
        self.cts = True
        self.dsr = True
        self.ri = False
        self.cd = False

    def reset_input_buffer(self) -> None:
        """Nothing is buffered: a no-op."""

    def reset_output_buffer(self) -> None:
        """Nothing is buffered: a no-op."""


class _WriterConnection:
    """The `connection` of rfc2217.PortManager: its write() goes to the asyncio stream."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    def write(self, data: bytes) -> None:
        self._writer.write(data)


class ConsoleServer:
    """The consoles of `bracelets` over pty, TCP and optionally RFC 2217; start() then close()."""

    def __init__(
        self,
        bracelets: Iterable[SimBracelet],
        clock: Clock,
        *,
        host: str = "127.0.0.1",
        base_port: int = 0,
        pty: bool = True,
        tcp: bool = True,
        rfc2217: bool = False,
        inject: Injector | None = None,
    ) -> None:
        self.host = check_loopback(host)
        self.bracelets = {format_device_id(b.device_id): b for b in bracelets}
        self.clock = clock
        self._inject = inject
        self._base_port = base_port
        self._pty = pty
        self._tcp = tcp
        self._rfc2217 = rfc2217
        self._ptys: list[_PtyPort] = []
        self._servers: list[asyncio.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self.endpoints: list[ConsoleEndpoint] = []

    async def start(self) -> list[ConsoleEndpoint]:
        """Open every pty and listening socket; returns the endpoints (also in `self.endpoints`)."""
        loop = asyncio.get_running_loop()
        next_port = self._base_port
        try:
            for device_id, bracelet in self.bracelets.items():
                pty_path = socket_url = rfc2217_url = None
                if self._pty:
                    port = _PtyPort(self._console(bracelet), loop)
                    self._ptys.append(port)
                    pty_path = port.path
                if self._tcp:
                    number = await self._listen(bracelet, next_port, raw=True)
                    next_port = next_port + 1 if next_port else 0
                    socket_url = f"socket://{self.host}:{number}"
                if self._rfc2217:
                    number = await self._listen(bracelet, next_port, raw=False)
                    next_port = next_port + 1 if next_port else 0
                    rfc2217_url = f"rfc2217://{self.host}:{number}"
                self.endpoints.append(ConsoleEndpoint(device_id, pty_path, socket_url, rfc2217_url))
        except BaseException:
            await self.close()
            raise
        return self.endpoints

    async def close(self) -> None:
        """Close every pty, listening socket and connection."""
        for port in self._ptys:
            port.close()
        self._ptys.clear()
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    async def __aenter__(self) -> ConsoleServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _console(self, bracelet: SimBracelet) -> Console:
        if self._inject is None:
            return Console(bracelet, self.clock)
        return Console(
            bracelet, self.clock, functools.partial(self._inject, format_device_id(bracelet.device_id))
        )

    async def _listen(self, bracelet: SimBracelet, port: int, *, raw: bool) -> int:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.add(writer)
            session = ConsoleSession(self._console(bracelet))  # each connection its own echo setting
            try:
                await (_serve_raw if raw else _serve_rfc2217)(session, reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                self._writers.discard(writer)
                writer.close()

        server = await asyncio.start_server(handle, self.host, port)
        self._servers.append(server)
        number: int = server.sockets[0].getsockname()[1]
        return number


async def _serve_raw(
    session: ConsoleSession, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    while data := await reader.read(READ_CHUNK):
        out = session.feed(data)
        if out:
            writer.write(out)
            await writer.drain()


async def _serve_rfc2217(
    session: ConsoleSession, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    manager: Any = rfc2217.PortManager(_UartStub(), _WriterConnection(writer))
    await writer.drain()
    while data := await reader.read(READ_CHUNK):
        out = session.feed(b"".join(manager.filter(data)))
        if out:
            writer.write(b"".join(manager.escape(out)))
        await writer.drain()


@contextlib.asynccontextmanager
async def serve_consoles(
    bracelets: Iterable[SimBracelet],
    clock: Clock,
    *,
    host: str = "127.0.0.1",
    base_port: int = 0,
    pty: bool = True,
    tcp: bool = True,
    rfc2217: bool = False,
    inject: Injector | None = None,
) -> AsyncIterator[ConsoleServer]:
    """Serve one console per bracelet while the block runs; `server.endpoints` says where each one is.

    `inject(device_id, event)`, when given (a world's `inject`), receives the faults typed at a console,
    so that the world applies them like scripted ones and reports them as happenings.

    `base_port` 0 picks free ports; otherwise the consoles take consecutive ports from it (socket, then
    rfc2217 if enabled, bracelet after bracelet).
    """
    server = ConsoleServer(
        bracelets, clock, host=host, base_port=base_port, pty=pty, tcp=tcp, rfc2217=rfc2217, inject=inject
    )
    await server.start()
    try:
        yield server
    finally:
        await server.close()
