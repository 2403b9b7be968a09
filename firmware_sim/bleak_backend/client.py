"""`VirtualBleakClient`: a bleak client backend that opens GATT links to simulated bracelets.

BleakClient(device, backend=VirtualBleakClient)   # a BLEDevice from VirtualBleakScanner
BleakClient("C5:1A:00:00:A0:01", backend=VirtualBleakClient, radio="inproc:demo", receiver="hub-1")
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError, BleakGATTProtocolErrorCode

from firmware_sim.bleak_backend.scanner import VirtualDevice
from firmware_sim.bleak_backend.services import build_service_collection
from firmware_sim.bleak_backend.transport import Radio, RadioError, RemoteLink, open_radio
from firmware_sim.bracelet import AttError
from firmware_sim.gatt_layout import CharacteristicSpec
from firmware_sim.world import LinkError
from qmon.bracelet.gatt import CCCD

log = logging.getLogger(__name__)

DEFAULT_ATT_MTU = 23


class VirtualBleakClient(BaseBleakClient):
    """GATT client for a simulated bracelet; `radio`/`receiver` default to the scanned device's details."""

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        radio: str | None = None,
        receiver: str | None = None,
        services: set[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        details = address_or_ble_device.details if isinstance(address_or_ble_device, BLEDevice) else None
        if isinstance(details, VirtualDevice):
            radio = radio or details.radio
            receiver = receiver or details.receiver
        if not radio or not receiver:
            raise ValueError(
                "VirtualBleakClient needs radio= and receiver= (or a BLEDevice from VirtualBleakScanner)"
            )
        self._radio_url = radio
        self._receiver = receiver
        self._service_filter = services
        self._radio: Radio | None = None
        self._link: RemoteLink | None = None
        self._name = address_or_ble_device.name if isinstance(address_or_ble_device, BLEDevice) else None
        self._closing: set[asyncio.Task[None]] = set()

    # ---- connection ------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The bracelet's name (`QB` + device id) once known, else the address with dashes."""
        if self._link is not None:
            return self._link.name
        return self._name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        """The ATT MTU of the link (23 when not connected)."""
        return self._link.mtu if self._link is not None and self._link.connected else DEFAULT_ATT_MTU

    @property
    def is_connected(self) -> bool:
        """Whether the GATT link is up."""
        return self._link is not None and self._link.connected

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Open the link and discover services (simulated bracelets need no pairing: `pair` is ignored)."""
        if self.is_connected:
            return
        radio = await open_radio(self._radio_url, self._timeout)
        try:
            async with asyncio.timeout(self._timeout):
                link = await radio.connect(self.address, self._receiver, self._on_lost)
        except LinkError as exc:
            await radio.close()
            raise BleakDeviceNotFoundError(self.address, f"cannot connect to {self.address}: {exc}") from None
        except BaseException:
            await radio.close()
            raise
        self._radio = radio
        self._link = link
        self._name = link.name
        self.services = build_service_collection(link.layout, lambda: self.mtu_size, self._service_filter)

    async def disconnect(self) -> None:
        """Close the link (the disconnected callback is only for links lost unasked)."""
        link, self._link = self._link, None
        radio, self._radio = self._radio, None
        if link is not None:
            with contextlib.suppress(LinkError, RadioError):
                await link.disconnect()
        if radio is not None:
            await radio.close()
        if self._closing:  # a radio closed after a link loss: finish that before returning
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Simulated bracelets authenticate their adverts with a key, not by pairing: nothing to do."""
        log.debug("pairing is not simulated; ignored for %s", self.address)

    async def unpair(self) -> None:
        """Nothing to unpair (see pair)."""
        log.debug("pairing is not simulated; unpair ignored for %s", self.address)

    def _on_lost(self, reason: str) -> None:
        log.info("link to %s lost: %s", self.address, reason)
        radio, self._radio = self._radio, None
        if radio is not None:  # called from inside the radio's own reader: close it from a new task
            task = asyncio.get_running_loop().create_task(radio.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    # ---- GATT ------------------------------------------------------------------------------------------

    def _require_link(self) -> RemoteLink:
        if self._link is None or not self._link.connected:
            raise BleakError("Not connected")
        return self._link

    async def _call(self, operation: Any) -> Any:
        try:
            return await operation
        except AttError as exc:
            raise BleakGATTProtocolError(exc.code) from exc
        except (LinkError, RadioError) as exc:
            raise BleakError(f"{self.address}: {exc}") from exc

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a characteristic (there is no cache: every read goes to the bracelet)."""
        link = self._require_link()
        return bytearray(await self._call(link.read(characteristic.uuid)))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a descriptor: the bracelet's only descriptors are CCCDs."""
        link = self._require_link()
        spec = descriptor.obj
        if descriptor.uuid != CCCD or not isinstance(spec, CharacteristicSpec):
            raise BleakGATTProtocolError(BleakGATTProtocolErrorCode.READ_NOT_PERMITTED)
        value = spec.cccd_enable_value if link.subscribed(spec.uuid) else 0
        return bytearray(value.to_bytes(2, "little"))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        """Write a characteristic; a refused write with response raises BleakGATTProtocolError."""
        link = self._require_link()
        await self._call(link.write(characteristic.uuid, bytes(data), response))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        """Descriptors other than CCCDs do not exist here, and bleak itself refuses CCCD writes."""
        self._require_link()
        raise BleakGATTProtocolError(BleakGATTProtocolErrorCode.WRITE_NOT_PERMITTED)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Enable notifications or indications; `callback` gets each value as a bytearray."""
        link = self._require_link()

        def deliver(value: bytes) -> None:
            callback(bytearray(value))

        await self._call(link.start_notify(characteristic.uuid, deliver))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Disable notifications."""
        link = self._require_link()
        await self._call(link.stop_notify(characteristic.uuid))
