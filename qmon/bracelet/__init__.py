"""The bracelet's over-the-air protocol (docs/PROTOCOL.md), shared by the simulator and the edge agent."""
