"""`VirtualBleakScanner`: a bleak scanner backend that listens to a simulated world's receivers.

BleakScanner(callback, backend=VirtualBleakScanner, radio="inproc:demo", receivers=["hub-1"])
BleakScanner(callback, backend=VirtualBleakScanner, radio="tcp://127.0.0.1:7788")
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner

from firmware_sim.bleak_backend.transport import Radio, open_radio
from firmware_sim.world import AdvertReport

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VirtualDevice:
    """`BLEDevice.details` for a simulated bracelet: how a VirtualBleakClient can reach it."""

    radio: str
    receiver: str


class VirtualBleakScanner(BaseBleakScanner):
    """Scans a simulated world: radio 'inproc:NAME' or 'tcp://HOST:PORT', receivers = hub ids (None: all)."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        *,
        radio: str | None = None,
        receivers: Iterable[str] | None = None,
        bluez: Any = None,
        cb: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        if not radio:
            raise ValueError("VirtualBleakScanner needs radio='inproc:NAME' or radio='tcp://127.0.0.1:PORT'")
        self._radio_url = radio
        self._receivers = None if receivers is None else list(receivers)
        # Passive scanning sends no scan request, so the scan response (name, service UUID) never arrives.
        self._passive = scanning_mode == "passive"
        self._radio: Radio | None = None
        self._details: dict[str, VirtualDevice] = {}

    async def start(self) -> None:
        """Start receiving adverts (clears the devices seen before)."""
        if self._radio is not None:
            await self.stop()
        self.seen_devices = {}
        radio = await open_radio(self._radio_url)
        try:
            await radio.start_scan(self._receivers, self._on_report)
        except BaseException:
            await radio.close()
            raise
        self._radio = radio

    async def stop(self) -> None:
        """Stop receiving adverts."""
        radio, self._radio = self._radio, None
        if radio is not None:
            await radio.stop_scan()
            await radio.close()

    def _on_report(self, report: AdvertReport) -> None:
        if self._passive:
            name, uuids = None, []
        else:
            name, uuids = report.local_name, list(report.service_uuids)
        if not self.is_allowed_uuid(uuids):
            return
        adv = AdvertisementData(name, report.manufacturer_data, {}, uuids, None, report.rssi, (report,))
        details = self._details.get(report.receiver)
        if details is None:
            details = self._details[report.receiver] = VirtualDevice(self._radio_url, report.receiver)
        device = self.create_or_update_device(report.address, report.address, name, details, adv)
        self.call_detection_callbacks(device, adv)
