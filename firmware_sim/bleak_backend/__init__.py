"""A bleak backend over a simulated world: `backend=VirtualBleakScanner` / `backend=VirtualBleakClient`.

The radio is chosen per scanner or client with `radio="inproc:NAME"` (a World registered in this process
with `register_world`) or `radio="tcp://127.0.0.1:PORT"` (a RadioServer in another process). Scanners
take `receivers=[hub ids]` (default: every receiver); clients take `receiver=` (default: the receiver
that heard the BLEDevice passed in).
"""

from firmware_sim.bleak_backend.client import VirtualBleakClient
from firmware_sim.bleak_backend.registry import lookup_world, register_world
from firmware_sim.bleak_backend.scanner import VirtualBleakScanner, VirtualDevice
from firmware_sim.bleak_backend.transport import RadioError

__all__ = [
    "RadioError",
    "VirtualBleakClient",
    "VirtualBleakScanner",
    "VirtualDevice",
    "lookup_world",
    "register_world",
]
