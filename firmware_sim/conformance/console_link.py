"""A bracelet's serial console over pyserial (`serial_for_url`: a device path, socket://, rfc2217://).

pyserial is blocking: `ConsoleLink` is used from worker threads (`asyncio.to_thread`) so that a console
served on the caller's own event loop (the simulator in tests) keeps answering.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import serial

from firmware_sim.conformance.observations import ConsoleTranscript

READ_SLICE_S = 0.05
ANSWER_TIMEOUT_S = 3.0


class ConsoleError(Exception):
    """The console could not be opened, or a command got no complete answer in time."""


class ConsoleLink:
    """One open console connection; `command(line)` returns the answer's lines, the final one last."""

    def __init__(self, url: str, timeout_s: float = ANSWER_TIMEOUT_S) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._port: serial.SerialBase | None = None

    def open(self) -> None:
        """Open the port and switch echo off (a pty keeps the echo setting of an earlier user)."""
        try:
            self._port = serial.serial_for_url(self.url, baudrate=115_200, timeout=READ_SLICE_S)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ConsoleError(f"cannot open {self.url}: {exc}") from None
        try:
            self._port.reset_input_buffer()
            self._send("ATE0")
            self._read_answer("ATE0", tolerate_echo=True)
        except (ConsoleError, serial.SerialException, OSError) as exc:
            self.close()
            raise ConsoleError(f"{self.url} does not answer: {exc}") from None

    def close(self) -> None:
        """Close the port."""
        port, self._port = self._port, None
        if port is not None:
            port.close()

    def command(self, line: str) -> tuple[str, ...]:
        """Send one command line; return its answer's lines (information lines, then OK or ERROR: ...)."""
        self._send(line)
        return self._read_answer(line)

    def _send(self, line: str) -> None:
        if self._port is None:
            raise ConsoleError("console not open")
        try:
            self._port.write(line.encode("ascii") + b"\r")
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise ConsoleError(f"writing {line!r}: {exc}") from None

    def _read_answer(self, line: str, *, tolerate_echo: bool = False) -> tuple[str, ...]:
        assert self._port is not None
        lines: list[str] = []
        pending = b""
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            try:
                pending += self._port.read_until(b"\n")
            except (serial.SerialException, OSError) as exc:
                raise ConsoleError(f"reading the answer to {line!r}: {exc}") from None
            while b"\n" in pending:
                raw, pending = pending.split(b"\n", 1)
                text = raw.decode("utf-8", "replace").strip("\r")
                if tolerate_echo and text.strip().upper().startswith("AT"):
                    continue  # our own command echoed back before ATE0 took effect
                lines.append(text)
                if text == "OK" or text.startswith("ERROR"):
                    return tuple(lines)
        raise ConsoleError(f"no complete answer to {line!r} within {self.timeout_s:g} s (got {lines})")


def query_all(link: ConsoleLink, commands: Iterable[str]) -> ConsoleTranscript:
    """Send each command and collect the answers; stop at the first command that gets no answer."""
    responses: dict[str, tuple[str, ...]] = {}
    try:
        for command in commands:
            responses[command] = link.command(command)
    except ConsoleError as exc:
        return ConsoleTranscript(link.url, responses, error=str(exc))
    return ConsoleTranscript(link.url, responses)
