"""The durable outbox: persistence, order, sequence numbers, telemetry bound, damaged files, threads."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.outbox import Outbox, OutboxError
from gateway.protocol import EventMessage, EventType, PresenceState, Reading, TelemetryMessage
from qmon.clock import ManualClock

SITE = "site-a"
DEV_A = "0000000a"
DEV_B = "0000000b"


def make_telemetry(n: int, site_id: str = SITE) -> TelemetryMessage:
    """A one-reading batch whose `adverts` field tells batches apart."""
    now = datetime(2027, 1, 1, tzinfo=UTC)
    reading = Reading(
        device_id=DEV_A,
        time=now,
        presence=PresenceState.HOME,
        strap_closed=True,
        skin_contact=True,
        charging=False,
        adverts=n,
    )
    return TelemetryMessage(site_id=site_id, time=now, readings=[reading])


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def open_outbox(path: Path, clock: ManualClock, **kw: int) -> Outbox:
    return Outbox(path, clock, **kw)


def test_event_gets_id_and_per_device_seq(tmp_path: Path, clock: ManualClock) -> None:
    with open_outbox(tmp_path / "o.db", clock) as box:
        a1 = box.enqueue_event(SITE, DEV_A, EventType.LEFT_HOME, clock.now(), {"rssi": -80})
        b1 = box.enqueue_event(SITE, DEV_B, EventType.STRAP_OPENED, clock.now(), {})
        a2 = box.enqueue_event(SITE, DEV_A, "returned_home", clock.now(), {})
        assert (a1.seq, b1.seq, a2.seq) == (1, 1, 2)
        assert len({a1.event_id, b1.event_id, a2.event_id}) == 3
        assert a1.data == {"rssi": -80} and a1.time.tzinfo is not None
        pending = box.pending_events(10)
        assert [p.event_id for p in pending] == [a1.event_id, b1.event_id, a2.event_id]
        assert pending[0].message() == a1


def test_events_and_seq_survive_reopen_and_seq_continues(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "o.db"
    with open_outbox(path, clock) as box:
        first = [box.enqueue_event(SITE, DEV_A, EventType.LEFT_HOME, clock.now(), {}) for _ in range(3)]
        box.mark_sent([p.id for p in box.pending_events(2)])  # the two oldest were acknowledged
    with open_outbox(path, clock) as box:
        assert [p.event_id for p in box.pending_events(10)] == [first[2].event_id]
        nxt = box.enqueue_event(SITE, DEV_A, EventType.RETURNED_HOME, clock.now(), {})
        assert nxt.seq == 4  # never reused, although rows 1 and 2 were deleted
        assert box.last_seq(DEV_A) == 4 and box.last_seq(DEV_B) == 0
        assert [p.seq for p in box.pending_events(10)] == [3, 4]


def test_committed_events_survive_a_crash(tmp_path: Path, clock: ManualClock) -> None:
    # Copy the database and its write-ahead log while the outbox is still open: what a power cut leaves.
    live, crashed = tmp_path / "live", tmp_path / "crashed"
    live.mkdir()
    crashed.mkdir()
    box = open_outbox(live / "o.db", clock)
    sent = [box.enqueue_event(SITE, DEV_A, EventType.LEFT_HOME, clock.now(), {}) for _ in range(3)]
    for name in ("o.db", "o.db-wal"):
        shutil.copyfile(live / name, crashed / name)
    box.close()
    with open_outbox(crashed / "o.db", clock) as recovered:
        assert [p.event_id for p in recovered.pending_events()] == [m.event_id for m in sent]
        assert recovered.enqueue_event(SITE, DEV_A, EventType.FEVER, clock.now(), {}).seq == 4


def test_seq_is_kept_even_when_every_event_was_sent(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "o.db"
    with open_outbox(path, clock) as box:
        box.enqueue_event(SITE, DEV_A, EventType.LEFT_HOME, clock.now(), {})
        box.mark_sent([p.id for p in box.pending_events()])
        assert box.stats().pending_events == 0
    with open_outbox(path, clock) as box:
        assert box.enqueue_event(SITE, DEV_A, EventType.LEFT_HOME, clock.now(), {}).seq == 2


def test_pending_events_pages_in_insertion_order(tmp_path: Path, clock: ManualClock) -> None:
    with open_outbox(tmp_path / "o.db", clock) as box:
        sent = [
            box.enqueue_event(SITE, DEV_A if i % 2 else DEV_B, EventType.FEVER, clock.now(), {"i": i})
            for i in range(25)
        ]
        first = box.pending_events(10)
        rest = box.pending_events(100, after=first[-1].id)
        assert [p.event_id for p in first + rest] == [m.event_id for m in sent]


def test_invalid_event_consumes_no_seq(tmp_path: Path, clock: ManualClock) -> None:
    with open_outbox(tmp_path / "o.db", clock) as box:
        with pytest.raises(ValueError):
            box.enqueue_event(SITE, DEV_A, "not-an-event", clock.now(), {})
        with pytest.raises(ValueError):
            box.enqueue_event(SITE, DEV_A, EventType.FEVER, datetime(2027, 1, 1), {})  # naive time
        assert box.enqueue_event(SITE, DEV_A, EventType.FEVER, clock.now(), {}).seq == 1
        assert box.stats().pending_events == 1


def test_telemetry_lane_is_bounded_and_counts_drops(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "o.db"
    with open_outbox(path, clock, max_telemetry_rows=3) as box:
        dropped = [box.enqueue_telemetry(make_telemetry(n)) for n in range(5)]
        assert dropped == [0, 0, 0, 1, 1]
        kept = box.pending_telemetry(10)
        adverts = [TelemetryMessage.model_validate_json(t.payload).readings[0].adverts for t in kept]
        assert adverts == [2, 3, 4]  # the newest survive
        assert box.stats().telemetry_dropped == 2
        box.mark_telemetry_sent([kept[0].id])
        assert box.stats().pending_telemetry == 2
    with open_outbox(path, clock, max_telemetry_rows=3) as box:
        assert box.stats().telemetry_dropped == 2  # the count survives a restart


def test_garbage_file_is_a_clear_error_naming_the_file(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "outbox.db"
    path.write_bytes(b"this is not an SQLite database, it is a text file " * 200)
    with pytest.raises(OutboxError, match=r"outbox\.db"):
        open_outbox(path, clock)
    assert path.read_bytes().startswith(b"this is not")  # left alone for inspection


def test_damaged_pages_are_a_clear_error(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "outbox.db"
    with open_outbox(path, clock) as box:
        for i in range(300):
            box.enqueue_event(SITE, DEV_A, EventType.FEVER, clock.now(), {"pad": "x" * 200, "i": i})
    raw = bytearray(path.read_bytes())
    page = 4096
    assert len(raw) > 8 * page
    raw[3 * page : 6 * page] = b"\xa5" * (3 * page)  # scribble over table pages, keep the header
    path.write_bytes(bytes(raw))
    with pytest.raises(OutboxError, match=r"outbox\.db"):
        open_outbox(path, clock)


def test_foreign_database_is_refused(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE accounts (name TEXT)")
    conn.close()
    with pytest.raises(OutboxError, match=r"other\.db.*not a qmon outbox"):
        open_outbox(path, clock)


def test_unopenable_path_is_a_clear_error(tmp_path: Path, clock: ManualClock) -> None:
    with pytest.raises(OutboxError, match="missing-dir"):
        open_outbox(tmp_path / "missing-dir" / "o.db", clock)


def test_concurrent_enqueue_from_threads(tmp_path: Path, clock: ManualClock) -> None:
    devices = [f"{i:08x}" for i in range(3)]
    per_thread = 40
    results: list[list[EventMessage]] = [[] for _ in range(6)]
    with open_outbox(tmp_path / "o.db", clock) as box:
        barrier = threading.Barrier(len(results))

        def work(slot: int) -> None:
            barrier.wait()
            for i in range(per_thread):
                device = devices[(slot + i) % len(devices)]
                results[slot].append(box.enqueue_event(SITE, device, EventType.SIGNAL_LOST, clock.now(), {}))
                if i % 10 == 0:
                    box.enqueue_telemetry(make_telemetry(i))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(len(results))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        messages = [m for r in results for m in r]
        seqs: dict[str, list[int]] = defaultdict(list)
        for m in messages:
            seqs[m.device_id].append(m.seq)
        for device, values in seqs.items():
            assert sorted(values) == list(range(1, len(values) + 1)), device
        assert len({m.event_id for m in messages}) == len(messages)
        pending = box.pending_events(10_000)
        assert len(pending) == len(messages)
        # Within each device, outbox order is sequence order (one transaction per enqueue).
        for device in devices:
            in_order = [p.seq for p in pending if p.device_id == device]
            assert in_order == sorted(in_order)


def test_room_events_have_their_own_sequence_beside_devices(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "rooms.db", ManualClock())
    try:
        bracelet = outbox.enqueue_event("facility-1", "0a000001", EventType.LEFT_HOME, 1.8e9, {})
        room = outbox.enqueue_event(
            "facility-1", None, EventType.PERSON_ABSENT, 1.8e9, {}, room_id="room-101"
        )
        again = outbox.enqueue_event(
            "facility-1", None, EventType.PERSON_PRESENT, 1.8e9, {}, room_id="room-101"
        )
        assert (bracelet.seq, room.seq, again.seq) == (1, 1, 2)
        assert room.room_id == "room-101" and room.device_id is None and room.subject == "room:room-101"
        with pytest.raises(ValueError):  # a bracelet event type about a room is refused, seq not consumed
            outbox.enqueue_event("facility-1", None, EventType.LEFT_HOME, 1.8e9, {}, room_id="room-101")
        third = outbox.enqueue_event("facility-1", None, EventType.CAMERA_OK, 1.8e9, {}, room_id="room-101")
        assert third.seq == 3
    finally:
        outbox.close()
