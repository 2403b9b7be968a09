"""The `edge` click command: settings errors without secrets, and the decision line format."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from edge.cli import edge_command, format_decision
from edge.decision import Decision
from gateway.protocol import EventType
from tests.unit.edge.builders import DEVICE_ID, T0


def test_invalid_settings_are_reported_without_the_key(tmp_path: Path) -> None:
    almost_a_key = "6e1f0a9c4b2d87e3f5a1c0b9d8e7f6a"  # 31 digits
    config = tmp_path / "edge.yaml"
    config.write_text(f"site_id: site-a\nbracelets:\n  - device_id: '0000a001'\n    key: '{almost_a_key}'\n")

    result = CliRunner().invoke(edge_command, ["--config", str(config), "--ble-backend", "virtual"])

    assert result.exit_code == 1
    assert "bracelets.0.key" in result.output and "ble: Value error" in result.output
    assert almost_a_key not in result.output


def test_the_hci_backend_needs_a_valid_transport(tmp_path: Path) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text("site_id: site-a\n")

    missing = CliRunner().invoke(edge_command, ["--config", str(config), "--ble-backend", "hci"])
    garbled = CliRunner().invoke(
        edge_command, ["--config", str(config), "--ble-backend", "hci", "--hci-transport", "dongle please"]
    )

    assert missing.exit_code == garbled.exit_code == 1
    assert "hci_transport" in missing.output and "hci_transport" in garbled.output


def test_help_names_the_options() -> None:
    result = CliRunner().invoke(edge_command, ["--help"])

    assert result.exit_code == 0
    for option in ("--config", "--site-id", "--mqtt-url", "--ble-backend", "--hci-transport", "--radio"):
        assert option in result.output
    assert edge_command.name == "edge"


def test_a_decision_is_one_readable_line() -> None:
    line = format_decision(Decision(DEVICE_ID, EventType.LEFT_HOME, T0, {"rssi": -93.2, "exit_rssi": -90.0}))

    assert line == '2027-01-15T08:00:00.000Z 0000a001 left_home        {"exit_rssi":-90.0,"rssi":-93.2}'
