"""Which bleak backend the monitor uses, chosen by settings; everything goes through bleak's public facade.

- "bluez": bleak's own platform backend (BlueZ over D-Bus on a Raspberry Pi), on `ble.adapter`.
- "virtual": firmware_sim's backend over its virtual radio, imported only when chosen so that a hub
  without the simulator installed never loads it.
- "hci": edge.hci_backend, bumble's host stack on `ble.hci_transport` (a USB HCI-UART dongle, or
  firmware_sim.bumble's simulator on a pty or TCP); imported only when chosen, like bumble itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.args.bluez import OrPattern
from bleak.assigned_numbers import AdvertisementDataType
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from edge.settings import BleSettings
from qmon.bracelet.advert import COMPANY_ID

DetectionCallback = Callable[[BLEDevice, AdvertisementData], None]
ScannerFactory = Callable[[DetectionCallback], BleakScanner]
ClientFactory = Callable[[BLEDevice | str], BleakClient]

VIRTUAL_BACKEND_MODULE = "firmware_sim.bleak_backend"
HCI_BACKEND_MODULE = "edge.hci_backend"

# BlueZ passive scanning needs an advertisement-monitor pattern: ours is manufacturer data starting with
# the company id, so the controller filters out the neighbours' phones before they reach Python.
_QMON_OR_PATTERN = OrPattern(
    0, AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA, COMPANY_ID.to_bytes(2, "little")
)


def _virtual_backends() -> tuple[Any, Any]:
    module = importlib.import_module(VIRTUAL_BACKEND_MODULE)
    return module.VirtualBleakScanner, module.VirtualBleakClient


def _hci_backends() -> tuple[Any, Any]:
    module = importlib.import_module(HCI_BACKEND_MODULE)
    return module.HciBleakScanner, module.HciBleakClient


def scanner_factory_for(ble: BleSettings) -> ScannerFactory:
    """A function that builds the BleakScanner the settings ask for, given the detection callback."""
    if ble.backend == "hci":
        hci_scanner_cls, _ = _hci_backends()

        def build_hci(callback: DetectionCallback) -> BleakScanner:
            return BleakScanner(
                callback,
                scanning_mode=ble.scanning_mode,
                backend=hci_scanner_cls,
                hci_transport=ble.hci_transport,
            )

        return build_hci

    if ble.backend == "virtual":
        scanner_cls, _ = _virtual_backends()
        # No receivers configured: listen with all of them (the backend's None), not with none.
        receivers = list(ble.receivers) or None

        def build_virtual(callback: DetectionCallback) -> BleakScanner:
            return BleakScanner(
                callback,
                scanning_mode=ble.scanning_mode,
                backend=scanner_cls,
                radio=ble.radio,
                receivers=receivers,
            )

        return build_virtual

    bluez: dict[str, Any] = {}
    if ble.adapter:
        bluez["adapter"] = ble.adapter
    if ble.scanning_mode == "passive":
        bluez["or_patterns"] = [_QMON_OR_PATTERN]

    def build_bluez(callback: DetectionCallback) -> BleakScanner:
        return BleakScanner(callback, scanning_mode=ble.scanning_mode, bluez=bluez)  # type: ignore[arg-type]

    return build_bluez


def client_factory_for(ble: BleSettings, timeout: float = 10.0) -> ClientFactory:
    """A function that builds a BleakClient for a device with the settings' backend."""
    if ble.backend == "hci":
        _, hci_client_cls = _hci_backends()

        def build_hci(device: BLEDevice | str) -> BleakClient:
            return BleakClient(
                device, timeout=timeout, backend=hci_client_cls, hci_transport=ble.hci_transport
            )

        return build_hci

    if ble.backend == "virtual":
        _, client_cls = _virtual_backends()
        # With one receiver it is the one; with several, the backend's default (the receiver that heard the
        # BLEDevice) is the better choice.
        receiver = ble.receivers[0] if len(ble.receivers) == 1 else None

        def build_virtual(device: BLEDevice | str) -> BleakClient:
            extra: dict[str, Any] = {"radio": ble.radio}
            if receiver is not None:
                extra["receiver"] = receiver
            return BleakClient(device, timeout=timeout, backend=client_cls, **extra)

        return build_virtual

    bluez: dict[str, Any] = {"adapter": ble.adapter} if ble.adapter else {}

    def build_bluez(device: BLEDevice | str) -> BleakClient:
        return BleakClient(device, timeout=timeout, bluez=bluez)  # type: ignore[arg-type]

    return build_bluez
