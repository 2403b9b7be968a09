"""`qmon sim run`: the shipped scenario library passes through simulator, edge, broker and hub; a scenario
whose expectation never comes true fails; results come out as text, JSON and JUnit XML."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from qmon.cli import main
from qmon.scenario.cli import library_path, run_all
from qmon.scenario.model import load_scenario
from qmon.scenario.runner import RunOptions, run_scenario
from tests.support.services import MosquittoFactory

pytestmark = pytest.mark.slow

EVENT_TYPES_COVERED = {
    "left_home",
    "returned_home",
    "strap_opened",
    "strap_closed",
    "bracelet_removed",
    "signal_lost",
    "signal_restored",
    "battery_low",
    "battery_ok",
    "fever",
    "fever_cleared",
}


def test_the_scenario_library_passes() -> None:
    files = sorted(library_path().glob("*.yaml"))
    scenarios = [load_scenario(path) for path in files]
    # x15, two at a time: a loaded CI machine stalls the simulated clocks less (a stalled run is not judged)
    results = asyncio.run(run_all(scenarios, RunOptions(speed=15), jobs=2))
    failures = {
        r.scenario.name: r.error or [f"{v.name}: {v.detail}" for v in r.verdicts if not v.passed]
        for r in results
        if not r.passed
    }
    assert not failures
    # the library covers every bracelet event type and the hub going offline, and the traps
    decided = {e.type for r in results for e in r.events}
    assert decided >= EVENT_TYPES_COVERED
    alerts = {a.type for r in results for a in r.alerts}
    assert {
        "left_home",
        "tamper",
        "signal_lost",
        "battery_low",
        "battery_depleted",
        "fever",
        "hub_offline",
    } <= alerts
    names = {s.name for s in scenarios}
    assert {
        "stale-presence",
        "boundary-flapping",
        "short-dropouts",
        "battery-vs-strap",
        "hub-offline",
    } <= names


def _never_leaves(tmp_path: Path) -> Path:
    """A wearer who stays home, with a scenario that (wrongly) expects them to be reported out."""
    data = yaml.safe_load((library_path() / "stay-home.yaml").read_text())
    data["name"] = "expects-the-impossible"
    data["duration_s"] = 120
    for bracelet in data["households"][0]["bracelets"]:
        bracelet["path"] = [p for p in bracelet["path"] if p["t"] <= 120]
    data["expect"] = [
        {"alert": "left_home", "device": "0000f101", "after": 0, "by": 100},
        {"no_alert": "any"},
    ]
    path = tmp_path / "impossible.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_scenario_whose_alert_never_comes_fails(tmp_path: Path) -> None:
    path = _never_leaves(tmp_path)
    junit = tmp_path / "report.xml"
    result = CliRunner().invoke(main, ["sim", "run", str(path), "--speed", "30", "--junit", str(junit)])
    assert result.exit_code == 1, result.output
    assert "FAIL expects-the-impossible" in result.output
    assert "alert left_home for 0000f101 in [0, 100] s: it never arrived" in result.output
    assert "0 of 1 scenarios passed; failed: expects-the-impossible" in result.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "expects-the-impossible"
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failed = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["alert left_home for 0000f101 in [0, 100] s"]


def test_a_bad_scenario_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nduration_s: 10\nhouseholds: []\nexpect: [{no_alert: any}]\n")
    result = CliRunner().invoke(main, ["sim", "run", str(path)])
    assert result.exit_code == 2 and "bad.yaml" in result.output and "households" in result.output


def test_a_scenario_through_mosquitto_reports_json(
    tmp_path: Path, mosquitto_factory: MosquittoFactory
) -> None:
    broker = mosquitto_factory.start()
    scenario = load_scenario(library_path() / "radio-off.yaml")
    result = asyncio.run(run_scenario(scenario, RunOptions(speed=15, mqtt_url=broker.url, workdir=tmp_path)))
    assert result.passed, [f"{v.name}: {v.detail}" for v in result.verdicts if not v.passed] or result.error
    assert (tmp_path / "radio-off" / "hub.db").exists()
    runner = CliRunner()
    output = runner.invoke(
        main, ["sim", "run", str(library_path() / "charging.yaml"), "--json", "--mqtt-url", broker.url]
    )
    assert output.exit_code == 0, output.output
    (report,) = json.loads(output.output[output.output.index("[") :])
    assert report["scenario"] == "charging" and report["passed"] and len(report["verdicts"]) == 3
