"""HCI ports of the simulator: where an edge agent's host reaches the receiver controller.

- a pty: the simulator holds both ends' file descriptors and reads/writes the primary; the host opens the
  replica as a serial port (`serial:/dev/pts/N,1000000`), exactly as it opens a USB HCI-UART dongle.
- TCP on 127.0.0.1 (`tcp-client:127.0.0.1:PORT` on the host side); port 0 picks a free one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tty
from dataclasses import dataclass

from bumble.transport.common import StreamPacketSink, StreamPacketSource, Transport
from bumble.transport.tcp_server import open_tcp_server_transport_with_socket

LOOPBACK = "127.0.0.1"
PTY_BAUD = 1_000_000  # a pty ignores it; named so the host string reads like a dongle's


@dataclass(frozen=True, slots=True)
class HciPort:
    """An open HCI port: its bumble transport and the transport string a host uses to reach it."""

    transport: Transport
    host_spec: str

    async def close(self) -> None:
        """Close the port (for TCP: the listening socket and the connected host too)."""
        server = getattr(self.transport, "server", None)
        if server is not None:
            server.close()
            client = getattr(self.transport.sink, "transport", None)
            if client is not None:
                client.close()
        await self.transport.close()


async def open_pty_port() -> HciPort:
    """A new pty; the host side is `serial:/dev/pts/N,1000000`."""
    primary, replica = os.openpty()
    path = os.ttyname(replica)
    tty.setraw(primary)
    tty.setraw(replica)
    loop = asyncio.get_running_loop()
    reader = open(primary, "rb", buffering=0, closefd=False)  # noqa: SIM115 - closed with the transport
    writer = open(primary, "wb", buffering=0, closefd=False)  # noqa: SIM115
    read_transport, source = await loop.connect_read_pipe(StreamPacketSource, reader)
    write_transport, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, writer)

    class PtyTransport(Transport):
        async def close(self) -> None:
            write_transport.close()
            read_transport.close()
            for fd in (primary, replica):
                with contextlib.suppress(OSError):
                    os.close(fd)

    # The replica stays open here too: without it the primary reads EIO whenever the host closes the
    # port (an edge agent restarting), and the simulator would lose its end.
    return HciPort(PtyTransport(source, StreamPacketSink(write_transport)), f"serial:{path},{PTY_BAUD}")


async def open_tcp_port(port: int = 0) -> HciPort:
    """An HCI TCP server on 127.0.0.1:`port` (one host at a time); the host side is `tcp-client:...`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, port))
    transport = await open_tcp_server_transport_with_socket(sock)
    bound = sock.getsockname()[1]
    return HciPort(transport, f"tcp-client:{LOOPBACK}:{bound}")


async def open_port(spec: str) -> HciPort:
    """'pty' or 'tcp:PORT' (0 or no port: a free one)."""
    if spec == "pty":
        return await open_pty_port()
    kind, _, port = spec.partition(":")
    if kind == "tcp":
        return await open_tcp_port(int(port or 0))
    raise ValueError(f"HCI port must be 'pty' or 'tcp:PORT', got {spec!r}")
