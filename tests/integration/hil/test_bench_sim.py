"""`qmon bench sim --json` at a test's scale: both simulators in their own processes, the edge over HCI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from qmon.bench.cli import bench_command

pytestmark = pytest.mark.timeout(60)

ARGS = ["--bumble-bracelets", "20", "--virtual-bracelets", "200", "--window", "3", "--warmup", "1"]


def test_bench_sim_prints_cpu_and_hci_delivery_figures() -> None:
    result = CliRunner().invoke(bench_command, ["sim", "--json", *ARGS])

    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["bumble_bracelets"] == 20
    assert figures["virtual_bracelets"] == 200
    assert 0 < figures["bumble_cpu_percent"] < 100
    assert 0 < figures["virtual_cpu_percent"] < 100
    # 20 bracelets at 1 Hz, minus what the radio model drops
    assert 5 < figures["hci_adverts_per_s_received_by_edge"] <= 25
    assert 0 < figures["hci_delivery_ratio"] <= 1
    assert figures["hci_delivery_ratio"] >= figures["hci_ratio_incl_radio_model_loss"] > 0
    assert figures["hci_adverts_received_by_edge"] > 0
    assert "delivered" in figures["hci_delivery_basis"]
    assert figures["virtual_reports_received"] > 0
    assert isinstance(figures["targets_met"], bool)
    assert set(figures["targets"]) >= {"bumble_cpu_percent_below", "hci_delivery_ratio_at_least"}
