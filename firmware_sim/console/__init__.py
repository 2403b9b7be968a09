"""The serial console of each simulated bracelet: AT commands a factory tester would send over a USB-UART.

- `commands.Console`: the pure interpreter (one line in, response lines out) over a SimBracelet and a clock;
- `session.ConsoleSession`: the byte-level line discipline (CR/LF, echo, over-long lines, bad bytes);
- `transports.serve_consoles` / `ConsoleServer`: one console per bracelet over a pty, a loopback TCP
  socket (`socket://`) and optionally RFC 2217 (`rfc2217://`);
- `python -m firmware_sim.console`: a simulated world with its radio server and every bracelet's console.

The command set is documented byte-exact in docs/CONSOLE.md.
"""

from firmware_sim.console.commands import Console
from firmware_sim.console.session import ConsoleSession
from firmware_sim.console.transports import ConsoleEndpoint, ConsoleServer, serve_consoles

__all__ = ["Console", "ConsoleEndpoint", "ConsoleServer", "ConsoleSession", "serve_consoles"]
