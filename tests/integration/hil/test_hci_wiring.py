"""The pieces of the HCI path on their own: settings, backend choice, hand-built HCI events, the link."""

from __future__ import annotations

import subprocess
import sys

import pytest
from bleak import BleakScanner
from bumble import hci
from pydantic import ValidationError

from edge.backends import scanner_factory_for
from edge.hci_backend import HciBleakScanner
from edge.settings import BleSettings
from firmware_sim.bumble.receiver import _EXT_SCAN_RSP, encode_extended_report, encode_legacy_report

ADDRESS = hci.Address("C5:1A:00:00:C0:01", hci.Address.RANDOM_DEVICE_ADDRESS)
DATA = bytes.fromhex("020106")


@pytest.mark.parametrize(
    "transport",
    [
        "serial:/dev/ttyACM0,1000000",
        "serial:/dev/ttyACM0,1000000,rtscts",
        "tcp-client:127.0.0.1:7701",
        "usb:0",
    ],
)
def test_hci_backend_takes_dongle_and_simulator_transports(transport: str) -> None:
    assert BleSettings(backend="hci", hci_transport=transport).hci_transport == transport


@pytest.mark.parametrize("transport", [None, "pty", "tcp-server:0.0.0.0:7701", "serial:ttyACM0"])
def test_hci_backend_refuses_missing_or_odd_transports(transport: str | None) -> None:
    with pytest.raises(ValidationError):
        BleSettings(backend="hci", hci_transport=transport)


def test_hci_backend_is_chosen_by_settings() -> None:
    build = scanner_factory_for(BleSettings(backend="hci", hci_transport="tcp-client:127.0.0.1:7701"))
    scanner = build(lambda device, adv: None)
    assert isinstance(scanner, BleakScanner)
    assert isinstance(scanner._backend, HciBleakScanner)


def test_bumble_is_loaded_only_when_hci_is_chosen() -> None:
    code = (
        "import sys; from edge.backends import scanner_factory_for; from edge.settings import BleSettings; "
        "scanner_factory_for(BleSettings(backend='virtual', radio='inproc:x')); "
        "print('bumble' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_hand_built_reports_are_the_bytes_bumble_would_send() -> None:
    ext = hci.HCI_LE_Extended_Advertising_Report_Event
    report = ext.Report(
        event_type=_EXT_SCAN_RSP,
        address_type=ADDRESS.address_type,
        address=ADDRESS,
        primary_phy=hci.Phy.LE_1M,
        secondary_phy=0,
        advertising_sid=0xFF,
        tx_power=127,
        rssi=-83,
        periodic_advertising_interval=0,
        direct_address_type=0,
        direct_address=hci.Address.ANY,
        data=DATA,
    )
    assert encode_extended_report(ADDRESS, _EXT_SCAN_RSP, DATA, -83) == bytes(ext([report]))
    legacy = hci.HCI_LE_Advertising_Report_Event
    expected = legacy([legacy.Report(event_type=0, address_type=1, address=ADDRESS, data=DATA, rssi=-40)])
    assert encode_legacy_report(ADDRESS, 0, DATA, -40) == bytes(expected)
