"""Conformance of a bracelet (simulated or real, over HCI) to docs/PROTOCOL.md and docs/CONSOLE.md.

- `observations`: what was seen (adverts, GATT layout and values, notifications, console answers);
- `advert_checks`, `gatt_checks`, `console_checks`: pure checks, observations -> CheckResult (`results`);
- `probe` (bleak over edge.hci_backend) and `console_link` (pyserial): the I/O that gathers observations;
- `suite.run_conformance`: gather, then judge; `junit`: JUnit XML; `cli`: `qmon sim conformance`.

docs/CONFORMANCE.md lists every check with its tolerance.
"""
