"""bumble's Controller without the per-packet debug text when debug logging is off (Host: qmon.bumble_host).

bumble logs every HCI packet with `logger.debug(f"... {packet}")`: the f-string renders the whole packet
(fields, colours) even when nothing is logged, which was most of the simulator's CPU at 1,000 bracelets.
These subclasses skip that rendering unless bumble's logger is enabled for DEBUG (then they behave as
bumble's own). Nothing else changes.
"""

from __future__ import annotations

import asyncio
import logging

from bumble import controller as bumble_controller
from bumble import hci
from bumble.controller import Controller

from qmon.bumble_host import QuietHost

__all__ = ["QuietController", "QuietHost"]


class QuietController(Controller):
    """bumble's virtual Controller, minus the eager packet rendering."""

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        """Send a packet to the host."""
        if bumble_controller.logger.isEnabledFor(logging.DEBUG):
            super().send_hci_packet(packet)
        elif self.host:
            asyncio.get_running_loop().call_soon(self.host.on_packet, bytes(packet))

    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        """Dispatch a packet from the host."""
        if bumble_controller.logger.isEnabledFor(logging.DEBUG):
            super().on_hci_packet(packet)
        elif isinstance(packet, hci.HCI_Command):
            self.on_hci_command_packet(packet)
        elif isinstance(packet, hci.HCI_AclDataPacket):
            self.on_hci_acl_data_packet(packet)
        else:
            super().on_hci_packet(packet)
