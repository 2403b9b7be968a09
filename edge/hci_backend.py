"""bleak backend `hci`: bleak's scanner and client over bumble's host stack on an HCI transport.

    BleakScanner(callback, backend=HciBleakScanner, hci_transport="serial:/dev/ttyACM0,1000000")
    BleakClient(device, backend=HciBleakClient)  # a BLEDevice from HciBleakScanner: same transport

The transport is any bumble transport string: a USB HCI-UART dongle (an nRF52840 running HCI-UART
firmware) is `serial:/dev/ttyACM0,1000000`; firmware_sim.bumble's simulator is the same thing on a pty
(`serial:/dev/pts/N,1000000`) or on `tcp-client:127.0.0.1:PORT`. One HCI transport has one host: the
scanner and every client of a process share one bumble Device per transport string (`HciStack`).
Imported only when `ble.backend` is `hci`, so nothing else loads bumble.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import att, core, hci
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt import Characteristic
from bumble.transport import open_transport
from bumble.transport.common import Transport

from qmon.bumble_host import QuietHost

log = logging.getLogger(__name__)

DEFAULT_ATT_MTU = 23
_AD_UUID16 = (0x02, 0x03)
_AD_UUID128 = (0x06, 0x07)
_AD_SHORT_NAME, _AD_COMPLETE_NAME = 0x08, 0x09
_AD_TX_POWER = 0x0A
_AD_SERVICE_DATA16 = 0x16
_AD_MANUFACTURER = 0xFF
_PROPERTY_NAMES: tuple[tuple[Characteristic.Properties, str], ...] = (
    (Characteristic.Properties.BROADCAST, "broadcast"),
    (Characteristic.Properties.READ, "read"),
    (Characteristic.Properties.WRITE_WITHOUT_RESPONSE, "write-without-response"),
    (Characteristic.Properties.WRITE, "write"),
    (Characteristic.Properties.NOTIFY, "notify"),
    (Characteristic.Properties.INDICATE, "indicate"),
    (Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES, "authenticated-signed-writes"),
    (Characteristic.Properties.EXTENDED_PROPERTIES, "extended-properties"),
)


def bleak_uuid(value: core.UUID) -> str:
    """bumble's UUID as bleak spells it: 128-bit, lowercase, dashed."""
    return str(uuid.UUID(bytes=value.to_bytes(force_128=True)[::-1]))


# ---- the shared host stack ------------------------------------------------------------------------------


class HciStack:
    """One bumble Device driving one HCI transport; scanners and clients of a process share it."""

    _open: dict[tuple[int, str], asyncio.Task[HciStack]] = {}

    def __init__(self, spec: str, transport: Transport, device: Device) -> None:
        self.spec = spec
        self.transport = transport
        self.device = device
        self.users = 0
        self._scanners = 0
        self._active = True

    @classmethod
    async def acquire(cls, spec: str) -> HciStack:
        """The stack on transport `spec`, opened (and powered on) on first use; release() when done."""
        key = (id(asyncio.get_running_loop()), spec)
        task = cls._open.get(key)
        if task is None:
            task = cls._open[key] = asyncio.get_running_loop().create_task(cls._power_on(spec))
        try:
            stack = await asyncio.shield(task)
        except BaseException:
            if cls._open.get(key) is task and task.done():
                del cls._open[key]
            raise
        stack.users += 1
        return stack

    @staticmethod
    async def _power_on(spec: str) -> HciStack:
        transport = await open_transport(spec)
        try:
            host = QuietHost(controller_source=transport.source, controller_sink=transport.sink)
            device = Device(name="qmon-edge", address=hci.Address.generate_static_address(), host=host)
            await device.power_on()
        except BaseException:
            await transport.close()
            raise
        log.info("HCI host up on %s", spec)
        return HciStack(spec, transport, device)

    async def release(self) -> None:
        """Give the stack back; the last user closes the transport."""
        self.users -= 1
        if self.users > 0:
            return
        self._open.pop((id(asyncio.get_running_loop()), self.spec), None)
        with contextlib.suppress(Exception):
            await self.device.power_off()
        await self.transport.close()

    async def start_scanning(self, active: bool) -> None:
        """Scan (the first scanner starts the controller scanning; later ones share it)."""
        self._scanners += 1
        if self._scanners == 1:
            self._active = active
            await self.device.start_scanning(active=active, filter_duplicates=False)

    async def stop_scanning(self) -> None:
        """The last scanner to stop stops the controller."""
        self._scanners -= 1
        if self._scanners == 0 and self.device.is_scanning:
            await self.device.stop_scanning()


@dataclass(frozen=True, slots=True)
class HciDevice:
    """`BLEDevice.details` of a device heard over HCI: how an HciBleakClient reaches it."""

    hci_transport: str
    address: hci.Address


# ---- scanner ---------------------------------------------------------------------------------------------


class HciBleakScanner(BaseBleakScanner):
    """Scans through a bumble host on `hci_transport` (e.g. 'serial:/dev/ttyACM0,1000000')."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        *,
        hci_transport: str | None = None,
        bluez: Any = None,
        cb: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        if not hci_transport:
            raise ValueError("HciBleakScanner needs hci_transport= (e.g. 'serial:/dev/ttyACM0,1000000')")
        self._spec = hci_transport
        self._active = scanning_mode == "active"
        self._stack: HciStack | None = None
        self._details: dict[hci.Address, HciDevice] = {}

    async def start(self) -> None:
        """Start scanning (clears the devices seen before)."""
        if self._stack is not None:
            await self.stop()
        self.seen_devices = {}
        stack = await HciStack.acquire(self._spec)
        stack.device.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        try:
            await stack.start_scanning(self._active)
        except BaseException:
            stack.device.remove_listener(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
            await stack.release()
            raise
        self._stack = stack

    async def stop(self) -> None:
        """Stop scanning."""
        stack, self._stack = self._stack, None
        if stack is None:
            return
        stack.device.remove_listener(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        try:
            await stack.stop_scanning()
        finally:
            await stack.release()

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        name: str | None = None
        tx_power: int | None = None
        manufacturer: dict[int, bytes] = {}
        service_data: dict[str, bytes] = {}
        uuids: list[str] = []
        for ad_type, value in advertisement.data.ad_structures:
            if ad_type == _AD_MANUFACTURER and len(value) >= 2:
                manufacturer[int.from_bytes(value[:2], "little")] = bytes(value[2:])
            elif ad_type in _AD_UUID128:
                uuids += [
                    bleak_uuid(core.UUID.from_bytes(value[i : i + 16])) for i in range(0, len(value), 16)
                ]
            elif ad_type in _AD_UUID16:
                uuids += [bleak_uuid(core.UUID.from_bytes(value[i : i + 2])) for i in range(0, len(value), 2)]
            elif ad_type in (_AD_SHORT_NAME, _AD_COMPLETE_NAME):
                name = bytes(value).decode("utf-8", "replace")
            elif ad_type == _AD_TX_POWER and value:
                tx_power = int.from_bytes(value[:1], "little", signed=True)
            elif ad_type == _AD_SERVICE_DATA16 and len(value) >= 2:
                service_data[bleak_uuid(core.UUID.from_bytes(value[:2]))] = bytes(value[2:])
        if not self.is_allowed_uuid(uuids):
            return
        adv = AdvertisementData(
            name, manufacturer, service_data, uuids, tx_power, advertisement.rssi, (advertisement,)
        )
        address = advertisement.address
        details = self._details.get(address)
        if details is None:
            details = self._details[address] = HciDevice(self._spec, address)
        text = address.to_string(with_type_qualifier=False)
        device = self.create_or_update_device(text, text, name, details, adv)
        self.call_detection_callbacks(device, adv)


# ---- client ----------------------------------------------------------------------------------------------


class HciBleakClient(BaseBleakClient):
    """GATT client through a bumble host; `hci_transport` defaults to the scanned device's."""

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        hci_transport: str | None = None,
        services: set[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        details = address_or_ble_device.details if isinstance(address_or_ble_device, BLEDevice) else None
        peer = None
        if isinstance(details, HciDevice):
            hci_transport = hci_transport or details.hci_transport
            peer = details.address
        if not hci_transport:
            raise ValueError("HciBleakClient needs hci_transport= (or a BLEDevice from HciBleakScanner)")
        # A bare address is taken as random (static): what bracelets use.
        self._peer_address = peer or hci.Address(self.address, hci.Address.RANDOM_DEVICE_ADDRESS)
        self._spec = hci_transport
        self._service_filter = services
        self._name = address_or_ble_device.name if isinstance(address_or_ble_device, BLEDevice) else None
        self._stack: HciStack | None = None
        self._connection: Connection | None = None
        self._peer: Peer | None = None

    @property
    def name(self) -> str:
        """The device's advertised name if known, else the address with dashes."""
        return self._name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        """The ATT MTU of the link (23 when not connected)."""
        return self._connection.att_mtu if self._connection is not None else DEFAULT_ATT_MTU

    @property
    def is_connected(self) -> bool:
        """Whether the LE link is up."""
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, discover services, characteristics and descriptors (and pair if asked)."""
        if self._connection is not None:
            return
        stack = await HciStack.acquire(self._spec)
        try:
            try:
                connection = await stack.device.connect(self._peer_address, timeout=self._timeout)
            except (core.TimeoutError, TimeoutError, core.ConnectionError) as exc:
                raise BleakDeviceNotFoundError(
                    self.address, f"cannot connect to {self.address}: {exc}"
                ) from None
            self._stack, self._connection = stack, connection
            connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
            peer = self._peer = Peer(connection)
            async with asyncio.timeout(self._timeout):
                if pair:
                    await connection.pair()
                await self._discover(peer)
        except BaseException:
            await self._close()
            raise

    async def _discover(self, peer: Peer) -> None:
        collection = BleakGATTServiceCollection()
        for service in await peer.discover_services():
            service_uuid = bleak_uuid(service.uuid)
            if self._service_filter is not None and service_uuid not in self._service_filter:
                continue
            bleak_service = BleakGATTService(service, service.handle, service_uuid)
            collection.add_service(bleak_service)
            for characteristic in await service.discover_characteristics():
                props = [name for flag, name in _PROPERTY_NAMES if characteristic.properties & flag]
                bleak_char = BleakGATTCharacteristic(
                    characteristic,
                    characteristic.handle,
                    bleak_uuid(characteristic.uuid),
                    cast(list[CharacteristicPropertyName], props),
                    lambda: self.mtu_size - 3,
                    bleak_service,
                )
                collection.add_characteristic(bleak_char)
                for descriptor in await characteristic.discover_descriptors():
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor, descriptor.handle, bleak_uuid(descriptor.type), bleak_char
                        )
                    )
        self.services = collection

    async def disconnect(self) -> None:
        """Disconnect (the disconnected callback is only for links lost unasked)."""
        connection = self._connection
        if connection is not None:
            connection.remove_listener(connection.EVENT_DISCONNECTION, self._on_disconnection)
            with contextlib.suppress(Exception):
                await connection.disconnect()
        await self._close()

    async def _close(self) -> None:
        stack, self._stack = self._stack, None
        self._connection = None
        self._peer = None
        if stack is not None:
            await stack.release()

    def _on_disconnection(self, reason: int) -> None:
        log.info("link to %s lost: HCI reason 0x%02x", self.address, reason)
        self._connection = None
        self._peer = None
        stack, self._stack = self._stack, None
        if stack is not None:
            task = asyncio.get_running_loop().create_task(stack.release())
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pair (bumble's SMP: LE Secure Connections where the peer supports it)."""
        if self._connection is None:
            raise BleakError("Not connected")
        await self._connection.pair()

    async def unpair(self) -> None:
        """Bonds live in bumble's key store, which this backend does not keep: nothing to remove."""
        log.debug("no bond store; unpair ignored for %s", self.address)

    # ---- GATT ------------------------------------------------------------------------------------------

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def _call(self, operation: Any) -> Any:
        try:
            return await operation
        except att.ATT_Error as exc:
            raise BleakGATTProtocolError(exc.error_code) from exc
        except core.BaseBumbleError as exc:
            raise BleakError(f"{self.address}: {exc}") from exc

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a characteristic's value."""
        peer = self._require_peer()
        return bytearray(await self._call(peer.read_value(characteristic.obj)))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a descriptor's value."""
        peer = self._require_peer()
        return bytearray(await self._call(peer.read_value(descriptor.obj)))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        """Write a characteristic; a refused write with response raises BleakGATTProtocolError."""
        peer = self._require_peer()
        await self._call(peer.write_value(characteristic.obj, bytes(data), with_response=response))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        """Write a descriptor (with response)."""
        peer = self._require_peer()
        await self._call(peer.write_value(descriptor.obj, bytes(data), with_response=True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Enable notifications (or indications if that is all it has); `callback` gets bytearrays."""
        peer = self._require_peer()

        def deliver(value: bytes) -> None:
            callback(bytearray(value))

        await self._call(peer.subscribe(characteristic.obj, deliver, prefer_notify=True))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Disable notifications."""
        peer = self._require_peer()
        await self._call(peer.unsubscribe(characteristic.obj))
