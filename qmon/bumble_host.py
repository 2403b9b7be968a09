"""bumble's Host without the per-packet debug text when debug logging is off (the edge and the simulator).

bumble logs every HCI packet with `logger.debug(f"... {packet}")`: the f-string renders the whole packet
even when nothing is logged, which at a thousand adverts a second cost more than the rest of the stack.
`QuietHost` skips that rendering unless bumble's logger is enabled for DEBUG (then it behaves as bumble's
own). Imported only where bumble is used.
"""

from __future__ import annotations

import logging

from bumble import hci
from bumble import host as bumble_host
from bumble.host import Host


class QuietHost(Host):
    """bumble's Host, minus the eager packet rendering."""

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        """Send a packet to the controller."""
        if self.snooper or bumble_host.logger.isEnabledFor(logging.DEBUG):
            super().send_hci_packet(packet)
        elif self.hci_sink:
            self.hci_sink.on_packet(bytes(packet))

    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        """Dispatch a packet from the controller."""
        if self.snooper or bumble_host.logger.isEnabledFor(logging.DEBUG):
            super().on_hci_packet(packet)
        elif isinstance(packet, hci.HCI_Event):
            self.on_hci_event_packet(packet)
        elif isinstance(packet, hci.HCI_AclDataPacket):
            self.on_hci_acl_data_packet(packet)
        else:
            super().on_hci_packet(packet)
