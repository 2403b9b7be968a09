"""End to end: simulated room cameras -> facility edge agent (camera pipeline with the repository's YuNet;
SFace for identity) -> MQTT broker -> hub -> the facility ward officer's live feed and alert list.

The demo composition runs with short scenes and short dwell times, 4x faster than real time: the occupancy
and camera-health rooms once on the embedded broker and once on a private Mosquitto with per-account
passwords and the topic ACL, the unknown-face room (it needs SFace) on the embedded broker. Meanwhile the
facility's officer handles each camera fault once the camera sees again, as on duty, so that each time the
camera goes blind and recovers is an incident of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edge.camera.enrollment import EnrollmentStore, embed_photo
from edge.camera.identity import SFaceEmbedder
from firmware_sim.camera import RoomScene
from qmon.demo import (
    FACILITY_SITE_ID,
    HUB_MQTT_USER,
    DemoOptions,
    DemoReport,
    FacilityOptions,
    demo_accounts,
    run_demo,
)
from qmon.hub_client import AlertChange, HubClient
from tests.support.camera import photo, yunet
from tests.support.services import MosquittoFactory, require

pytestmark = pytest.mark.slow

SPEED = 4.0
TIMEOUT_S = 60.0  # real seconds; each run stops as soon as every expected alert change has arrived
HOUSEHOLDS = Path(__file__).with_name("facility_households.yaml")
PEOPLE = {"e2e-home": ("Stays Home", "ward-home", "1 Home street")}
WARD = "ward-facility"
OFFICER = f"officer-{WARD}"
OTHER_OFFICERS = ("officer-ward-home", "officer-phuc-xa")  # the household's ward and the demo's default one
# Dwell times in simulated seconds, short enough for short scenes (the edge's defaults are up to a minute).
DWELLS: dict[str, object] = {
    "absent_after_s": 10,
    "present_after_s": 2,
    "crowd_after_s": 5,
    "normal_after_s": 5,
    "unknown_after_s": 3,
    "unknown_clear_s": 3,
    "health.blind_after_s": 2,
    "health.frozen_after_s": 4,
    "health.ok_after_s": 2,
}
# room-a: the resident is out 4-20 s (person_absent at ~14 s, cleared at ~22 s), a visitor stays 28-40 s
# (occupancy_exceeded at ~33 s, cleared at ~45 s).
OCCUPANCY_ROOM = RoomScene.model_validate(
    {
        "id": "room-a",
        "duration_s": 60,
        "seed": 11,
        "timeline": [
            {"t": 4, "person": "out"},
            {"t": 20, "person": "in"},
            {"t": 28, "visitor": "in"},
            {"t": 40, "visitor": "out"},
        ],
    }
)
# room-b: the lens is covered 4-12 s, the lights are off 22-30 s, the feed freezes 40-50 s: a camera fault
# at ~6, ~24 and ~44 s, each cleared ~2 s after the camera sees again, with ~10 s to handle it in between.
CAMERA_ROOM = RoomScene.model_validate(
    {
        "id": "room-b",
        "duration_s": 64,
        "seed": 12,
        "timeline": [
            {"t": 4, "lens": "covered"},
            {"t": 12, "lens": "clear"},
            {"t": 22, "lights": "off"},
            {"t": 30, "lights": "on"},
            {"t": 40, "feed": "frozen"},
            {"t": 50, "feed": "live"},
        ],
    }
)
# room-c: the enrolled resident (the astronaut) leaves at 6 s and someone else (the cameraman) takes her
# place until 20 s: unknown_face at ~9 s, cleared at ~23 s; she is back at 22 s.
IDENTITY_ROOM = RoomScene.model_validate(
    {
        "id": "room-c",
        "duration_s": 40,
        "seed": 13,
        "resident": "astronaut",
        "visitor": "cameraman",
        "timeline": [
            {"t": 6, "person": "out"},
            {"t": 6, "visitor": "in"},
            {"t": 20, "visitor": "out"},
            {"t": 22, "person": "in"},
        ],
    }
)
RESIDENTS: dict[str, tuple[str, ...]] = {
    "room-a": ("Room A Resident",),
    "room-b": ("Room B Resident",),
    "room-c": ("Room C Resident",),
}
BLIND_CAUSES = ["covered", "dark", "frozen"]


@pytest.fixture(scope="module")
def sface_model() -> Path:
    """SFace as `qmon models fetch` puts it in the models directory (fetched if missing)."""
    from edge.camera.fetch import fetch_sface

    try:
        return fetch_sface()
    except Exception as exc:  # network, disk, checksum
        require(False, f"SFace ({exc}; run `qmon models fetch`)")
        raise


@pytest.fixture
def enrolled_faces(tmp_path: Path, sface_model: Path) -> Path:
    """room-c's enrolled face, the astronaut's, from a photo as `qmon camera enroll` takes it."""
    faces = tmp_path / "faces"
    embedding, _ = embed_photo(photo("astronaut"), yunet(), SFaceEmbedder(sface_model))
    EnrollmentStore(faces).add(IDENTITY_ROOM.id, embedding)
    return faces


def _facility(
    scenes: list[RoomScene],
    room_overrides: dict[str, object] = DWELLS,
    edge_overrides: dict[str, object] | None = None,
) -> FacilityOptions:
    return FacilityOptions(
        scenes=scenes,
        ward=WARD,
        residents=RESIDENTS,
        room_overrides=dict(room_overrides),
        edge_overrides=edge_overrides or {},
    )


def _run(
    tmp_path: Path,
    facility: FacilityOptions,
    until: Callable[[DemoReport], bool],
    mqtt_url: str | None = None,
    accounts: dict[str, str] | None = None,
) -> tuple[DemoReport, dict[str, list[dict[str, Any]]]]:
    options = DemoOptions(
        speed=SPEED,
        duration_s=TIMEOUT_S,
        households=HOUSEHOLDS,
        data_dir=tmp_path / "demo",
        seed=3,
        mqtt_url=mqtt_url,
        mqtt_accounts=accounts or {},
        people=PEOPLE,
        facility=facility,
    )
    lines: list[str] = []
    try:
        return asyncio.run(_drive(options, lines.append, until))
    finally:
        (tmp_path / "demo.log").write_text("\n".join(lines))


async def _drive(
    options: DemoOptions, write: Callable[[str], None], until: Callable[[DemoReport], bool]
) -> tuple[DemoReport, dict[str, list[dict[str, Any]]]]:
    """Run the demo with the facility's officer on duty until `until` holds; then every officer's alert
    list over the API, read before the demo stops."""
    report, stop = DemoReport(), asyncio.Event()
    demo = asyncio.create_task(run_demo(options, write, stop, report))
    clients: dict[str, HubClient] = {}
    handled: set[int] = set()
    try:
        while not demo.done() and not until(report):
            await asyncio.sleep(0.1)
            if not clients and report.hub_url is not None:
                for name in (OFFICER, *OTHER_OFFICERS):
                    clients[name] = await HubClient.sign_in(report.hub_url, name, report.passwords[name])
            if clients:
                await _handle_recovered_cameras(clients[OFFICER], report, handled)
        if demo.done():
            await demo  # the demo's own failure, if it failed
            pytest.fail(f"not every expected alert reached the officer within {TIMEOUT_S:g} s: see demo.log")
        lists = {name: await client.alerts(limit=500) for name, client in clients.items()}
    finally:
        stop.set()
        for client in clients.values():
            await client.close()
        await demo
    return report, lists


async def _handle_recovered_cameras(officer: HubClient, report: DemoReport, handled: set[int]) -> None:
    """What the officer on duty does with a camera fault whose camera sees again: acknowledge, resolve."""
    for change in list(report.feeds.get(OFFICER, [])):
        alert = change.alert
        if alert["type"] == "camera_fault" and not alert["active"] and alert["id"] not in handled:
            handled.add(alert["id"])
            await officer.acknowledge(alert["id"], "checking the camera")
            await officer.resolve(alert["id"], "camera checked: it sees the room again")


def _changes(report: DemoReport, room: str, alert_type: str) -> list[AlertChange]:
    feed = report.feeds.get(OFFICER, [])
    return [c for c in feed if c.alert["room_id"] == room and c.alert["type"] == alert_type]


def _cleared(report: DemoReport, room: str, alert_type: str) -> bool:
    return any(not c.alert["active"] for c in _changes(report, room, alert_type))


def _occupancy_and_camera_done(report: DemoReport) -> bool:
    faults = _changes(report, "room-b", "camera_fault")
    resolved = {c.alert["id"] for c in faults if c.alert["status"] == "resolved"}
    return (
        len(resolved) == len(BLIND_CAUSES)
        and _cleared(report, "room-a", "person_absent")
        and _cleared(report, "room-a", "occupancy_exceeded")
    )


def _assert_one_incident(changes: list[AlertChange], severity: str, summary: str) -> None:
    """One alert: opened active with its evidence, then cleared by the edge's clearing event."""
    assert changes, f"no {summary!r} alert reached the officer"
    assert len({c.alert["id"] for c in changes}) == 1
    opened = changes[0]
    assert opened.kind == "opened" and opened.alert["active"], opened
    assert opened.alert["severity"] == severity and summary in opened.alert["summary"], opened.alert
    assert opened.alert["site_id"] == FACILITY_SITE_ID and opened.alert["device_id"] is None
    assert opened.alert["ward_id"] == WARD
    assert not changes[-1].alert["active"], "the room's clearing event clears the alert"


def _assert_other_wards_see_no_room(report: DemoReport, lists: dict[str, list[dict[str, Any]]]) -> None:
    for other in OTHER_OFFICERS:
        assert not [c for c in report.feeds[other] if c.alert["room_id"] is not None], other
        assert not [a for a in lists[other] if a["room_id"] is not None], other
        assert report.rooms[other] == [], f"{other} is shown another ward's rooms"


def _assert_room_alerts_reached_their_officer(
    report: DemoReport, lists: dict[str, list[dict[str, Any]]]
) -> None:
    decided = [(d.room_id, d.type.value) for d in report.room_decisions]
    assert [t for r, t in decided if r == "room-a"][:4] == [
        "person_absent",
        "person_present",
        "occupancy_exceeded",
        "occupancy_normal",
    ]
    assert [t for r, t in decided if r == "room-b"][:6] == [
        "camera_covered",
        "camera_ok",
        "camera_dark",
        "camera_ok",
        "camera_frozen",
        "camera_ok",
    ]

    _assert_one_incident(_changes(report, "room-a", "person_absent"), "critical", "no face for")
    _assert_one_incident(_changes(report, "room-a", "occupancy_exceeded"), "high", "(2 faces, 1 allowed)")
    faults = _changes(report, "room-b", "camera_fault")
    incidents: dict[int, list[AlertChange]] = {}
    for change in faults:
        incidents.setdefault(change.alert["id"], []).append(change)
    assert len(incidents) == len(BLIND_CAUSES), "each time the camera goes blind is one incident"
    for changes, cause in zip(incidents.values(), BLIND_CAUSES, strict=True):
        blind = [c for c in changes if c.alert["status"] != "resolved"]
        _assert_one_incident(blind, "high", f"camera {cause}")
        assert blind[-1].alert["event_count"] == 2, "the blind event and camera_ok, nothing merged in"
        assert changes[-1].alert["status"] == "resolved"
    assert {c.alert["room_id"] for c in report.feeds[OFFICER]} == {"room-a", "room-b"}
    assert not _changes(report, "room-a", "camera_fault")
    assert not _changes(report, "room-b", "person_absent") and not _changes(report, "room-b", "unknown_face")

    # The same over the officer's alert list, and the rooms as the API lists them.
    listed = {(a["room_id"], a["type"], a["status"]) for a in lists[OFFICER]}
    assert {("room-a", "person_absent", "open"), ("room-a", "occupancy_exceeded", "open")} <= listed
    assert [a["status"] for a in lists[OFFICER] if a["type"] == "camera_fault"] == ["resolved"] * 3
    rooms = {r["room_id"]: r for r in report.rooms[OFFICER]}
    assert set(rooms) == {"room-a", "room-b"}
    assert all(r["site_id"] == FACILITY_SITE_ID and len(r["order_ids"]) == 1 for r in rooms.values())
    _assert_other_wards_see_no_room(report, lists)


def test_room_events_through_the_embedded_broker(tmp_path: Path) -> None:
    facility = _facility([OCCUPANCY_ROOM, CAMERA_ROOM])
    report, lists = _run(tmp_path, facility, _occupancy_and_camera_done)
    _assert_room_alerts_reached_their_officer(report, lists)


def test_room_events_through_mosquitto_with_acl(tmp_path: Path, mosquitto_factory: MosquittoFactory) -> None:
    accounts = demo_accounts()
    broker = mosquitto_factory.start(accounts=accounts, hub_users=[HUB_MQTT_USER])
    assert FACILITY_SITE_ID in accounts
    facility = _facility([OCCUPANCY_ROOM, CAMERA_ROOM])
    report, lists = _run(tmp_path, facility, _occupancy_and_camera_done, broker.url, accounts)
    _assert_room_alerts_reached_their_officer(report, lists)


def test_unknown_face_reaches_the_officer(tmp_path: Path, sface_model: Path, enrolled_faces: Path) -> None:
    facility = _facility(
        [IDENTITY_ROOM],
        room_overrides={**DWELLS, "identity": True},
        edge_overrides={
            "camera.recognizer_model": str(sface_model),
            "camera.enrollment_dir": str(enrolled_faces),
        },
    )
    report, lists = _run(tmp_path, facility, lambda r: _cleared(r, "room-c", "unknown_face"))

    decided = [d.type.value for d in report.room_decisions]
    assert decided[:2] == ["unknown_face", "unknown_face_cleared"], "the enrolled resident raises nothing"
    _assert_one_incident(_changes(report, "room-c", "unknown_face"), "high", "best match")
    assert {c.alert["type"] for c in report.feeds[OFFICER]} == {"unknown_face"}
    assert [(a["room_id"], a["type"]) for a in lists[OFFICER]] == [("room-c", "unknown_face")]
    _assert_other_wards_see_no_room(report, lists)
