"""How the bleak backends reach a world: in-process (`inproc:NAME`) or over the radio server (`tcp://H:P`).

Both transports offer the same small interface (scan with an advert callback; connect and then read,
write and subscribe on a link); ATT refusals surface as `AttError`, lost or impossible links as
`LinkError`, an unreachable radio server as `RadioError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from firmware_sim.bleak_backend.registry import lookup_world
from firmware_sim.bracelet import AttError
from firmware_sim.gatt_layout import BRACELET_LAYOUT, ServiceSpec, layout_from_json
from firmware_sim.wire import WireError, advert_from_message, decode_line, encode_line
from firmware_sim.world import AdvertCallback, GattLink, LinkError, LinkLostCallback, World

log = logging.getLogger(__name__)

ValueCallback = Callable[[bytes], None]
CLIENT_LINE_LIMIT = 1024 * 1024


class RadioError(ConnectionError):
    """The radio (the radio server, or the named in-process world) cannot be reached."""


class RemoteLink(ABC):
    """A GATT link as a backend sees it."""

    address: str
    name: str
    mtu: int
    layout: tuple[ServiceSpec, ...]

    @property
    @abstractmethod
    def connected(self) -> bool:
        """Whether the link is up."""

    @abstractmethod
    def subscribed(self, uuid: str) -> bool:
        """Whether notifications of `uuid` are enabled on this link."""

    @abstractmethod
    async def read(self, uuid: str) -> bytes:
        """Read a characteristic value."""

    @abstractmethod
    async def write(self, uuid: str, data: bytes, response: bool) -> None:
        """Write a characteristic value."""

    @abstractmethod
    async def start_notify(self, uuid: str, callback: ValueCallback) -> None:
        """Enable notifications (or indications) of `uuid`."""

    @abstractmethod
    async def stop_notify(self, uuid: str) -> None:
        """Disable notifications of `uuid`."""

    @abstractmethod
    async def disconnect(self) -> None:
        """Close the link (no lost callback)."""


class Radio(ABC):
    """One backend's access to a world."""

    url: str

    @abstractmethod
    async def start_scan(self, receivers: list[str] | None, on_report: AdvertCallback) -> None:
        """Deliver the adverts heard by `receivers` (None: all) to `on_report` until stop_scan()."""

    @abstractmethod
    async def stop_scan(self) -> None:
        """Stop delivering adverts."""

    @abstractmethod
    async def connect(self, address: str, receiver: str, on_lost: LinkLostCallback) -> RemoteLink:
        """Open a GATT link; `on_lost(reason)` fires if the link is lost later."""

    @abstractmethod
    async def close(self) -> None:
        """Release the radio (stops the scan; closes the connection to the radio server)."""


async def open_radio(url: str, timeout: float = 10.0) -> Radio:
    """Open `inproc:NAME` (a world registered with register_world) or `tcp://HOST:PORT` (a radio server)."""
    if url.startswith("inproc:"):
        name = url[len("inproc:") :]
        try:
            return InprocRadio(lookup_world(name), url)
        except KeyError:
            raise RadioError(f"no in-process world registered as {name!r}") from None
    parts = urlsplit(url)
    if parts.scheme != "tcp" or not parts.hostname or parts.port is None:
        raise ValueError(f"radio must be 'inproc:NAME' or 'tcp://HOST:PORT', not {url!r}")
    radio = TcpRadio(parts.hostname, parts.port, url)
    await radio.open(timeout)
    return radio


# ---- in-process -----------------------------------------------------------------------------------------


class InprocLink(RemoteLink):
    """A link straight onto the world's GattLink."""

    def __init__(self, link: GattLink) -> None:
        self._link = link
        self.address = link.address
        self.name = link.name
        self.mtu = link.mtu
        self.layout = BRACELET_LAYOUT

    @property
    def connected(self) -> bool:
        """Whether the link is up."""
        return self._link.connected

    def subscribed(self, uuid: str) -> bool:
        """Whether notifications of `uuid` are enabled on this link."""
        return self._link.subscribed(uuid)

    async def read(self, uuid: str) -> bytes:
        """Read a characteristic value."""
        return self._link.read(uuid)

    async def write(self, uuid: str, data: bytes, response: bool) -> None:
        """Write a characteristic value."""
        self._link.write(uuid, data, response=response)

    async def start_notify(self, uuid: str, callback: ValueCallback) -> None:
        """Enable notifications of `uuid`."""
        self._link.subscribe(uuid, callback)

    async def stop_notify(self, uuid: str) -> None:
        """Disable notifications of `uuid`."""
        self._link.unsubscribe(uuid)

    async def disconnect(self) -> None:
        """Close the link."""
        self._link.disconnect()


class InprocRadio(Radio):
    """A world in this process, found by name."""

    def __init__(self, world: World, url: str) -> None:
        self.world = world
        self.url = url
        self._stop: Callable[[], None] | None = None

    async def start_scan(self, receivers: list[str] | None, on_report: AdvertCallback) -> None:
        """Subscribe to the world's adverts."""
        await self.stop_scan()
        self._stop = self.world.subscribe(receivers, on_report)

    async def stop_scan(self) -> None:
        """Unsubscribe."""
        if self._stop is not None:
            self._stop()
            self._stop = None

    async def connect(self, address: str, receiver: str, on_lost: LinkLostCallback) -> RemoteLink:
        """Open a link in the world."""
        return InprocLink(self.world.connect(address, receiver, on_lost=on_lost))

    async def close(self) -> None:
        """Stop the scan."""
        await self.stop_scan()


# ---- over the radio server ------------------------------------------------------------------------------


class TcpLink(RemoteLink):
    """A link held by the radio server, addressed by its link id."""

    def __init__(
        self, radio: TcpRadio, link_id: int, address: str, result: dict[str, Any], on_lost: LinkLostCallback
    ) -> None:
        self._radio = radio
        self.link_id = link_id
        self.address = address
        self.name = str(result.get("name") or address)
        self.mtu = int(result.get("mtu") or 23)
        self.layout = layout_from_json(result.get("services") or [])
        self._on_lost = on_lost
        self._callbacks: dict[str, ValueCallback] = {}
        self._connected = True

    @property
    def connected(self) -> bool:
        """Whether the link is up."""
        return self._connected

    def subscribed(self, uuid: str) -> bool:
        """Whether notifications of `uuid` are enabled on this link."""
        return uuid.lower() in self._callbacks

    async def read(self, uuid: str) -> bytes:
        """Read a characteristic value."""
        result = await self._request("read", uuid=uuid)
        return bytes.fromhex(str(result["value"]))

    async def write(self, uuid: str, data: bytes, response: bool) -> None:
        """Write a characteristic value."""
        await self._request("write", uuid=uuid, value=bytes(data).hex(), response=response)

    async def start_notify(self, uuid: str, callback: ValueCallback) -> None:
        """Enable notifications of `uuid`."""
        self._callbacks[uuid.lower()] = callback
        try:
            await self._request("start_notify", uuid=uuid)
        except BaseException:
            self._callbacks.pop(uuid.lower(), None)
            raise

    async def stop_notify(self, uuid: str) -> None:
        """Disable notifications of `uuid`."""
        self._callbacks.pop(uuid.lower(), None)
        await self._request("stop_notify", uuid=uuid)

    async def disconnect(self) -> None:
        """Close the link."""
        if not self._connected:
            return
        self._connected = False
        self._callbacks.clear()
        self._radio.links.pop(self.link_id, None)
        with contextlib.suppress(LinkError, RadioError):
            await self._radio.request("disconnect", link=self.link_id)

    async def _request(self, op: str, **fields: Any) -> dict[str, Any]:
        if not self._connected:
            raise LinkError(f"link to {self.address} is down")
        return await self._radio.request(op, link=self.link_id, **fields)

    def deliver(self, uuid: str, value: bytes) -> None:
        """A pushed notification for this link."""
        callback = self._callbacks.get(uuid.lower())
        if callback is not None:
            callback(value)

    def lose(self, reason: str) -> None:
        """The server says the link is gone (or the server itself is)."""
        if not self._connected:
            return
        self._connected = False
        self._callbacks.clear()
        self._on_lost(reason)


class TcpRadio(Radio):
    """A connection to a radio server (firmware_sim.server) on this machine."""

    def __init__(self, host: str, port: int, url: str) -> None:
        self.host = host
        self.port = port
        self.url = url
        self.links: dict[int, TcpLink] = {}
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._read_task: asyncio.Task[None] | None = None
        self._on_report: AdvertCallback | None = None
        self._closed = False

    async def open(self, timeout: float) -> None:
        """Connect and say hello."""
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=CLIENT_LINE_LIMIT), timeout
            )
        except (OSError, TimeoutError) as exc:
            raise RadioError(f"cannot reach the radio server at {self.url}: {exc}") from None
        self._read_task = asyncio.create_task(self._read_loop(), name=f"radio {self.url}")
        try:
            await asyncio.wait_for(self.request("hello"), timeout)
        except BaseException:
            await self.close()
            raise

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request and wait for its reply; map error replies to AttError / LinkError / RadioError."""
        if self._closed or self._writer is None:
            raise RadioError(f"radio {self.url} is closed")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._writer.write(encode_line({"op": op, "id": request_id, **fields}))
            await self._writer.drain()
            reply = await future
        except (ConnectionError, OSError) as exc:
            raise RadioError(f"radio server connection failed: {exc}") from None
        finally:
            self._pending.pop(request_id, None)
        if reply.get("ok"):
            result = reply.get("result")
            return result if isinstance(result, dict) else {}
        details = reply.get("error")
        error: dict[str, Any] = details if isinstance(details, dict) else {}
        code = str(error.get("code"))
        message = str(error.get("message"))
        if code == "att":
            raise AttError(int(error.get("att_error", 0x0E)), message)
        if code in ("link", "unknown_link"):
            raise LinkError(message)
        raise RadioError(f"{op} refused by the radio server: {code}: {message}")

    async def start_scan(self, receivers: list[str] | None, on_report: AdvertCallback) -> None:
        """Ask the server to push the adverts heard by `receivers`."""
        self._on_report = on_report
        await self.request("scan", receivers=receivers)

    async def stop_scan(self) -> None:
        """Ask the server to stop pushing adverts."""
        self._on_report = None
        if not self._closed:
            with contextlib.suppress(RadioError):
                await self.request("stop_scan")

    async def connect(self, address: str, receiver: str, on_lost: LinkLostCallback) -> RemoteLink:
        """Open a link through the server."""
        result = await self.request("connect", address=address, receiver=receiver)
        link = TcpLink(self, int(result["link"]), address, result, on_lost)
        self.links[link.link_id] = link
        return link

    async def close(self) -> None:
        """Close the connection (the server then drops this connection's scan and links)."""
        self._closed = True
        self._on_report = None
        writer, self._writer = self._writer, None
        if writer is not None:  # also after the server hung up: the socket is ours to release
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
        task, self._read_task = self._read_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._fail_all("radio closed")

    async def _read_loop(self) -> None:
        assert self._reader is not None
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                try:
                    self._dispatch(decode_line(line))
                except WireError as exc:
                    log.warning("radio server sent a bad line: %s", exc)
                except Exception:
                    log.exception("handling a radio server message failed")
        except (ConnectionError, OSError, ValueError):
            pass
        finally:
            self._closed = True
            self._fail_all("radio server connection closed")

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "advert":
            if self._on_report is not None:
                self._on_report(advert_from_message(message))
        elif kind == "reply":
            future = self._pending.get(message.get("id"))  # type: ignore[arg-type]
            if future is not None and not future.done():
                future.set_result(message)
        elif kind == "notification":
            link = self.links.get(message.get("link"))  # type: ignore[arg-type]
            if link is not None:
                link.deliver(str(message.get("uuid")), bytes.fromhex(str(message.get("value"))))
        elif kind == "disconnected":
            link = self.links.pop(message.get("link"), None)  # type: ignore[arg-type]
            if link is not None:
                link.lose(str(message.get("reason") or "disconnected"))

    def _fail_all(self, reason: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(RadioError(reason))
        self._pending.clear()
        links = list(self.links.values())
        self.links.clear()
        for link in links:
            link.lose(reason)
