"""The edge agent: reads bracelets over BLE, decides presence and vitals events, hands them to the uplink.

Pure core (decoder, gate, presence, calibration, vitals, tracker) apart from the I/O (monitor, maintenance,
backends, state, agent, cli); see docs/ARCHITECTURE.md.
"""
