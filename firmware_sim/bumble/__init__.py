"""Simulated bracelets on Google's bumble BLE stack, reached over HCI like a USB HCI-UART dongle.

- `peripheral.BumblePeripheral`: one SimBracelet as a bumble Device (advertising + GATT server).
- `link.RadioLink`: the shared link; adverts go only to listening receivers, with modelled RSSI and loss.
- `receiver.ReceiverController`: the edge-side controller reporting what the link measured.
- `ports`: its HCI side on a pty or 127.0.0.1 TCP; `simulator.BumbleSimulator` puts it all together;
  `python -m firmware_sim.bumble` runs it. The edge's side is edge.hci_backend (`ble.backend: hci`).
- `faults.Nonconformity`: deliberate protocol violations (`--nonconforming KIND`) for the conformance suite
  (firmware_sim.conformance) to catch.
"""
