"""The radio server: lets an edge agent in another process scan and connect to a world's bracelets.

An asyncio TCP server bound to the loopback interface only (127.0.0.1 by default; any non-loopback host
is refused), speaking newline-delimited JSON: one object per line, UTF-8, at most 64 KiB per line. The
bleak backend's `tcp://127.0.0.1:PORT` radio is its client. Every request carries an `op` and an `id`
(any JSON value, echoed in the reply); several requests may be outstanding on one connection.

Requests (client -> server):

    {"op": "hello", "id": 1}
        -> result {"protocol": "qmon-sim-radio/1", "receivers": ["hub-1", ...], "time": 1800000000.0}
    {"op": "scan", "id": 2, "receivers": ["hub-1", "hub-2"]}      (receivers null or absent: all)
        -> result {}; adverts heard by those receivers are then pushed (one scan per connection;
           a new scan replaces the previous one)
    {"op": "stop_scan", "id": 3}                                          -> result {}
    {"op": "connect", "id": 4, "address": "C5:1A:00:00:A0:01", "receiver": "hub-1"}
        -> result {"link": 1, "mtu": 247, "name": "QB0000a001", "services": [...GATT layout...]}
    {"op": "read", "id": 5, "link": 1, "uuid": "00002a19-0000-1000-8000-00805f9b34fb"}
        -> result {"value": "5f"}                                         (hex)
    {"op": "write", "id": 6, "link": 1, "uuid": "...", "value": "0100...", "response": true}
        -> result {}
    {"op": "start_notify", "id": 7, "link": 1, "uuid": "..."}             -> result {}
    {"op": "stop_notify", "id": 8, "link": 1, "uuid": "..."}              -> result {}
    {"op": "disconnect", "id": 9, "link": 1}                              -> result {}

Replies (server -> client):

    {"type": "reply", "id": 5, "ok": true, "result": {...}}
    {"type": "reply", "id": 6, "ok": false, "error": {"code": "att", "att_error": 128, "message": "..."}}

    error codes: bad_json (the line is not a JSON object; the reply's id is null), bad_request (a field
    is missing or of the wrong type), unknown_op, unknown_link, unknown_receiver, link (the link could
    not be made or is gone), att (the bracelet refused: `att_error` is the ATT error code),
    line_too_long, internal.

Pushed messages (server -> client):

    {"type": "advert", "address": "C5:1A:00:00:A0:01", "rssi": -67, "mfr": {"65535": "01..."},
     "name": "QB0000a001", "uuids": ["3d1b0100-..."], "receiver": "hub-1", "time": 1800000012.345}
    {"type": "notification", "link": 1, "uuid": "...", "value": "..."}
    {"type": "disconnected", "link": 1, "reason": "out of range"}

Closing the connection stops its scan and disconnects its links. Bad input gets an error reply and
never stops the server; if a client reads too slowly, adverts for it are dropped (like radio loss)
rather than queued without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Callable
from typing import Any

from firmware_sim.bracelet import AttError
from firmware_sim.gatt_layout import layout_to_json
from firmware_sim.wire import (
    MAX_LINE,
    PROTOCOL,
    WireError,
    advert_to_message,
    decode_line,
    encode_line,
    require_hex,
    require_int,
    require_str,
)
from firmware_sim.world import AdvertReport, GattLink, LinkError, World

log = logging.getLogger(__name__)

MAX_PENDING_BYTES = 4 * 1024 * 1024  # per client: beyond this, adverts are dropped for that client


def check_loopback(host: str) -> str:
    """Return `host` if it is a loopback address (or 'localhost'); raise ValueError otherwise."""
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ValueError(f"the radio server listens on loopback only, not {host!r}")


class RadioServer:
    """Serves one World over TCP on a loopback address; port 0 picks a free port."""

    def __init__(self, world: World, host: str = "127.0.0.1", port: int = 0) -> None:
        self.world = world
        self.host = check_loopback(host)
        self._requested_port = port
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self.adverts_dropped = 0

    @property
    def port(self) -> int:
        """The port listened on (after start())."""
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """The radio string for the bleak backend: tcp://HOST:PORT."""
        return f"tcp://{self.host}:{self.port}"

    async def start(self) -> None:
        """Start listening."""
        self._server = await asyncio.start_server(
            self._serve, self.host, self._requested_port, limit=MAX_LINE
        )

    async def close(self) -> None:
        """Stop listening and close every client connection."""
        if self._server is None:
            return
        self._server.close()
        for session in list(self._sessions):
            session.shutdown()
        if self._handlers:  # each handler ends once its closed connection reads EOF
            await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> RadioServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(self, writer)
        self._sessions.add(session)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        try:
            while True:
                try:
                    line = await reader.readline()
                except ValueError:  # longer than MAX_LINE: the buffer was discarded, carry on
                    session.send_error(
                        None, WireError("line_too_long", f"request lines are limited to {MAX_LINE} bytes")
                    )
                    continue
                if not line:
                    break
                if line.strip():
                    session.handle_line(line)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            session.shutdown()
            self._sessions.discard(session)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


class _Session:
    """One client connection: its scan subscription and its GATT links."""

    def __init__(self, server: RadioServer, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.world = server.world
        self.writer = writer
        self.links: dict[int, GattLink] = {}
        self.next_link = 1
        self.stop_scan: Callable[[], None] | None = None
        self.closed = False

    # ---- output ----------------------------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        """Write one message unless the connection is closing."""
        if not self.closed and not self.writer.is_closing():
            self.writer.write(encode_line(message))

    def send_error(self, request_id: Any, error: WireError, **extra: Any) -> None:
        """Write an error reply."""
        self.send(
            {
                "type": "reply",
                "id": request_id,
                "ok": False,
                "error": {"code": error.code, "message": str(error), **extra},
            }
        )

    def on_advert(self, report: AdvertReport) -> None:
        """Push an advert, or drop it if this client is not keeping up."""
        transport = self.writer.transport
        if self.closed or transport.is_closing():
            return
        if transport.get_write_buffer_size() > MAX_PENDING_BYTES:
            self.server.adverts_dropped += 1
            return
        self.writer.write(encode_line(advert_to_message(report)))

    # ---- input -----------------------------------------------------------------------------------------

    def handle_line(self, line: bytes) -> None:
        """Answer one request line; every failure becomes an error reply."""
        request_id: Any = None
        try:
            message = decode_line(line)
            request_id = message.get("id")
            op = message.get("op")
            handler = _HANDLERS.get(op) if isinstance(op, str) else None
            if handler is None:
                raise WireError("unknown_op", f"unknown op {op!r}")
            result = handler(self, message)
        except WireError as exc:
            self.send_error(request_id, exc)
        except AttError as exc:
            self.send_error(request_id, WireError("att", str(exc)), att_error=exc.code)
        except LinkError as exc:
            self.send_error(request_id, WireError("link", str(exc)))
        except Exception as exc:  # a bug must cost one request, never the server
            log.exception("radio server request failed")
            self.send_error(request_id, WireError("internal", f"{type(exc).__name__}: {exc}"))
        else:
            self.send({"type": "reply", "id": request_id, "ok": True, "result": result})

    def link(self, message: dict[str, Any]) -> tuple[int, GattLink]:
        """The link a request names."""
        link_id = require_int(message, "link")
        link = self.links.get(link_id)
        if link is None:
            raise WireError("unknown_link", f"no link {link_id} on this connection")
        return link_id, link

    def shutdown(self) -> None:
        """Stop the scan, disconnect the links, close the connection."""
        if self.closed:
            return
        self.closed = True
        if self.stop_scan is not None:
            self.stop_scan()
            self.stop_scan = None
        for link in list(self.links.values()):
            link.disconnect()
        self.links.clear()
        self.writer.close()

    # ---- operations ------------------------------------------------------------------------------------

    def op_hello(self, message: dict[str, Any]) -> dict[str, Any]:
        """Protocol, receivers and clock."""
        return {"protocol": PROTOCOL, "receivers": self.world.receivers, "time": self.world.clock.now()}

    def op_scan(self, message: dict[str, Any]) -> dict[str, Any]:
        """Start (or replace) this connection's scan."""
        receivers = message.get("receivers")
        if receivers is not None and (
            not isinstance(receivers, list) or not all(isinstance(r, str) for r in receivers)
        ):
            raise WireError("bad_request", "'receivers' must be a list of strings or null")
        try:
            stop = self.world.subscribe(receivers, self.on_advert)
        except ValueError as exc:
            raise WireError("unknown_receiver", str(exc)) from None
        if self.stop_scan is not None:
            self.stop_scan()
        self.stop_scan = stop
        return {}

    def op_stop_scan(self, message: dict[str, Any]) -> dict[str, Any]:
        """Stop this connection's scan."""
        if self.stop_scan is not None:
            self.stop_scan()
            self.stop_scan = None
        return {}

    def op_connect(self, message: dict[str, Any]) -> dict[str, Any]:
        """Open a GATT link; its loss is pushed as `disconnected`."""
        address = require_str(message, "address")
        receiver = require_str(message, "receiver")
        link_id = self.next_link

        def on_lost(reason: str) -> None:
            if self.links.pop(link_id, None) is not None:
                self.send({"type": "disconnected", "link": link_id, "reason": reason})

        link = self.world.connect(address, receiver, on_lost=on_lost)
        self.next_link += 1
        self.links[link_id] = link
        return {"link": link_id, "mtu": link.mtu, "name": link.name, "services": layout_to_json()}

    def op_read(self, message: dict[str, Any]) -> dict[str, Any]:
        """Read a characteristic."""
        _, link = self.link(message)
        return {"value": link.read(require_str(message, "uuid")).hex()}

    def op_write(self, message: dict[str, Any]) -> dict[str, Any]:
        """Write a characteristic."""
        _, link = self.link(message)
        response = message.get("response", True)
        if not isinstance(response, bool):
            raise WireError("bad_request", "'response' must be a boolean")
        link.write(require_str(message, "uuid"), require_hex(message, "value"), response=response)
        return {}

    def op_start_notify(self, message: dict[str, Any]) -> dict[str, Any]:
        """Push the characteristic's notifications."""
        link_id, link = self.link(message)
        uuid = require_str(message, "uuid")

        def on_value(value: bytes) -> None:
            self.send({"type": "notification", "link": link_id, "uuid": uuid, "value": value.hex()})

        link.subscribe(uuid, on_value)
        return {}

    def op_stop_notify(self, message: dict[str, Any]) -> dict[str, Any]:
        """Stop pushing the characteristic's notifications."""
        _, link = self.link(message)
        link.unsubscribe(require_str(message, "uuid"))
        return {}

    def op_disconnect(self, message: dict[str, Any]) -> dict[str, Any]:
        """Close a link."""
        link_id, link = self.link(message)
        del self.links[link_id]
        link.disconnect()
        return {}


_HANDLERS: dict[str, Callable[[_Session, dict[str, Any]], dict[str, Any]]] = {
    "hello": _Session.op_hello,
    "scan": _Session.op_scan,
    "stop_scan": _Session.op_stop_scan,
    "connect": _Session.op_connect,
    "read": _Session.op_read,
    "write": _Session.op_write,
    "start_notify": _Session.op_start_notify,
    "stop_notify": _Session.op_stop_notify,
    "disconnect": _Session.op_disconnect,
}
