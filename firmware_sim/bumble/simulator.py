"""`BumbleSimulator`: N simulated bracelets on bumble's BLE stack, and receivers an edge reaches over HCI.

    async with BumbleSimulator.build(count=10, seed=1) as sim:
        port = await sim.open_hci("pty")        # or "tcp:0"
        print(port.host_spec)                   # serial:/dev/pts/7,1000000 -> the edge's ble.hci_transport
        sim.move(device_id, x=12.0, y=0.0)      # RSSI at the receiver follows the distance

Every bracelet is a bumble Device (host + virtual controller) advertising docs/PROTOCOL.md's bytes and
serving its GATT layout; all share one RadioLink. A receiver is a ReceiverController on the same link
whose HCI side is a pty or a TCP socket on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

from firmware_sim.bracelet import SimBracelet
from firmware_sim.bumble.faults import Nonconformity
from firmware_sim.bumble.link import Position, RadioLink
from firmware_sim.bumble.peripheral import BumblePeripheral
from firmware_sim.bumble.ports import HciPort, open_port
from firmware_sim.bumble.receiver import ReceiverController
from firmware_sim.households import derive_key
from firmware_sim.radio import RadioModel
from qmon.bracelet.advert import format_device_id
from qmon.bracelet.gatt import BraceletConfig

Clock = Callable[[], float]
TICK_S = 0.5  # how often links are supervised and connected bracelets send their due notifications
FIRST_DEVICE_ID = 0x0000B000


@dataclass(frozen=True, slots=True)
class BraceletSpec:
    """One bracelet to simulate: id, key and where it stands relative to the receivers."""

    device_id: int
    key: bytes
    position: Position


def ring_layout(count: int, seed: int, *, min_m: float = 1.0, max_m: float = 12.0) -> list[BraceletSpec]:
    """`count` bracelets with keys derived from `seed`, spread min_m..max_m around the origin."""
    specs = []
    for i in range(count):
        device_id = FIRST_DEVICE_ID + i
        distance = min_m + (max_m - min_m) * ((i * 0.618034) % 1.0)
        angle = 2.0 * math.pi * i / max(count, 1)
        position = Position(distance * math.cos(angle), distance * math.sin(angle))
        specs.append(BraceletSpec(device_id, derive_key(seed, device_id), position))
    return specs


class BumbleSimulator:
    """Simulated bracelets as bumble peripherals on a RadioLink, with receivers exposed over HCI."""

    def __init__(
        self,
        bracelets: Sequence[BraceletSpec],
        *,
        model: RadioModel | None = None,
        seed: int = 0,
        clock: Clock = time.time,
        adv_interval_ms: int | None = None,
        nonconforming: Nonconformity | None = None,
    ) -> None:
        self.clock = clock
        self.link = RadioLink(model, random.Random(seed))
        now = clock()
        config = None if adv_interval_ms is None else BraceletConfig(adv_interval_ms=adv_interval_ms)
        self.peripherals: dict[str, BumblePeripheral] = {}
        for spec in bracelets:
            bracelet = SimBracelet(
                spec.device_id, spec.key, now=now, config=config, rng=random.Random(seed ^ spec.device_id)
            )
            self.peripherals[format_device_id(spec.device_id)] = BumblePeripheral(
                bracelet, self.link, spec.position, clock, nonconforming
            )
        self.receivers: list[ReceiverController] = []
        self._ports: list[HciPort] = []
        self._ticker: asyncio.Task[None] | None = None

    @classmethod
    def build(cls, count: int, seed: int = 0, **kwargs: object) -> BumbleSimulator:
        """A simulator of `count` bracelets laid out by `ring_layout`."""
        return cls(ring_layout(count, seed), seed=seed, **kwargs)  # type: ignore[arg-type]

    def keys(self) -> dict[str, bytes]:
        """Every bracelet's key by device id (hex), for the edge's settings."""
        return {d: p.bracelet.key for d, p in self.peripherals.items()}

    # ---- life cycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Power on every bracelet and start advertising."""
        await asyncio.gather(*(p.start() for p in self.peripherals.values()))
        self._ticker = asyncio.get_running_loop().create_task(self._tick_forever(), name="bumble-sim-tick")

    async def stop(self) -> None:
        """Stop the bracelets and close the HCI ports."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for port in self._ports:
            await port.close()
        self._ports.clear()
        await asyncio.gather(*(p.stop() for p in self.peripherals.values()), return_exceptions=True)

    async def __aenter__(self) -> BumbleSimulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def open_hci(self, spec: str, position: Position | None = None) -> HciPort:
        """A receiver at `position` (default: the origin) whose HCI is 'pty' or 'tcp:PORT' (0: free port)."""
        port = await open_port(spec)
        receiver = ReceiverController(
            f"receiver-{len(self.receivers) + 1}",
            host_source=port.transport.source,
            host_sink=port.transport.sink,
            link=self.link,
        )
        self.link.add_receiver(receiver, position or Position())
        self.receivers.append(receiver)
        self._ports.append(port)
        return port

    # ---- the world -------------------------------------------------------------------------------------

    def move(self, device_id: str, x: float, y: float, outside: bool | None = None) -> None:
        """Put bracelet `device_id` at (x, y) metres (and inside or outside its home)."""
        position = self.peripherals[device_id].position
        position.x, position.y = x, y
        if outside is not None:
            position.outside = outside

    def set_dropout(self, device_id: str, on: bool) -> None:
        """Start or end a dropout: nothing from the bracelet is received meanwhile."""
        self.peripherals[device_id].transmitter.in_dropout = on

    async def _tick_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(TICK_S)
            self.link.supervise_links(loop.time())
            for peripheral in self.peripherals.values():
                if peripheral.bracelet.links:
                    peripheral.tick()
