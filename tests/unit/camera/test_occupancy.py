"""The per-room occupancy state machine, driven by explicit times (no clock, no sleeping)."""

from __future__ import annotations

from dataclasses import replace

from edge.camera.occupancy import IdentityVerdict, OccupancyPolicy, RoomOccupancy, RoomSnapshot
from gateway.protocol import CameraState, EventType

POLICY = OccupancyPolicy(
    allowed=1,
    absent_after_s=60.0,
    present_after_s=5.0,
    crowd_after_s=30.0,
    normal_after_s=15.0,
    unknown_after_s=10.0,
    unknown_clear_s=10.0,
)
T0 = 1_800_000_000.0
FPS = 5


class Room:
    """Feeds a RoomOccupancy at 5 frames per second and collects its decisions."""

    def __init__(self, policy: OccupancyPolicy = POLICY, snapshot: RoomSnapshot | None = None) -> None:
        self.occupancy = RoomOccupancy(policy, started_at=T0, snapshot=snapshot)
        self.now = T0
        self.events: list[tuple[float, EventType, dict]] = []

    def run(self, seconds: float, faces: int, identity: IdentityVerdict | None = None) -> None:
        for _ in range(round(seconds * FPS)):
            self.now += 1 / FPS
            for change in self.occupancy.observe(faces, self.now, identity):
                self.events.append((change.time - T0, change.type, change.evidence))

    def blind(self, seconds: float) -> None:
        for _ in range(round(seconds * FPS)):
            self.now += 1 / FPS
            self.occupancy.blind(self.now)

    def types(self) -> list[EventType]:
        return [t for _, t, _ in self.events]


def test_present_at_start_is_settled_silently() -> None:
    room = Room()
    room.run(10, faces=1)
    assert room.events == [] and room.occupancy.present is True


def test_absent_after_the_dwell_with_evidence() -> None:
    room = Room()
    room.run(10, faces=1)
    room.run(59, faces=0)
    assert room.events == []
    room.run(2, faces=0)
    [(when, kind, data)] = room.events
    assert kind is EventType.PERSON_ABSENT and 69 < when < 71.5
    assert data["faces"] == 0 and data["previous"] == "present" and 60 <= data["unseen_s"] < 61
    assert data["last_seen"].endswith("Z")


def test_a_short_absence_raises_nothing() -> None:
    room = Room()
    room.run(10, faces=1)
    room.run(40, faces=0)  # the bathroom, out of view
    room.run(10, faces=1)
    room.run(40, faces=0)
    assert room.events == [] and room.occupancy.present is True


def test_nobody_from_the_start_is_absent_with_previous_unknown() -> None:
    room = Room()
    room.run(61, faces=0)
    assert room.types() == [EventType.PERSON_ABSENT]
    assert room.events[0][2]["previous"] == "unknown" and room.events[0][2]["last_seen"] is None


def test_present_again_after_its_own_dwell() -> None:
    room = Room()
    room.run(5, faces=1)
    room.run(61, faces=0)
    room.run(4, faces=1)
    assert room.types() == [EventType.PERSON_ABSENT]
    room.run(2, faces=1)
    assert room.types() == [EventType.PERSON_ABSENT, EventType.PERSON_PRESENT]
    data = room.events[1][2]
    assert data["faces"] == 1 and data["seen_s"] >= 5 and data["absent_for_s"] > 4


def test_a_glimpse_does_not_count_as_back() -> None:
    room = Room()
    room.run(61, faces=0)
    for _ in range(5):  # a face for 1 s every 10 s: passing the door
        room.run(1, faces=1)
        room.run(9, faces=0)
    assert room.types() == [EventType.PERSON_ABSENT]


def test_missed_detections_do_not_break_a_presence() -> None:
    room = Room(replace(POLICY, absent_after_s=3.0))
    room.run(5, faces=1)
    for _ in range(20):  # the detector misses the face every other 0.6 s
        room.run(0.6, faces=1)
        room.run(0.6, faces=0)
    assert room.events == []


def test_crowd_after_the_dwell_and_normal_after_the_clear_dwell() -> None:
    room = Room()
    room.run(5, faces=1)
    room.run(29, faces=2)
    assert room.events == []
    room.run(2, faces=2)
    assert room.types() == [EventType.OCCUPANCY_EXCEEDED]
    exceeded = room.events[0][2]
    assert exceeded["faces"] == 2 and exceeded["allowed"] == 1 and exceeded["max_faces"] == 2
    room.run(14, faces=1)
    assert room.types() == [EventType.OCCUPANCY_EXCEEDED]
    room.run(2, faces=1)
    assert room.types() == [EventType.OCCUPANCY_EXCEEDED, EventType.OCCUPANCY_NORMAL]
    assert room.events[1][2]["max_faces"] == 2 and room.events[1][2]["exceeded_for_s"] > 14


def test_a_short_visit_raises_nothing() -> None:
    room = Room()
    room.run(5, faces=1)
    room.run(20, faces=2)  # a nurse for 20 s
    room.run(60, faces=1)
    assert room.events == []


def test_hysteresis_single_spurious_or_missed_counts_do_not_move_the_count() -> None:
    room = Room()
    room.run(5, faces=1)
    for _ in range(60):  # one spurious second face in every 10 frames, for 2 minutes
        room.run(1.8, faces=1)
        room.run(0.2, faces=2)
    assert room.events == [] and room.occupancy.faces == 1


def test_allowed_two_people_is_not_a_crowd() -> None:
    room = Room(replace(POLICY, allowed=2))
    room.run(40, faces=2)
    assert room.events == []
    room.run(31, faces=3)
    assert room.types() == [EventType.OCCUPANCY_EXCEEDED]


def test_blind_time_restarts_the_absence_countdown() -> None:
    room = Room()
    room.run(5, faces=1)
    room.run(40, faces=0)
    room.blind(30)  # lens covered: says nothing about who is in the room
    room.run(40, faces=0)
    assert room.events == []
    room.run(21, faces=0)
    assert room.types() == [EventType.PERSON_ABSENT]


def test_unknown_face_after_its_dwell_and_cleared_after_its_clear_dwell() -> None:
    room = Room()
    stranger = IdentityVerdict(unknown=1, similarity=0.12, threshold=0.363)
    resident = IdentityVerdict(unknown=0, similarity=0.91, threshold=0.363)
    room.run(9, faces=1, identity=stranger)
    assert room.events == []
    room.run(2, faces=1, identity=stranger)
    assert room.types() == [EventType.UNKNOWN_FACE]
    data = room.events[0][2]
    assert data["unknown_faces"] == 1 and data["similarity"] == 0.12 and data["threshold"] == 0.363
    room.run(9, faces=1, identity=resident)
    room.run(2, faces=1, identity=resident)
    assert room.types() == [EventType.UNKNOWN_FACE, EventType.UNKNOWN_FACE_CLEARED]
    assert room.events[1][2]["unknown_for_s"] > 10


def test_identity_off_never_raises_identity_events() -> None:
    room = Room()
    room.run(60, faces=1, identity=None)
    assert room.events == []


def test_restored_snapshot_reports_the_return_after_a_restart() -> None:
    before = RoomSnapshot(person_present=False, crowded=True, unknown_face=False, camera=CameraState.OK)
    assert RoomSnapshot.from_dict(before.to_dict()) == before
    room = Room(snapshot=before)
    room.run(16, faces=1)
    assert room.types() == [EventType.PERSON_PRESENT, EventType.OCCUPANCY_NORMAL]
    assert room.occupancy.snapshot(CameraState.OK) == RoomSnapshot(True, False, False, CameraState.OK)
