"""`ReceiverController`: the edge-side virtual controller, the one a host drives over HCI.

bumble's virtual controller turns every advertising PDU into two reports with RSSI -50, the second a
"scan response" that repeats the advertising data. This one reports what RadioLink measured: the advert
with the modelled RSSI and, when the host scans actively, the transmitter's real scan response bytes,
with the event types a BLE 5 controller gives legacy PDUs (legacy extended reports or legacy reports,
whichever scan commands the host used).
"""

from __future__ import annotations

import asyncio
import struct

from bumble import hci, ll

from firmware_sim.bumble.quiet import QuietController

_Ext = hci.HCI_LE_Extended_Advertising_Report_Event
_Legacy = hci.HCI_LE_Advertising_Report_Event
_EXT_ADV_IND = (
    _Ext.EventType.CONNECTABLE_ADVERTISING
    | _Ext.EventType.SCANNABLE_ADVERTISING
    | _Ext.EventType.LEGACY_ADVERTISING_PDU_USED
)
_EXT_SCAN_RSP = _EXT_ADV_IND | _Ext.EventType.SCAN_RESPONSE
_ACTIVE = 1  # scan type of both the legacy and the extended scan-parameter commands
_EXT_SUBEVENT = 0x0D
_LEGACY_SUBEVENT = 0x02
_NO_TX_POWER = 127
_EXT_HEAD = struct.Struct("<BBHB")  # subevent, number of reports, event type, address type
_EXT_TAIL = struct.Struct("<BBBbbHB")  # PHYs, SID, TX power, RSSI, periodic interval, direct address type


def encode_extended_report(address: hci.Address, event_type: int, data: bytes, rssi: int) -> bytes:
    """One-report HCI LE Extended Advertising Report event, as bytes on the wire (Core 7.7.65.13).

    Built by hand: bumble's generic field serializer costs more than everything else per report.
    """
    parameters = (
        _EXT_HEAD.pack(_EXT_SUBEVENT, 1, event_type, address.address_type)
        + bytes(address)
        + _EXT_TAIL.pack(hci.Phy.LE_1M, 0, 0xFF, _NO_TX_POWER, rssi, 0, 0)
        + bytes(6)  # direct address: none
        + bytes([len(data)])
        + data
    )
    return bytes([hci.HCI_EVENT_PACKET, hci.HCI_LE_META_EVENT, len(parameters)]) + parameters


def encode_legacy_report(address: hci.Address, event_type: int, data: bytes, rssi: int) -> bytes:
    """One-report HCI LE Advertising Report event, as bytes on the wire (Core 7.7.65.2)."""
    parameters = (
        bytes([_LEGACY_SUBEVENT, 1, event_type, address.address_type])
        + bytes(address)
        + bytes([len(data)])
        + data
        + struct.pack("<b", rssi)
    )
    return bytes([hci.HCI_EVENT_PACKET, hci.HCI_LE_META_EVENT, len(parameters)]) + parameters


class ReceiverController(QuietController):
    """A controller that receives adverts from RadioLink with their modelled RSSI."""

    _extended_scan = True
    _active_scan = True

    @property
    def listening(self) -> bool:
        """Whether this controller wants advertising PDUs: scanning, or waiting to connect."""
        return self.le_scan_enable or self.pending_le_connection is not None

    def on_air_advert(self, pdu: ll.AdvInd | ll.AdvExtInd, scan_response: bytes, rssi: int) -> None:
        """An advert (and its scan response) received at `rssi` dBm."""
        address = pdu.advertiser_address
        if self.le_scan_enable:
            if self._extended_scan:
                self._send_extended(address, _EXT_ADV_IND, pdu.data, rssi)
                if self._active_scan:
                    self._send_extended(address, _EXT_SCAN_RSP, scan_response, rssi)
            else:
                self._send_legacy(address, _Legacy.EventType.ADV_IND, pdu.data, rssi)
                if self._active_scan:
                    self._send_legacy(address, _Legacy.EventType.SCAN_RSP, scan_response, rssi)
        pending = self.pending_le_connection
        if pending is not None and pending.peer_address == address:
            self.create_le_connection(address)

    def _send_extended(self, address: hci.Address, event_type: int, data: bytes, rssi: int) -> None:
        self._send_raw(encode_extended_report(address, event_type, data, rssi))

    def _send_legacy(self, address: hci.Address, event_type: int, data: bytes, rssi: int) -> None:
        self._send_raw(encode_legacy_report(address, event_type, data, rssi))

    def _send_raw(self, packet: bytes) -> None:
        if self.host:
            asyncio.get_running_loop().call_soon(self.host.on_packet, packet)

    # ---- scan commands: remember which kind and whether active (bumble's base drops the type) ----------

    def on_hci_le_set_scan_parameters_command(
        self, command: hci.HCI_LE_Set_Scan_Parameters_Command
    ) -> hci.HCI_StatusReturnParameters:
        """Legacy scan parameters: legacy reports from now on."""
        result = super().on_hci_le_set_scan_parameters_command(command)
        self._extended_scan = False
        self._active_scan = command.le_scan_type == _ACTIVE
        return result

    def on_hci_le_set_extended_scan_parameters_command(
        self, command: hci.HCI_LE_Set_Extended_Scan_Parameters_Command
    ) -> hci.HCI_StatusReturnParameters:
        """Extended scan parameters: extended reports; active if the first PHY scans actively."""
        result = super().on_hci_le_set_extended_scan_parameters_command(command)
        self._extended_scan = True
        self._active_scan = bool(command.scan_types) and command.scan_types[0] == _ACTIVE
        return result
