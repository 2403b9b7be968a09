"""`RadioLink`: bumble's in-process link between controllers, with firmware_sim's radio model on it.

bumble's stock `LocalLink` hands every advertising PDU to every other controller, each of which then
reports it with RSSI -50: the cost grows with N^2 and the RSSI says nothing. Here a PDU goes only to the
receivers (edge-side controllers) that are scanning or initiating a connection, each report gets an RSSI
from the log-distance model of firmware_sim/radio.py for that transmitter/receiver pair, and lost or
out-of-range packets are dropped; a connection whose events stop getting through (out of range, dropout)
times out after the model's supervision timeout. CONNECT_IND goes to the one controller it is addressed
to, and ACL data finds its destination by address in a dict instead of a scan over every controller.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bumble import hci, ll
from bumble.link import LocalLink

from firmware_sim.radio import Channel, RadioModel

if TYPE_CHECKING:
    from bumble.controller import Controller

    from firmware_sim.bumble.receiver import ReceiverController


_NO_ADDRESS = hci.Address("00:00:00:00:00:00")


@dataclass(slots=True)
class Position:
    """Where a transmitter or receiver is, metres; a transmitter `outside` its home gets the wall loss."""

    x: float = 0.0
    y: float = 0.0
    outside: bool = False


@dataclass(slots=True)
class Transmitter:
    """A bracelet's radio as the link sees it: position, 1 m power and whether it is in a dropout."""

    position: Position
    measured_power: Callable[[], int]
    scan_response: Callable[[], bytes]
    in_dropout: bool = False


@dataclass(slots=True)
class LinkStats:
    """Advertising PDUs sent by transmitters, and what became of them at receivers that were listening."""

    sent: int = 0
    delivered: int = 0
    lost: int = 0
    links_timed_out: int = 0


class RadioLink(LocalLink):
    """A LocalLink whose advertising channel follows a RadioModel (seeded, so runs reproduce)."""

    def __init__(self, model: RadioModel | None = None, rng: random.Random | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.model = model or RadioModel()
        self._channel = Channel(self.model, rng or random.Random(0))
        self._transmitters: dict[Controller, Transmitter] = {}
        self._receivers: dict[ReceiverController, Position] = {}
        self._by_address: dict[hci.Address, Controller] = {}
        self._link_heard: dict[tuple[Controller, hci.Address], float] = {}
        self.stats = LinkStats()

    # ---- membership ------------------------------------------------------------------------------------

    def add_transmitter(self, controller: Controller, transmitter: Transmitter) -> None:
        """Put a bracelet's controller on the link (it must already be on it as a controller)."""
        self._transmitters[controller] = transmitter

    def add_receiver(self, controller: ReceiverController, position: Position) -> None:
        """Put an edge-side controller on the link at `position`."""
        self._receivers[controller] = position

    def remove_controller(self, controller: Controller) -> None:
        """Take a controller off the link."""
        super().remove_controller(controller)
        self._transmitters.pop(controller, None)
        self._receivers.pop(controller, None)  # type: ignore[call-overload]
        for address in [a for a, c in self._by_address.items() if c is controller]:
            del self._by_address[address]

    def on_address_changed(self, controller: Controller) -> None:
        """Index the controller by its new random address (and its public one, if it has one)."""
        for address in [a for a, c in self._by_address.items() if c is controller]:
            del self._by_address[address]
        for address in (controller.random_address, controller.public_address):
            if address != _NO_ADDRESS:
                self._by_address[address] = controller

    def find_le_controller(self, address: hci.Address) -> Controller | None:
        """The controller that owns `address` (dict lookup; bumble's own scans every controller)."""
        controller = self._by_address.get(address)
        return controller if controller is not None else super().find_le_controller(address)

    # ---- the air ---------------------------------------------------------------------------------------

    def distance(self, transmitter: Transmitter, receiver: Position) -> float:
        """Metres between a transmitter and a receiver."""
        here = transmitter.position
        return math.hypot(here.x - receiver.x, here.y - receiver.y)

    def send_advertising_pdu(self, sender_controller: Controller, packet: ll.AdvertisingPdu) -> None:
        """Deliver an advertising-channel PDU: adverts to listening receivers, CONNECT_IND to its target."""
        loop = asyncio.get_running_loop()
        if isinstance(packet, ll.ConnectInd):
            target = self.find_le_controller(packet.advertiser_address)
            if target is not None:
                loop.call_soon(target.on_ll_advertising_pdu, packet)
            return
        transmitter = self._transmitters.get(sender_controller)
        if transmitter is None or not isinstance(packet, ll.AdvInd | ll.AdvExtInd):
            return  # receivers do not advertise; other PDU kinds are not simulated
        self.stats.sent += 1
        power = None
        for receiver, position in self._receivers.items():
            if not receiver.listening:
                continue
            if power is None:
                power = transmitter.measured_power()
            rssi = self._channel.sample(
                power,
                self.distance(transmitter, position),
                transmitter.position.outside,
                transmitter.in_dropout,
            )
            if rssi is None:
                self.stats.lost += 1
                continue
            self.stats.delivered += 1
            loop.call_soon(receiver.on_air_advert, packet, transmitter.scan_response(), rssi)

    # ---- connections -----------------------------------------------------------------------------------

    def supervise_links(self, now: float) -> None:
        """Drop the connections that had no good connection event for the model's supervision timeout.

        One draw per connection per call (`Channel.link_holds`, the same test the in-process world uses);
        a link out of range or in a dropout times out on both sides with reason 0x08, as on the air.
        """
        timeout = self.model.link_timeout_s
        alive: set[tuple[Controller, hci.Address]] = set()
        for controller, transmitter in self._transmitters.items():
            for connection in list(controller.le_connections.values()):
                key = (controller, connection.peer_address)
                alive.add(key)
                central = self.find_le_controller(connection.peer_address)
                position = self._receivers.get(central) if central is not None else None  # type: ignore[call-overload]
                holds = position is not None and self._channel.link_holds(
                    transmitter.measured_power(),
                    self.distance(transmitter, position),
                    transmitter.position.outside,
                    transmitter.in_dropout,
                )
                last = self._link_heard.setdefault(key, now)
                if holds:
                    self._link_heard[key] = now
                elif now - last > timeout:
                    self._time_out(controller, connection, central)
                    alive.discard(key)
        for key in [k for k in self._link_heard if k not in alive]:
            del self._link_heard[key]

    def _time_out(self, peripheral: Controller, connection: Any, central: Controller | None) -> None:
        self.stats.links_timed_out += 1
        reason = hci.HCI_CONNECTION_TIMEOUT_ERROR
        if central is not None:
            peer = central.le_connections.get(connection.self_address)
            if peer is not None:
                central.on_le_disconnected(peer, reason)
        peripheral.on_le_disconnected(connection, reason)
