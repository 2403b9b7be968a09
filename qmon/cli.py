"""The `qmon` command: one entry point; each part's command lives beside its code and is loaded lazily."""

from __future__ import annotations

import logging

import click

from qmon.lazy_group import LazyGroup

# name -> (module, attribute): importing only the part that runs keeps start-up fast and lets an edge box
# run without the hub's dependencies being imported.
COMMANDS = {
    "demo": (
        "qmon.demo",
        "demo_command",
        "Run the whole system on embedded defaults and watch alerts arrive.",
    ),
    "hub": ("cloud.cli", "hub_command", "Run the cloud hub: MQTT ingest, rules, alerts, REST API and SSE."),
    "users": ("cloud.cli", "users_command", "Manage officer accounts of the hub."),
    "edge": ("edge.cli", "edge_command", "Run an edge agent: bracelets over BLE, room cameras, events out."),
    "sim": ("firmware_sim.cli", "sim_command", "Run simulated bracelets on a virtual radio."),
    "models": ("edge.camera.cli", "models_command", "Fetch and check the camera's ONNX models."),
    "camera": (
        "edge.camera.cli",
        "camera_command",
        "Facility-room cameras: enroll a face, take a blurred snapshot.",
    ),
    "broker": ("qmon.broker_cli", "broker_command", "Run the embedded MQTT broker or print Mosquitto's ACL."),
    "bench": ("qmon.bench.cli", "bench_command", "Benchmarks that print JSON."),
}


@click.group(cls=LazyGroup, lazy_commands=COMMANDS)
@click.option("--log-level", default="WARNING", show_default=True, help="Python logging level.")
@click.version_option(package_name="qmon")
def main(log_level: str) -> None:
    """qmon: quarantine monitoring from bracelet to ward officer."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


if __name__ == "__main__":
    main()
