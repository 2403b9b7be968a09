"""`BumblePeripheral`: one simulated bracelet as a bumble BLE peripheral (host, controller, GATT server).

The bracelet model (firmware_sim.bracelet.SimBracelet) decides what is said; bumble's host says it over
HCI to its own virtual controller, as firmware would: the advertising data and scan response are the
bytes qmon.bracelet.advert builds (docs/PROTOCOL.md section 1), refreshed with a new counter every
advertising interval, and the GATT server is the layout of firmware_sim.gatt_layout (section 2) whose
reads, writes and notifications go to the model.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from bumble import att, hci, ll
from bumble.device import Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.transport.common import AsyncPipeSink

from firmware_sim.bracelet import AttError, SimBracelet
from firmware_sim.bumble.faults import (
    ADVERT_FAULTS,
    MISSING_SERVICE_UUID,
    Nonconformity,
    advertising_interval_ms,
    distort_advertising_data,
)
from firmware_sim.bumble.link import Position, RadioLink, Transmitter
from firmware_sim.bumble.quiet import QuietController, QuietHost
from firmware_sim.gatt_layout import BRACELET_LAYOUT, CharacteristicSpec
from firmware_sim.world import ble_address
from qmon.bracelet.advert import build_advertising_data, build_scan_response
from qmon.bracelet.gatt import CONFIGURATION, QUARANTINE_SERVICE, STATUS

log = logging.getLogger(__name__)

STOP_GRACE_S = 1.0
_COMPLETE_DATA = hci.HCI_LE_Set_Extended_Advertising_Data_Command.Operation.COMPLETE_DATA
_NO_FRAGMENT = hci.HCI_LE_Set_Extended_Advertising_Parameters_Command.SHOULD_NOT_FRAGMENT

Clock = Callable[[], float]

_PROPERTIES = {
    "read": Characteristic.Properties.READ,
    "write": Characteristic.Properties.WRITE,
    "write-without-response": Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
    "notify": Characteristic.Properties.NOTIFY,
    "indicate": Characteristic.Properties.INDICATE,
}


def _set_advertising_data(handle: int, data: bytes) -> hci.HCI_LE_Set_Extended_Advertising_Data_Command:
    """LE Set Extended Advertising Data (complete data), with its parameters packed here.

    Given the packed parameters, bumble skips its generic field serializer, the dearest part of sending
    a command (this runs once per advertising event per bracelet).
    """
    command = hci.HCI_LE_Set_Extended_Advertising_Data_Command(
        advertising_handle=handle,
        operation=_COMPLETE_DATA,
        fragment_preference=_NO_FRAGMENT,
        advertising_data=data,
    )
    command.parameters = bytes([handle, _COMPLETE_DATA, _NO_FRAGMENT, len(data)]) + data
    return command


class BraceletController(QuietController):
    """A bumble virtual controller that tells its host after each advertising event.

    Firmware updates the advertising data in the radio's "advertising done" notification so that every
    event carries a new counter; `after_advert` is that hook.
    """

    after_advert: Callable[[], None] | None = None

    def send_advertising_pdu(self, packet: Any) -> None:
        """Send the PDU on the link, then call the hook (adverts only, not CONNECT_IND)."""
        super().send_advertising_pdu(packet)
        if self.after_advert is not None and not isinstance(packet, ll.ConnectInd):
            self.after_advert()


class BumblePeripheral:
    """A SimBracelet on the air through a bumble Device on `link` at `position`.

    `nonconforming` breaks the protocol on purpose in one way (firmware_sim.bumble.faults), for showing
    that the conformance suite catches it; None (the default) is a conforming bracelet.
    """

    def __init__(
        self,
        bracelet: SimBracelet,
        link: RadioLink,
        position: Position,
        clock: Clock,
        nonconforming: Nonconformity | None = None,
    ) -> None:
        self.bracelet = bracelet
        self.nonconforming = nonconforming
        self._advert_fault = nonconforming if nonconforming in ADVERT_FAULTS else None
        self.position = position
        self.address = ble_address(bracelet.device_id)
        self._clock = clock
        self._link = link
        self._scan_response = build_scan_response(bracelet.device_id, QUARANTINE_SERVICE)
        self.controller = BraceletController(f"bracelet-{bracelet.name}", link=link)
        self.controller.after_advert = self._after_advert
        self.device = Device(
            address=hci.Address(self.address, hci.Address.RANDOM_DEVICE_ADDRESS),
            host=QuietHost(self.controller, AsyncPipeSink(self.controller)),
        )
        self.transmitter = Transmitter(
            position, lambda: self.bracelet.advertised_power_dbm, self._scan_response_on_air
        )
        link.add_transmitter(self.controller, self.transmitter)
        self._characteristics: dict[str, Characteristic[Any]] = {}
        self._uuids: dict[int, str] = {}  # id(characteristic) -> the layout's UUID spelling
        self._unsubscribe: dict[str, Callable[[], None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.adverts = 0  # advertisements handed to the controller (each goes on air once)
        self._add_gatt_services()
        self.device.on("characteristic_subscription", self._on_subscription)
        self.device.on("connection", self._on_connection)

    async def start(self) -> None:
        """Power the stack on and start advertising (restarted after every disconnection)."""
        await self.device.power_on()
        interval = advertising_interval_ms(self.bracelet.config.adv_interval_ms, self.nonconforming)
        await self.device.start_advertising(
            auto_restart=True,
            advertising_data=self._next_advertising_data(),
            scan_response_data=self._scan_response,
            advertising_interval_min=interval,
            advertising_interval_max=interval,
        )

    async def stop(self) -> None:
        """Stop advertising and leave the link (commands in flight finish first)."""
        self.controller.after_advert = None
        for advertising_set in self.controller.advertising_sets.values():
            advertising_set.stop()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=STOP_GRACE_S)
        for task in list(self._tasks):
            task.cancel()
        self._link.remove_controller(self.controller)

    async def refresh_advert(self) -> None:
        """Hand the controller the next advertisement (new counter, current state), as firmware does."""
        advertising_set = self.device.legacy_advertising_set
        if advertising_set is None:
            return
        data = self._next_advertising_data()
        await self.device.send_sync_command(_set_advertising_data(advertising_set.advertising_handle, data))
        advertising_set.advertising_data = data
        self.adverts += 1

    def tick(self) -> None:
        """Send the periodic notifications that are due (only does work while someone subscribes)."""
        self.bracelet.tick(self._clock())

    # ---- internals -------------------------------------------------------------------------------------

    def _scan_response_on_air(self) -> bytes:
        # What the host set in the controller over HCI (the link sends it to active scanners).
        for advertising_set in self.controller.advertising_sets.values():
            return bytes(advertising_set.scan_response_data)
        return b""

    def _after_advert(self) -> None:
        self._spawn(self.refresh_advert())

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _next_advertising_data(self) -> bytes:
        data = build_advertising_data(self.bracelet.advertisement(self._clock()))
        if self._advert_fault is None:
            return data
        return distort_advertising_data(data, self._advert_fault)

    def _add_gatt_services(self) -> None:
        services = []
        for service_spec in BRACELET_LAYOUT:
            if (
                self.nonconforming is Nonconformity.MISSING_SERVICE
                and service_spec.uuid == MISSING_SERVICE_UUID
            ):
                continue
            characteristics = []
            for spec in service_spec.characteristics:
                properties = Characteristic.Properties(0)
                for name in spec.properties:
                    properties |= _PROPERTIES[name]
                permissions = Characteristic.Permissions(0)
                if spec.readable:
                    permissions |= Characteristic.Permissions.READABLE
                if spec.writable:
                    permissions |= Characteristic.Permissions.WRITEABLE
                characteristic: Characteristic[Any] = Characteristic(
                    spec.uuid,
                    properties,
                    permissions,
                    CharacteristicValue(read=self._reader(spec), write=self._writer(spec)),
                )
                self._characteristics[spec.uuid] = characteristic
                self._uuids[id(characteristic)] = spec.uuid
                characteristics.append(characteristic)
            services.append(Service(service_spec.uuid, characteristics))
        self.device.add_services(services)

    def _reader(self, spec: CharacteristicSpec) -> Callable[[Any], bytes]:
        def read(connection: Any) -> bytes:
            try:
                return self.bracelet.gatt_read(spec.uuid, self._clock())
            except AttError as exc:
                raise att.ATT_Error(exc.code) from None

        return read

    def _writer(self, spec: CharacteristicSpec) -> Callable[[Any, bytes], None]:
        def write(connection: Any, value: bytes) -> None:
            try:
                self.bracelet.gatt_write(spec.uuid, bytes(value), self._clock())
            except AttError as exc:
                raise att.ATT_Error(exc.code) from None
            if spec.uuid == CONFIGURATION:
                self._spawn(self.apply_advertising_interval())

        return write

    async def apply_advertising_interval(self) -> None:
        """Give the controller the configured advertising interval, as firmware does after a configuration
        write: the parameters change while advertising is off (it is, during the connection that wrote
        them; otherwise it is stopped and restarted around the change)."""
        advertising_set = self.device.legacy_advertising_set
        if advertising_set is None:
            return
        interval = advertising_interval_ms(self.bracelet.config.adv_interval_ms, self.nonconforming)
        parameters = advertising_set.advertising_parameters
        if parameters.primary_advertising_interval_min == interval:
            return
        restart = advertising_set.enabled
        if restart:
            await advertising_set.stop()
        await advertising_set.set_advertising_parameters(
            dataclasses.replace(
                parameters,
                primary_advertising_interval_min=interval,
                primary_advertising_interval_max=interval,
            )
        )
        if restart:
            await advertising_set.start()

    def _on_connection(self, connection: Any) -> None:
        self.bracelet.links += 1

        def on_disconnection(reason: int) -> None:
            self.bracelet.links = max(0, self.bracelet.links - 1)
            for unsubscribe in self._unsubscribe.values():  # a CCCD does not outlive an unbonded link
                unsubscribe()
            self._unsubscribe.clear()

        connection.on("disconnection", on_disconnection)

    def _on_subscription(
        self, connection: Any, characteristic: Characteristic[Any], notify: bool, indicate: bool
    ) -> None:
        uuid = self._uuids.get(id(characteristic))
        if uuid is None:
            return  # a GATT-service characteristic bumble added (Service Changed): nothing to simulate
        previous = self._unsubscribe.pop(uuid, None)
        if previous is not None:
            previous()
        if self.nonconforming is Nonconformity.NO_STATUS_NOTIFICATIONS and uuid == STATUS:
            return  # the CCCD write is accepted, but nothing is ever sent
        if notify or indicate:
            self._unsubscribe[uuid] = self.bracelet.subscribe(uuid, self._sender(characteristic, indicate))

    def _sender(self, characteristic: Characteristic[Any], indicate: bool) -> Callable[[bytes], None]:
        def send(value: bytes) -> None:
            if indicate:
                self._spawn(self.device.indicate_subscribers(characteristic, value))
            else:
                self._spawn(self.device.notify_subscribers(characteristic, value))

        return send
