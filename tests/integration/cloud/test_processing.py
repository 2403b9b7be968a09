"""Ingest's batch processing and the officers' alert transitions, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from cloud.access import Actor, Role
from cloud.alerts import AlertService
from cloud.errors import ConflictError, NotFoundError
from cloud.processor import BatchOutcome, BatchProcessor, RawMessage
from cloud.rules import Policy
from cloud.storage.alert_records import StaleAlertError
from cloud.storage.records import Alert
from cloud.storage.repository import Repository
from gateway.protocol import EventType, SiteState
from tests.integration.cloud.support import (
    FACILITY,
    event_message,
    room_event_message,
    room_telemetry_message,
    seed_order,
    seed_room_order,
    status_message,
    telemetry_message,
)
from tests.unit.cloud.builders import DEVICE, ROOM, SITE, at

OFFICER_A = Actor("an", Role.WARD_OFFICER, frozenset({"ward-a"}))
OFFICER_B = Actor("binh", Role.WARD_OFFICER, frozenset({"ward-b"}))


def run(processor: BatchProcessor, *messages: tuple[str, bytes]) -> BatchOutcome:
    return processor.process([RawMessage(t, p) for t, p in messages], at(100))


def only_alert(repo: Repository) -> Alert:
    (alert,) = repo.alerts.list(wards=None)
    return alert


def test_an_event_opens_an_alert_and_repeats_update_it(repo: Repository, processor: BatchProcessor) -> None:
    seed_order(repo)
    outcome = run(processor, event_message(EventType.LEFT_HOME, 1, data={"rssi": -90.0, "exit_rssi": -82.0}))
    assert outcome.stored == 1 and outcome.alerts is not None and outcome.alerts.opened == 1
    (change,) = outcome.alerts.changes
    assert change.kind == "opened" and change.alert is not None and change.alert.ward_id == "ward-a"
    run(processor, event_message(EventType.LEFT_HOME, 2), event_message(EventType.LEFT_HOME, 3))
    alert = only_alert(repo)
    assert (alert.type, alert.status, alert.active, alert.event_count) == ("left_home", "open", True, 3)
    assert [t.kind for t in repo.alerts.timeline(alert.id)] == ["opened", "repeated", "repeated"]


def test_duplicates_are_stored_and_applied_once(repo: Repository, processor: BatchProcessor) -> None:
    seed_order(repo)
    message = event_message(EventType.STRAP_OPENED, 1)
    first = run(processor, message, message)  # a broker re-delivery inside one batch
    second = run(processor, message)  # and in a later batch
    assert (first.stored, first.duplicates, second.stored, second.duplicates) == (1, 1, 0, 1)
    assert repo.events.count() == 1 and only_alert(repo).event_count == 1


def test_reordered_events_give_an_already_inactive_alert(repo: Repository, processor: BatchProcessor) -> None:
    seed_order(repo)
    run(processor, event_message(EventType.RETURNED_HOME, 11))
    run(processor, event_message(EventType.LEFT_HOME, 10))
    alert = only_alert(repo)
    assert (alert.type, alert.status, alert.active) == ("left_home", "open", False)
    run(processor, event_message(EventType.LEFT_HOME, 12))  # a real new exit
    assert only_alert(repo).active


def test_bad_messages_go_to_dead_letters_and_the_rest_is_applied(
    repo: Repository, processor: BatchProcessor
) -> None:
    seed_order(repo)
    topic, payload = event_message(EventType.FEVER, 1, data={"skin_temp_c": 38.6})
    wrong_site = event_message(EventType.LEFT_HOME, 2, site_id="home-0002")
    outcome = run(
        processor,
        (topic, b"{not json"),
        (topic, payload.replace(b'"seq":1', b'"seq":0')),
        (wrong_site[0].replace("home-0002", SITE), wrong_site[1]),
        ("qmon/v1/sites/home-0001/commands", payload),
        ("qmon/v1/sites/Bad_Site/events", payload),
        (topic, payload),
    )
    assert dict(outcome.rejected) == {
        "invalid_json": 1,
        "invalid_payload": 1,
        "site_mismatch": 1,
        "unknown_channel": 1,
        "bad_topic": 1,
    }
    reasons = sorted(d.reason.split(":")[0] for d in repo.dead_letters.list())
    assert reasons == ["bad_topic", "invalid_json", "invalid_payload", "site_mismatch", "unknown_channel"]
    assert b"{not json" in [d.payload for d in repo.dead_letters.list()]
    assert outcome.stored == 1 and only_alert(repo).type == "fever"


def test_events_without_order_or_from_the_wrong_site_are_flagged(
    repo: Repository, processor: BatchProcessor
) -> None:
    seed_order(repo, site_id="home-0002")
    outcome = run(
        processor,
        event_message(EventType.LEFT_HOME, 1),
        event_message(EventType.LEFT_HOME, 1, device_id="0000000f"),
    )
    assert dict(outcome.flagged) == {"wrong_site": 1, "no_active_order": 1}
    assert repo.alerts.list(wards=None) == [] and {e.flag for e in repo.events.list()} == {
        "wrong_site",
        "no_active_order",
    }


def test_a_site_offline_past_the_grace_period_alerts_once_and_clears_when_online(
    repo: Repository, processor: BatchProcessor
) -> None:
    seed_order(repo)
    seed_order(repo, device_id="0000000b", full_name="Tran Van B")  # the same home hub serves two orders
    outcome = run(processor, status_message(SiteState.ONLINE, 1), status_message(SiteState.OFFLINE, 30))
    assert outcome.statuses == 2 and repo.alerts.list(wards=None) == []  # within the 90 s grace
    assert processor.sweep_offline_sites(at(119)) is None
    swept = processor.sweep_offline_sites(at(120))
    assert swept is not None and swept.opened == 2 and {c.kind for c in swept.changes} == {"opened"}
    alerts = repo.alerts.list(wards=None)
    assert {(a.type, a.active, a.first_event_at) for a in alerts} == {("hub_offline", True, at(30))}
    assert processor.sweep_offline_sites(at(600)) is None  # one alert per offline spell
    assert run(processor, status_message(SiteState.OFFLINE, 30)).statuses == 0  # the retained copy again
    run(processor, status_message(SiteState.ONLINE, 700))
    assert not any(a.active for a in repo.alerts.list(wards=None))
    (site,) = repo.sites.list()
    assert (site.state, site.since, site.alerted_at) == ("online", at(700), None)


def test_a_short_outage_such_as_a_broker_restart_raises_no_alert(
    repo: Repository, processor: BatchProcessor
) -> None:
    seed_order(repo)
    run(processor, status_message(SiteState.OFFLINE, 30), status_message(SiteState.ONLINE, 75))
    assert processor.sweep_offline_sites(at(1000)) is None
    run(processor, status_message(SiteState.OFFLINE, 2000))  # a new spell is judged on its own
    assert processor.sweep_offline_sites(at(2089)) is None
    assert processor.sweep_offline_sites(at(2090)) is not None
    assert [a.type for a in repo.alerts.list(wards=None)] == ["hub_offline"]


def test_without_a_grace_period_an_offline_site_alerts_at_once(
    repo: Repository, alerts: AlertService
) -> None:
    processor = BatchProcessor(repo, alerts, Policy(hub_offline_grace_s=0))
    try:
        seed_order(repo)
        run(processor, status_message(SiteState.OFFLINE, 30))
        assert only_alert(repo).type == "hub_offline"
        assert processor.sweep_offline_sites(at(1000)) is None  # already alerted
    finally:
        processor.close()


def test_telemetry_updates_the_device_overview_and_the_store(
    repo: Repository, processor: BatchProcessor
) -> None:
    seed_order(repo)
    outcome = run(processor, telemetry_message(battery=42))
    assert outcome.readings == 1 and outcome.points[0].values["battery"] == 42
    device = repo.devices.get(DEVICE)
    assert device is not None and (device.last_battery, device.last_presence) == (42, "home")


def test_officer_transitions_and_invalid_ones(
    repo: Repository, processor: BatchProcessor, alerts: AlertService
) -> None:
    seed_order(repo)
    published: list[str] = []
    service = AlertService(repo, alerts._clock, lambda changes: published.extend(c.kind for c in changes))
    run(processor, event_message(EventType.BRACELET_REMOVED, 1))
    alert_id = only_alert(repo).id
    with pytest.raises(ConflictError, match="acknowledge it before resolving"):
        service.resolve(alert_id, OFFICER_A, "done")
    with pytest.raises(NotFoundError):
        service.acknowledge(alert_id, OFFICER_B)  # another ward's alert does not exist for B
    acked = service.acknowledge(alert_id, OFFICER_A, "calling the family").alert
    assert (acked.status, acked.acknowledged_by) == ("acknowledged", "an")
    with pytest.raises(ConflictError, match="already acknowledged"):
        service.acknowledge(alert_id, OFFICER_A)
    resolved = service.resolve(alert_id, OFFICER_A, "strap replaced").alert
    assert (resolved.status, resolved.resolution_note) == ("resolved", "strap replaced")
    with pytest.raises(ConflictError, match="already resolved"):
        service.acknowledge(alert_id, OFFICER_A)
    assert published == ["acknowledged", "resolved"]
    kinds = [t.kind for t in repo.alerts.timeline(alert_id)]
    assert kinds == ["opened", "acknowledged", "resolved"]


def test_a_resolved_alert_is_never_updated_and_a_new_onset_opens_a_new_one(
    repo: Repository, processor: BatchProcessor, alerts: AlertService
) -> None:
    seed_order(repo)
    run(processor, event_message(EventType.LEFT_HOME, 1))
    first = only_alert(repo)
    alerts.acknowledge(first.id, OFFICER_A)
    alerts.resolve(first.id, OFFICER_A, "false alarm")
    run(processor, event_message(EventType.RETURNED_HOME, 2))  # a clearance with nothing open: no alert
    run(processor, event_message(EventType.LEFT_HOME, 3))
    newest, oldest = repo.alerts.list(wards=None)
    assert oldest.id == first.id and (oldest.status, oldest.event_count) == ("resolved", 1)
    assert newest.id != first.id and newest.status == "open"


def test_an_acknowledged_alert_reopens_on_a_new_onset_after_clearing(
    repo: Repository, processor: BatchProcessor, alerts: AlertService
) -> None:
    seed_order(repo)
    run(processor, event_message(EventType.LEFT_HOME, 1))
    alert_id = only_alert(repo).id
    alerts.acknowledge(alert_id, OFFICER_A)
    run(processor, event_message(EventType.RETURNED_HOME, 2))
    outcome = run(processor, event_message(EventType.LEFT_HOME, 3))
    assert outcome.alerts is not None and [c.kind for c in outcome.alerts.changes] == ["reopened"]
    alert = only_alert(repo)
    assert (alert.id, alert.status, alert.active, alert.event_count) == (alert_id, "open", True, 3)


def test_a_change_behind_ingests_cache_is_detected(repo: Repository, processor: BatchProcessor) -> None:
    seed_order(repo)
    run(processor, event_message(EventType.FEVER, 1))
    with repo.write() as conn:  # another hub replica handled the alert meanwhile
        alert = only_alert(repo)
        repo.alerts.update(
            conn, [{**alert.as_dict(), "status": "acknowledged", "version": alert.version + 1}]
        )
    with pytest.raises(StaleAlertError):
        run(processor, event_message(EventType.FEVER, 2))
    processor.forget_state()  # what ingest does before it redoes the batch
    run(processor, event_message(EventType.FEVER, 2))
    alert = only_alert(repo)
    assert (alert.status, alert.event_count) == ("acknowledged", 2)


def test_many_devices_in_one_batch(repo: Repository, processor: BatchProcessor) -> None:
    devices = [f"{i:08x}" for i in range(1, 41)]
    for i, device in enumerate(devices):
        seed_order(repo, device_id=device, site_id=f"home-{i % 4}")
    messages = [
        event_message(kind, seq, device_id=d, site_id=f"home-{i % 4}", event_id=uuid.uuid4())
        for i, d in enumerate(devices)
        for seq, kind in enumerate((EventType.LEFT_HOME, EventType.STRAP_OPENED, EventType.RETURNED_HOME), 1)
    ]
    outcome = run(processor, *messages)
    assert outcome.stored == 120 and outcome.alerts is not None and outcome.alerts.opened == 80
    assert repo.alerts.count(status="open") == 80
    assert sum(1 for a in repo.alerts.list(wards=None, limit=500) if a.active) == 40  # tamper only


def test_room_events_alert_every_order_of_the_room_once_per_incident(
    repo: Repository, processor: BatchProcessor
) -> None:
    first = seed_room_order(repo, full_name="Le Thi C")
    second = seed_room_order(repo, full_name="Le Van D")  # a family isolated together
    elsewhere = seed_room_order(repo, room_id="room-102", full_name="Pham E")
    run(
        processor,
        room_event_message(EventType.CAMERA_COVERED, 1, data={"brightness": 14.0}),
        room_event_message(EventType.CAMERA_DARK, 2, data={"brightness": 2.0}),
    )
    alerts = repo.alerts.list(wards=None)
    assert sorted(a.order_id for a in alerts) == [first.id, second.id]
    assert all(
        (a.type, a.room_id, a.device_id, a.site_id, a.event_count, a.active)
        == ("camera_fault", ROOM, None, FACILITY, 2, True)
        for a in alerts
    )
    run(processor, room_event_message(EventType.CAMERA_OK, 3))
    assert not any(a.active for a in repo.alerts.list(wards=None))
    run(processor, room_event_message(EventType.OCCUPANCY_EXCEEDED, 1, room_id="room-102"))
    (crowded,) = [a for a in repo.alerts.list(wards=None) if a.type == "occupancy_exceeded"]
    assert crowded.order_id == elsewhere.id and crowded.room_id == "room-102"


def test_a_room_event_without_an_order_is_stored_and_flagged(
    repo: Repository, processor: BatchProcessor
) -> None:
    outcome = run(processor, room_event_message(EventType.PERSON_ABSENT, 1))
    assert outcome.stored == 1 and dict(outcome.flagged) == {"no_active_order": 1}
    (event,) = repo.events.list()
    assert (event.room_id, event.device_id, event.flag) == (ROOM, None, "no_active_order")
    assert repo.alerts.list(wards=None) == []


def test_a_new_room_order_is_seen_by_ingest_at_once(repo: Repository, processor: BatchProcessor) -> None:
    run(processor, room_event_message(EventType.UNKNOWN_FACE, 1))  # caches "no order in this room"
    seed_room_order(repo)
    run(processor, room_event_message(EventType.UNKNOWN_FACE, 2))
    (alert,) = repo.alerts.list(wards=None)
    assert alert.type == "unknown_face" and alert.event_count == 1


def test_room_readings_keep_each_rooms_latest_state(repo: Repository, processor: BatchProcessor) -> None:
    run(processor, room_telemetry_message(2, seconds=20), room_telemetry_message(1, "covered", seconds=10))
    (room,) = repo.rooms.list()
    assert (room.site_id, room.room_id, room.faces, room.camera) == (FACILITY, ROOM, 2, "ok")
    assert room.time == at(20)
    run(processor, room_telemetry_message(0, "dark", seconds=5))  # older than what is stored
    assert repo.rooms.list()[0].faces == 2
    run(processor, room_telemetry_message(0, "dark", seconds=30))
    assert (repo.rooms.list()[0].faces, repo.rooms.list()[0].camera) == (0, "dark")
