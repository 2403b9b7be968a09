"""Test-only adapters at the edge agent's ports: a bleak scanner backend fed by the test, a bleak client
backend over an in-memory bracelet GATT server, and an uplink that records what it is given."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError, BleakGATTProtocolError

from gateway.protocol import (
    CommandMessage,
    EventMessage,
    EventType,
    SnapshotMessage,
    TelemetryMessage,
    utc_from_timestamp,
)
from qmon.bracelet import gatt
from qmon.bracelet.advert import Flags
from qmon.bracelet.gatt import BraceletConfig, GattValueError, StatusValue

# ---- scanner ---------------------------------------------------------------------------------------------


class AdvertFeed:
    """What the test "transmits": every started FeedScanner receives it."""

    def __init__(self) -> None:
        self.scanners: list[FeedScanner] = []
        self.starts = 0

    def send(
        self, address: str, rssi: int, manufacturer_data: Mapping[int, Any], name: str | None = None
    ) -> None:
        """Deliver one advertisement report to every scanning scanner."""
        for scanner in list(self.scanners):
            scanner.deliver(address, rssi, dict(manufacturer_data), name)


class FeedScanner(BaseBleakScanner):
    """A bleak scanner backend (the port bleak's BleakScanner facade drives) fed by an AdvertFeed."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        feed: AdvertFeed,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self.feed = feed
        self.backend_kwargs = kwargs  # bluez=..., cb=... from the facade

    async def start(self) -> None:
        self.seen_devices = {}
        self.feed.starts += 1
        self.feed.scanners.append(self)

    async def stop(self) -> None:
        if self in self.feed.scanners:
            self.feed.scanners.remove(self)

    def deliver(self, address: str, rssi: int, manufacturer_data: dict[int, Any], name: str | None) -> None:
        adv = AdvertisementData(
            local_name=name,
            manufacturer_data=manufacturer_data,
            service_data={},
            service_uuids=[],
            tx_power=None,
            rssi=rssi,
            platform_data=(),
        )
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        device = self.create_or_update_device(address, address, name, None, adv)
        self.call_detection_callbacks(device, adv)


# ---- client ----------------------------------------------------------------------------------------------


@dataclass
class FakePeripheral:
    """An in-memory bracelet GATT server."""

    config: BraceletConfig = field(default_factory=BraceletConfig)
    battery: int = 77
    device_time_ms: int | None = None
    fail_connects: int = 0
    connects: int = 0
    connected: bool = False
    writes: list[tuple[str, bytes]] = field(default_factory=list)
    info: dict[str, bytes] = field(
        default_factory=lambda: {
            gatt.MANUFACTURER_NAME: b"qmon",
            gatt.MODEL_NUMBER: b"QB-1",
            gatt.SERIAL_NUMBER: b"SN-0001",
            gatt.FIRMWARE_REVISION: b"1.2.3",
        }
    )

    def read(self, char_uuid: str) -> bytes:
        if char_uuid == gatt.BATTERY_LEVEL:
            return gatt.encode_battery_level(self.battery)
        if char_uuid == gatt.CONFIGURATION:
            return gatt.encode_config(self.config)
        if char_uuid in self.info:
            return self.info[char_uuid]
        raise BleakGATTProtocolError(0x02)

    def write(self, char_uuid: str, data: bytes) -> None:
        self.writes.append((char_uuid, data))
        try:
            if char_uuid == gatt.CONFIGURATION:
                self.config = gatt.decode_config(data)
            elif char_uuid == gatt.TIME_SYNC:
                self.device_time_ms = gatt.decode_time(data)
            else:
                raise BleakGATTProtocolError(0x03)
        except GattValueError as exc:
            raise BleakGATTProtocolError(exc.att_error) from exc

    def status(self) -> bytes:
        return gatt.encode_status(
            StatusValue(
                counter=1,
                flags=Flags.STRAP_CLOSED | Flags.SKIN_CONTACT,
                battery_pct=self.battery,
                heart_rate_bpm=70,
                skin_temp_c=36.5,
                device_time=(self.device_time_ms or 0) // 1000,
            )
        )


_LAYOUT: dict[str, list[tuple[str, list[str]]]] = {
    gatt.DEVICE_INFORMATION_SERVICE: [
        (gatt.MANUFACTURER_NAME, ["read"]),
        (gatt.MODEL_NUMBER, ["read"]),
        (gatt.SERIAL_NUMBER, ["read"]),
        (gatt.FIRMWARE_REVISION, ["read"]),
    ],
    gatt.BATTERY_SERVICE: [(gatt.BATTERY_LEVEL, ["read"])],
    gatt.QUARANTINE_SERVICE: [
        (gatt.STATUS, ["read", "notify"]),
        (gatt.CONFIGURATION, ["read", "write"]),
        (gatt.TIME_SYNC, ["read", "write"]),
    ],
}


class FakeBraceletClient(BaseBleakClient):
    """A bleak client backend (the port bleak's BleakClient facade drives) over FakePeripherals by address."""

    def __init__(
        self, address_or_ble_device: BLEDevice | str, *, peripherals: dict[str, FakePeripheral], **kwargs: Any
    ):
        super().__init__(
            address_or_ble_device,
            disconnected_callback=kwargs.pop("disconnected_callback", None),
            timeout=10.0,
        )
        self._peripheral = peripherals.get(self.address)
        self._notify: dict[int, NotifyCallback] = {}

    @property
    def name(self) -> str:
        return "fake bracelet"

    @property
    def mtu_size(self) -> int:
        return 23

    @property
    def is_connected(self) -> bool:
        return self._peripheral is not None and self._peripheral.connected

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        peripheral = self._peripheral
        if peripheral is None:
            raise BleakError(f"device {self.address} not found")
        peripheral.connects += 1
        if peripheral.fail_connects > 0:
            peripheral.fail_connects -= 1
            raise BleakError("connection failed to be established")
        peripheral.connected = True
        services = BleakGATTServiceCollection()
        handle = 1
        for service_uuid, chars in _LAYOUT.items():
            service = BleakGATTService(None, handle, service_uuid)
            services.add_service(service)
            handle += 1
            for char_uuid, props in chars:
                services.add_characteristic(
                    BleakGATTCharacteristic(None, handle, char_uuid, props, lambda: 20, service)  # type: ignore[arg-type]
                )
                handle += 2
        self.services = services

    async def disconnect(self) -> None:
        if self._peripheral is not None:
            self._peripheral.connected = False
        self._notify.clear()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    async def unpair(self) -> None:
        raise NotImplementedError

    def _require(self) -> FakePeripheral:
        if self._peripheral is None or not self._peripheral.connected:
            raise BleakError("not connected")
        return self._peripheral

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, **kwargs: Any) -> bytearray:
        return bytearray(self._require().read(characteristic.uuid))

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, **kwargs: Any) -> bytearray:
        raise BleakGATTProtocolError(0x02)

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        self._require().write(characteristic.uuid, bytes(data))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        raise BleakGATTProtocolError(0x03)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        peripheral = self._require()
        self._notify[characteristic.handle] = callback
        callback(bytearray(peripheral.status()))  # a first notification right away

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._notify.pop(characteristic.handle, None)


# ---- uplink ----------------------------------------------------------------------------------------------


class FakeUplink:
    """Records events (with per-device sequence numbers) and telemetry batches."""

    def __init__(self, site_id: str = "site-a") -> None:
        self.site_id = site_id
        self.events: list[EventMessage] = []
        self.telemetry: list[TelemetryMessage] = []
        self._seq: dict[str, int] = {}

    def emit_event(
        self, device_id: str, type: EventType, time: float, data: Mapping[str, Any]
    ) -> EventMessage:
        seq = self._seq[device_id] = self._seq.get(device_id, 0) + 1
        message = EventMessage(
            v=1,
            event_id=uuid.uuid4(),
            site_id=self.site_id,
            device_id=device_id,
            seq=seq,
            type=type,
            time=utc_from_timestamp(time),
            data=dict(data),
        )
        self.events.append(message)
        return message

    def emit_room_event(
        self, room_id: str, type: EventType, time: float, data: Mapping[str, Any]
    ) -> EventMessage:
        subject = f"room:{room_id}"
        seq = self._seq[subject] = self._seq.get(subject, 0) + 1
        message = EventMessage(
            v=1,
            event_id=uuid.uuid4(),
            site_id=self.site_id,
            room_id=room_id,
            seq=seq,
            type=type,
            time=utc_from_timestamp(time),
            data=dict(data),
        )
        self.events.append(message)
        return message

    def emit_telemetry(self, message: TelemetryMessage) -> None:
        self.telemetry.append(message)

    def types(self, device_id: str | None = None) -> list[EventType]:
        """Event types so far (of one device)."""
        return [e.type for e in self.events if device_id is None or e.device_id == device_id]

    def room_types(self, room_id: str) -> list[EventType]:
        """Event types so far about one room."""
        return [e.type for e in self.events if e.room_id == room_id]


class FakeCommandLink:
    """The CommandLink port: the test delivers the hub's commands; the answers are kept in `sent`."""

    def __init__(self, connected: bool = True) -> None:
        self.connected = connected
        self.sent: list[SnapshotMessage] = []
        self._handlers: dict[object, Callable[[CommandMessage], None]] = {}

    def subscribe_commands(self, handler: Callable[[CommandMessage], None]) -> Callable[[], None]:
        token = object()
        self._handlers[token] = handler

        def unsubscribe() -> None:
            self._handlers.pop(token, None)

        return unsubscribe

    def send_snapshot(self, message: SnapshotMessage) -> bool:
        if self.connected:
            self.sent.append(message)
        return self.connected

    def deliver(self, command: CommandMessage) -> None:
        """What the uplink does with a valid command: call every handler (on the loop)."""
        for handler in list(self._handlers.values()):
            handler(command)

    @property
    def subscribed(self) -> bool:
        return bool(self._handlers)


def feed_scanner_factory(feed: AdvertFeed) -> Callable[[Callable[..., None]], Any]:
    """A scanner factory that goes through bleak's public BleakScanner facade with the FeedScanner backend."""
    from bleak import BleakScanner

    def build(callback: Callable[..., None]) -> BleakScanner:
        return BleakScanner(callback, backend=FeedScanner, feed=feed)

    return build
