"""The repository on SQLite and PostgreSQL alike: migrations, orders, events, alerts, change log."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from cloud.rules import AlertType, Condition, ConditionState, RuleEvent
from cloud.storage.alert_records import StaleAlertError
from cloud.storage.migrate import current_revision, upgrade
from cloud.storage.records import Alert, SiteStatusRecord
from cloud.storage.repository import Repository
from cloud.storage.schema import UPDATE_HEADROOM_FILLFACTOR, metadata
from cloud.storage.telemetry import TelemetryPoint
from gateway.protocol import EventType
from tests.integration.cloud.support import seed_order
from tests.unit.cloud.builders import DEVICE, SITE, T0, at


def new_alert(order_id: int, ward: str = "ward-a", type: str = "left_home", opened: float = 0) -> Alert:
    return Alert(
        id=0,
        order_id=order_id,
        ward_id=ward,
        device_id=DEVICE,
        room_id=None,
        site_id=SITE,
        type=type,
        severity="critical",
        status="open",
        active=True,
        opened_at=at(opened),
        first_event_at=at(opened),
        last_event_at=at(opened),
        event_count=1,
        acknowledged_at=None,
        acknowledged_by=None,
        resolved_at=None,
        resolved_by=None,
        resolution_note=None,
        title="Left home",
        summary="left home",
        updated_at=at(opened),
        version=0,
    )


def insert_alert(repo: Repository, alert: Alert) -> Alert:
    with repo.write() as conn:
        (alert_id,) = repo.alerts.insert(conn, [alert.as_dict()])
    stored = repo.alerts.get(alert_id)
    assert stored is not None
    return stored


def test_migrations_apply_match_the_schema_and_are_idempotent(database_url: str) -> None:
    upgrade(database_url)  # on an empty database: every migration from the first
    upgrade(database_url)  # a second run is a no-op
    repo = Repository.from_url(database_url)
    try:
        assert current_revision(repo.engine) == "0016"
        with repo.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        repo.close()


def test_orders_with_persons_are_scoped_by_ward(repo: Repository) -> None:
    order_a = seed_order(repo, ward="ward-a", full_name="Tran Thi B")
    order_b = seed_order(repo, ward="ward-b", device_id="0000000b", site_id="home-0002")
    fetched = repo.orders.get(order_a.id)
    assert fetched == order_a and fetched.person.full_name == "Tran Thi B" and fetched.starts_at.tzinfo
    assert [o.id for o in repo.orders.list(wards={"ward-a"})] == [order_a.id]
    assert {o.id for o in repo.orders.list(wards=None)} == {order_a.id, order_b.id}
    assert repo.orders.site_ids({"ward-b"}) == ["home-0002"]
    assert set(repo.orders.contexts_for_devices([DEVICE, "0000000b", "ffffffff"])) == {DEVICE, "0000000b"}
    assert [c.order_id for c in repo.orders.contexts_for_site(SITE)] == [order_a.id]


def test_one_active_order_per_device_and_ending_frees_it(repo: Repository) -> None:
    order = seed_order(repo)
    with pytest.raises(IntegrityError):
        seed_order(repo)
    seen: list[str] = []
    unsubscribe = repo.orders.on_change(seen.append)
    ended = repo.orders.update(order.id, now=at(5), ends_at=at(5), status="ended")
    unsubscribe()
    assert ended is not None and (ended.status, ended.ends_at) == ("ended", at(5)) and seen == [DEVICE]
    assert repo.orders.contexts_for_devices([DEVICE]) == {}
    assert seed_order(repo).status == "active"


def test_an_order_needs_a_registered_device(repo: Repository) -> None:
    with pytest.raises(IntegrityError):
        repo.orders.create(
            full_name="X",
            phone=None,
            ward_id="ward-a",
            address="a",
            site_id=SITE,
            device_id="deadbeef",
            starts_at=T0,
            ends_at=at(100),
            created_by="x",
            now=T0,
        )


def test_events_are_stored_once_per_event_id(repo: Repository) -> None:
    events = [
        RuleEvent(str(uuid.uuid4()), SITE, DEVICE, seq, EventType.LEFT_HOME, at(seq), {"rssi": -80.5})
        for seq in (1, 2)
    ]
    with repo.write() as conn:
        assert repo.events.insert_new(conn, events, at(10)) == {e.event_id for e in events}
    with repo.write() as conn:
        extra = replace(events[0], event_id=str(uuid.uuid4()), seq=3)
        assert repo.events.insert_new(conn, [*events, extra], at(11)) == {extra.event_id}
        repo.events.set_flags(conn, [(extra.event_id, "no_active_order")])
    stored = repo.events.list(device_id=DEVICE)
    assert [(e.seq, e.flag) for e in stored] == [(1, None), (2, None), (3, "no_active_order")]
    assert stored[0].data == {"rssi": -80.5} and stored[0].time == at(1) and stored[0].received_at == at(10)
    assert repo.events.count() == 3


def test_alerts_insert_update_with_version_check_and_filters(repo: Repository) -> None:
    order = seed_order(repo)
    alert = insert_alert(repo, new_alert(order.id))
    assert alert.version == 0 and alert.opened_at == at(0)
    with repo.write() as conn:
        repo.alerts.update(conn, [replace(alert, event_count=2, active=False, version=1).as_dict()])
    updated = repo.alerts.get(alert.id)
    assert updated is not None and (updated.event_count, updated.active, updated.version) == (2, False, 1)
    with pytest.raises(StaleAlertError), repo.write() as conn:  # written from a copy read before that update
        repo.alerts.update(conn, [replace(alert, event_count=5, version=1).as_dict()])
    with repo.read() as conn:
        assert [a.id for a in repo.alerts.load_open(conn, [order.id])] == [alert.id]
    assert repo.alerts.list(wards={"ward-b"}) == []
    assert [a.id for a in repo.alerts.list(wards={"ward-a"}, status="open", type="left_home")] == [alert.id]
    assert repo.alerts.list(wards=None, since=at(1)) == [] and repo.alerts.count(wards={"ward-a"}) == 1


def test_one_open_alert_per_order_and_type(repo: Repository) -> None:
    order = seed_order(repo)
    insert_alert(repo, new_alert(order.id))
    with pytest.raises(IntegrityError):
        insert_alert(repo, new_alert(order.id))
    insert_alert(repo, new_alert(order.id, type="tamper"))


def test_alert_list_pages_newest_first(repo: Repository) -> None:
    order = seed_order(repo)
    ids = [
        insert_alert(repo, new_alert(order.id, type=t.value, opened=i)).id for i, t in enumerate(AlertType)
    ]
    page1 = repo.alerts.list(wards=None, limit=3)
    page2 = repo.alerts.list(wards=None, limit=3, offset=3)
    assert [a.id for a in page1 + page2] == list(reversed(ids))[:6]


def test_timeline_and_change_log_replay_by_ward(repo: Repository) -> None:
    order_a = seed_order(repo, ward="ward-a")
    order_b = seed_order(repo, ward="ward-b", device_id="0000000b")
    alert_a = insert_alert(repo, new_alert(order_a.id))
    alert_b = insert_alert(repo, new_alert(order_b.id, ward="ward-b"))
    with repo.write() as conn:
        repo.alerts.add_timeline(
            conn,
            [
                {
                    "alert_id": alert_a.id,
                    "event_id": None,
                    "kind": "acknowledged",
                    "time": at(5),
                    "note": "on it",
                },
                {
                    "alert_id": alert_a.id,
                    "event_id": "e-1",
                    "kind": "opened",
                    "time": at(1),
                    "note": "left home",
                },
            ],
        )
        first = repo.alerts.append_changes(
            conn,
            [
                {"alert_id": alert_a.id, "ward_id": "ward-a", "kind": "opened", "time": at(1)},
                {"alert_id": alert_b.id, "ward_id": "ward-b", "kind": "opened", "time": at(1)},
            ],
        )
    with repo.write() as conn:
        second = repo.alerts.append_changes(
            conn, [{"alert_id": alert_a.id, "ward_id": "ward-a", "kind": "acknowledged", "time": at(5)}]
        )
    assert first[0] < first[1] < second[0] and repo.alerts.last_change_id() == second[0]
    assert [t.kind for t in repo.alerts.timeline(alert_a.id)] == ["opened", "acknowledged"]
    replay = repo.alerts.changes_after(first[0], wards={"ward-a"})
    assert [(c.id, c.kind) for c in replay] == [(second[0], "acknowledged")]
    assert replay[0].alert is not None and replay[0].alert.id == alert_a.id
    assert [c.id for c in repo.alerts.changes_after(0, wards=None)] == [*first, *second]


def test_dead_letters_keep_the_raw_bytes_and_the_reason(repo: Repository) -> None:
    with repo.write() as conn:
        repo.dead_letters.add_many(
            conn, [{"received_at": at(1), "topic": "t", "payload": b"\xff{", "reason": "bad"}]
        )
    (letter,) = repo.dead_letters.list()
    assert (letter.payload, letter.reason, letter.received_at) == (b"\xff{", "bad", at(1))
    assert repo.dead_letters.count() == 1


def test_condition_state_round_trips_and_upserts(repo: Repository) -> None:
    away = ConditionState(True, at(1), 10, AlertType.LEFT_HOME)
    with repo.write() as conn:
        repo.conditions.save(conn, [(DEVICE, Condition.AWAY, away)])
    with repo.write() as conn:
        repo.conditions.save(conn, [(DEVICE, Condition.AWAY, replace(away, active=False, seq=11))])
    with repo.read() as conn:
        loaded = repo.conditions.load(conn, [DEVICE, "ffffffff"])
    assert loaded == {DEVICE: {Condition.AWAY: replace(away, active=False, seq=11)}}


def test_site_status_and_device_readings(repo: Repository) -> None:
    seed_order(repo, ward="ward-a")
    record = SiteStatusRecord(SITE, "offline", at(3), "last will", at(4))
    with repo.write() as conn:
        repo.sites.save(conn, [record])
        repo.devices.record_readings(
            conn,
            [
                {
                    "device_id": DEVICE,
                    "time": at(9),
                    "site_id": SITE,
                    "battery": 55,
                    "rssi": -70.0,
                    "presence": "home",
                },
                {
                    "device_id": "ffffffff",
                    "time": at(9),
                    "site_id": SITE,
                    "battery": 1,
                    "rssi": -1.0,
                    "presence": "away",
                },
            ],
        )
    with repo.read() as conn:
        assert repo.sites.get_many(conn, [SITE, "nowhere"]) == {SITE: record}
    assert repo.sites.list([SITE]) == [record]
    (device,) = repo.devices.overview(wards={"ward-a"})
    assert (device.last_battery, device.last_rssi, device.last_presence, device.last_seen_at) == (
        55,
        -70.0,
        "home",
        at(9),
    )
    assert device.ward_id == "ward-a" and repo.devices.overview(wards={"ward-b"}) == []


def test_sql_telemetry_store(repo: Repository) -> None:
    store = repo.telemetry_store()
    store.write(
        [TelemetryPoint(SITE, DEVICE, at(i), {"battery": 90 - i, "presence": "home"}) for i in range(5)]
    )
    points = store.query(DEVICE, since=at(1), until=at(3))
    assert [p.values["battery"] for p in points] == [89, 88, 87] and points[0].time == at(1)
    assert store.query(DEVICE, since=at(1) + timedelta(days=1)) == []


def test_tables_updated_in_place_leave_room_for_hot_updates_on_postgres(repo: Repository) -> None:
    if repo.dialect != "postgresql":
        pytest.skip("a PostgreSQL storage parameter")
    with repo.read() as conn:
        options = dict(
            conn.exec_driver_sql(
                "SELECT relname, reloptions FROM pg_class WHERE relname IN ('alerts', 'device_conditions', "
                "'devices', 'events')"
            ).all()
        )
    expected = [f"fillfactor={UPDATE_HEADROOM_FILLFACTOR}"]
    assert options == {"alerts": expected, "device_conditions": expected, "devices": expected, "events": None}


def test_a_bulk_write_used_twice_in_one_transaction_applies_only_its_own_rows(repo: Repository) -> None:
    seed_order(repo)

    def reading(battery: int) -> dict[str, object]:
        return {
            "device_id": DEVICE,
            "time": at(battery),
            "site_id": SITE,
            "battery": battery,
            "rssi": -60.0,
            "presence": "home",
        }

    with repo.write() as conn:
        repo.devices.record_readings(conn, [reading(10)])
        repo.devices.record_readings(conn, [reading(20)])  # PostgreSQL: the same staging table again
    device = repo.devices.get(DEVICE)
    assert device is not None and (device.last_battery, device.last_seen_at) == (20, at(20))
    with repo.write() as conn:
        repo.devices.record_readings(conn, [reading(30)])  # and in the next transaction
    device = repo.devices.get(DEVICE)
    assert device is not None and (device.last_battery, device.last_seen_at) == (30, at(30))


def test_a_bulk_write_that_breaks_a_constraint_raises_sqlalchemys_integrity_error(repo: Repository) -> None:
    entry = {"alert_id": 987_654, "event_id": None, "kind": "opened", "time": at(1), "note": "no such alert"}
    with pytest.raises(IntegrityError), repo.write() as conn:
        repo.alerts.add_timeline(conn, [entry])  # PostgreSQL: COPY straight into the table
