"""The console's line discipline (pure): bytes from the tester in, bytes to send back out.

Lines end with CR or LF (so CR, LF and CRLF all work; empty lines are ignored); BS and DEL erase the
previous byte; a line longer than MAX_LINE bytes is discarded up to its end and answered with one
`ERROR: line too long`; a line that is not UTF-8 is answered `ERROR: not UTF-8`. Every response line ends
with CRLF. With echo on (ATE1), every byte received is sent back as it arrives.
"""

from __future__ import annotations

from firmware_sim.console.commands import Console

MAX_LINE = 256
EOL = b"\r\n"
_ERASE = (0x08, 0x7F)
_TERMINATORS = (0x0D, 0x0A)


class ConsoleSession:
    """One connection's view of a Console: its own input buffer over the shared interpreter."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._line = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> bytes:
        """Take bytes received from the tester; return the bytes to send back (echo and responses)."""
        out = bytearray()
        for byte in data:
            if self.console.echo:
                out.append(byte)
            if byte in _TERMINATORS:
                out += self._end_line()
            elif byte in _ERASE:
                if self._line:
                    del self._line[-1]
            elif len(self._line) < MAX_LINE:
                self._line.append(byte)
            else:
                self._overflow = True
        return bytes(out)

    def _end_line(self) -> bytes:
        line = bytes(self._line)
        self._line.clear()
        if self._overflow:
            self._overflow = False
            return b"ERROR: line too long" + EOL
        if not line.strip():
            return b""
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return b"ERROR: not UTF-8" + EOL
        return b"".join(response.encode("utf-8") + EOL for response in self.console.execute(text))
