"""Simulated quarantine bracelets for testers and for every test of the project.

- `bracelet.SimBracelet`: one bracelet (battery, sensors, signed adverts, GATT server), pure, clock passed in.
- `radio.RadioModel`: the log-distance path-loss channel; `world.World`: every bracelet over one clock,
  adverts to subscribed receivers, GATT links.
- `households`: households as data (YAML/JSON, `households/demo.yaml`); `population.generate_population`:
  N generated households with scripted violations and their ground truth.
- `bleak_backend`: `VirtualBleakScanner` / `VirtualBleakClient` for bleak's `backend=`, over `inproc:NAME`
  or `tcp://127.0.0.1:PORT`; `server.RadioServer`: that TCP radio for other processes.
- `runner.run_sim` / `runner.running_world` and `cli.sim_command` (`qmon sim`) run it all.
- `bumble`: the same bracelets on Google's bumble BLE stack, their receiver exposed as HCI (pty or TCP) like
  a USB HCI-UART dongle; `console`: each bracelet's AT serial console (pty, `socket://`, `rfc2217://`);
  `camera`: simulated room cameras for the facility pipeline.
"""
