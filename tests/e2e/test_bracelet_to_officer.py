"""End to end: simulated households -> edge agent (bleak API) -> MQTT broker -> hub -> officers' live feeds.

The whole demo composition runs with a scenario that raises every kind of event, 10x faster than real time,
once on the embedded broker and once on a private Mosquitto with per-account passwords and the topic ACL.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from qmon.demo import HUB_MQTT_USER, SITE_ID, DemoOptions, DemoReport, demo_accounts, run_demo
from qmon.hub_client import AlertChange
from tests.support.services import MosquittoFactory

pytestmark = pytest.mark.slow

HOUSEHOLDS = Path(__file__).with_name("households.yaml")
PEOPLE = {
    "e2e-out": ("Out Walker", "ward-a", "1 A street"),
    "e2e-strap": ("Strap Opener", "ward-a", "2 A street"),
    "e2e-radio": ("Radio Off", "ward-a", "3 A street"),
    "e2e-fever": ("Fever Case", "ward-a", "4 A street"),
    "e2e-stay": ("Stays Home", "ward-a", "6 A street"),
    "e2e-battery": ("Battery Dies", "ward-b", "5 B street"),
}
EDGE = {
    "vitals.fever_sustain_s": 60,
    "vitals.fever_clear_s": 30,
    "presence.calibration.duration_s": 25,
    "presence.calibration.min_samples": 20,
}


def _run(tmp_path: Path, mqtt_url: str | None = None, accounts: dict[str, str] | None = None) -> DemoReport:
    import asyncio

    options = DemoOptions(
        speed=10.0,
        duration_s=34.0,
        households=HOUSEHOLDS,
        data_dir=tmp_path / "demo",
        seed=11,
        mqtt_url=mqtt_url,
        mqtt_accounts=accounts or {},
        people=PEOPLE,
        edge_overrides=EDGE,
    )
    lines: list[str] = []
    report = asyncio.run(run_demo(options, write=lines.append))
    (tmp_path / "demo.log").write_text("\n".join(lines))
    return report


def _changes(report: DemoReport, officer: str, device: str) -> list[AlertChange]:
    return [c for c in report.feeds.get(officer, []) if c.alert["device_id"] == device]


def _seen(
    changes: list[AlertChange], alert_type: str, check: Callable[[AlertChange], bool] = lambda c: True
) -> bool:
    return any(c.alert["type"] == alert_type and check(c) for c in changes)


def _assert_every_event_reached_its_officer(report: DemoReport) -> None:
    ward_a, ward_b = "officer-ward-a", "officer-ward-b"
    decided = {(d.device_id, d.type.value) for d in report.decisions}

    out = _changes(report, ward_a, "0000e001")
    assert {("0000e001", "left_home"), ("0000e001", "returned_home")} <= decided
    assert _seen(out, "left_home", lambda c: c.kind == "opened" and c.alert["active"])
    assert _seen(out, "left_home", lambda c: not c.alert["active"]), "returning home clears the alert"

    strap = _changes(report, ward_a, "0000e002")
    assert {("0000e002", "strap_opened"), ("0000e002", "bracelet_removed")} <= decided
    assert {("0000e002", "strap_closed"), ("0000e002", "bracelet_worn")} <= decided
    tamper = [c for c in strap if c.alert["type"] == "tamper"]
    assert tamper and len({c.alert["id"] for c in tamper}) == 1, "strap and removal are one incident"
    assert max(c.alert["event_count"] for c in tamper) >= 2
    assert not tamper[-1].alert["active"]

    radio = _changes(report, ward_a, "0000e003")
    assert {("0000e003", "signal_lost"), ("0000e003", "signal_restored")} <= decided
    assert _seen(radio, "signal_lost", lambda c: c.alert["active"])
    assert _seen(radio, "signal_lost", lambda c: not c.alert["active"])
    assert not _seen(radio, "left_home") and not _seen(radio, "battery_depleted")

    fever = _changes(report, ward_a, "0000e004")
    assert ("0000e004", "fever") in decided
    assert _seen(fever, "fever", lambda c: c.alert["active"])

    battery = _changes(report, ward_b, "0000e005")
    assert {("0000e005", "battery_low"), ("0000e005", "signal_lost")} <= decided
    assert _seen(battery, "battery_low")
    assert _seen(battery, "battery_depleted"), "a dead battery is not reported as tampering or an exit"
    assert not _seen(battery, "left_home") and not _seen(battery, "signal_lost")

    assert not _changes(report, ward_a, "0000e006"), "a person who stays home raises nothing"
    assert not any(d.device_id == "0000e006" for d in report.decisions)
    # per-ward isolation: each officer's feed holds only their own ward's alerts
    assert report.feeds[ward_a] and all(c.alert["ward_id"] == "ward-a" for c in report.feeds[ward_a])
    assert report.feeds[ward_b] and all(c.alert["ward_id"] == "ward-b" for c in report.feeds[ward_b])


def test_every_event_type_through_the_embedded_broker(tmp_path: Path) -> None:
    _assert_every_event_reached_its_officer(_run(tmp_path))


def test_every_event_type_through_mosquitto_with_acl(
    tmp_path: Path, mosquitto_factory: MosquittoFactory
) -> None:
    accounts = demo_accounts()
    broker = mosquitto_factory.start(accounts=accounts, hub_users=[HUB_MQTT_USER])
    assert SITE_ID in accounts
    _assert_every_event_reached_its_officer(_run(tmp_path, broker.url, accounts))
