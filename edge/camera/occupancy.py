"""Who is in a room: face counts -> person absent/present, occupancy exceeded/normal, unknown face. Pure.

Time always comes in as an argument; nothing here reads a clock.

- Counts are smoothed: the reported count is the median of the counts of the last `smooth_s` seconds, so
  one missed or spurious detection does not move it.
- Each onset needs its condition to hold for a dwell (a run of frames; gaps shorter than `gap_s` do not
  break a run, since a face turned away for a moment is not a departure), and each clear needs the
  condition to have been absent for its own dwell.
- Absent: no face for `absent_after_s`. Present again: a face for `present_after_s` (quick: a false
  "back" costs less than a missed one). At start-up the state is unknown: seeing the person settles it
  silently, not seeing them for `absent_after_s` reports PERSON_ABSENT.
- While the camera is blind (covered, dark, frozen, offline) nothing is observed, and every countdown
  restarts when it sees again: a covered lens raises its own alert and says nothing about who is inside.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge.decision import format_time
from gateway.protocol import CameraState, EventType

DEFAULT_GAP_S = 2.0  # seconds without a face that do not break a run of observations


@dataclass(frozen=True, slots=True)
class OccupancyPolicy:
    """Dwell times (seconds) and the number of people a room may hold."""

    allowed: int = 1
    absent_after_s: float = 60.0
    present_after_s: float = 5.0
    crowd_after_s: float = 30.0
    normal_after_s: float = 15.0
    unknown_after_s: float = 10.0
    unknown_clear_s: float = 10.0
    gap_s: float = DEFAULT_GAP_S
    smooth_s: float = 2.0

    def __post_init__(self) -> None:
        if self.allowed < 0:
            raise ValueError("allowed cannot be negative")
        dwells = (self.absent_after_s, self.present_after_s, self.crowd_after_s, self.normal_after_s)
        if min(*dwells, self.unknown_after_s, self.unknown_clear_s, self.gap_s, self.smooth_s) < 0:
            raise ValueError("dwell times cannot be negative")


@dataclass(frozen=True, slots=True)
class IdentityVerdict:
    """The identity check of one frame: how many faces matched no enrolled face, and the closest call."""

    unknown: int
    similarity: float | None  # best similarity of the least-matching face (None: no face checked)
    threshold: float


@dataclass(frozen=True, slots=True)
class RoomChange:
    """A room decision before it is addressed to a room: type, time and evidence."""

    type: EventType
    time: float
    evidence: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RoomSnapshot:
    """What the hub was last told about a room, persisted across agent restarts."""

    person_present: bool | None = None
    crowded: bool = False
    unknown_face: bool = False
    camera: CameraState = CameraState.OK

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "person_present": self.person_present,
            "crowded": self.crowded,
            "unknown_face": self.unknown_face,
            "camera": self.camera.value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoomSnapshot:
        """Read back `to_dict` output."""
        present = data.get("person_present")
        return cls(
            person_present=None if present is None else bool(present),
            crowded=bool(data.get("crowded", False)),
            unknown_face=bool(data.get("unknown_face", False)),
            camera=CameraState(data.get("camera", CameraState.OK.value)),
        )


@dataclass(slots=True)
class _Run:
    """A condition holding over a run of observations; gaps up to `gap_s` do not end it."""

    since: float | None = None
    last: float | None = None
    peak: int = 0

    def update(self, holds: bool, now: float, gap_s: float, value: int = 0) -> None:
        if holds:
            if self.last is None or now - self.last > gap_s:
                self.since, self.peak = now, 0
            self.last = now
            self.peak = max(self.peak, value)
        elif self.last is not None and now - self.last > gap_s:
            self.since = self.last = None

    def held(self) -> float:
        return 0.0 if self.since is None or self.last is None else self.last - self.since

    def clear(self) -> None:
        self.since = self.last = None


class RoomOccupancy:
    """Occupancy state of one room."""

    def __init__(
        self, policy: OccupancyPolicy, *, started_at: float, snapshot: RoomSnapshot | None = None
    ) -> None:
        snapshot = snapshot or RoomSnapshot()
        self.policy = policy
        self.present = snapshot.person_present
        self.crowded = snapshot.crowded
        self.unknown = snapshot.unknown_face
        self.faces = 0
        self._counts: deque[tuple[float, int]] = deque()
        self._last_seen: float | None = None
        self._absence_from = started_at  # absence is counted from here when nobody was seen since
        self._absent_since = started_at
        self._seen = _Run()
        self._crowd = _Run()
        self._crowded_since = started_at
        self._crowd_peak = 0
        self._last_crowded = started_at
        self._unknown = _Run()
        self._unknown_since = started_at
        self._last_unknown = started_at
        self._blind = False

    def blind(self, now: float) -> None:
        """The camera cannot see: observe nothing until it can, then restart every countdown."""
        self._blind = True
        self.faces = 0
        self._counts.clear()

    def observe(self, faces: int, now: float, identity: IdentityVerdict | None = None) -> list[RoomChange]:
        """Take the face count of one analysed frame (and its identity verdict when identity is on)."""
        policy = self.policy
        if self._blind:
            self._blind = False
            self._absence_from = self._last_crowded = self._last_unknown = now
            self._last_seen = None
            for run in (self._seen, self._crowd, self._unknown):
                run.clear()
        count = self._smooth(faces, now)
        changes: list[RoomChange] = []
        self._seen.update(count > 0, now, policy.gap_s, count)
        if count > 0:
            self._last_seen = now
        self._presence(count, now, changes)
        over = count > policy.allowed
        self._crowd.update(over, now, policy.gap_s, count)
        if over:
            self._last_crowded = now
            self._crowd_peak = max(self._crowd_peak, count)
        self._crowding(count, now, changes)
        if identity is not None:
            unknown = identity.unknown > 0 and count > 0
            self._unknown.update(unknown, now, policy.gap_s, identity.unknown)
            if unknown:
                self._last_unknown = now
            self._identity(count, identity, now, changes)
        return changes

    def snapshot(self, camera: CameraState) -> RoomSnapshot:
        """What has been reported, to persist."""
        return RoomSnapshot(self.present, self.crowded, self.unknown, camera)

    # ---- internals --------------------------------------------------------------------------------------

    def _smooth(self, faces: int, now: float) -> int:
        counts = self._counts
        counts.append((now, faces))
        while counts and now - counts[0][0] > self.policy.smooth_s:
            counts.popleft()
        ordered = sorted(c for _, c in counts)
        self.faces = ordered[len(ordered) // 2]  # the upper median: ties go to the larger count
        return self.faces

    def _presence(self, count: int, now: float, changes: list[RoomChange]) -> None:
        policy = self.policy
        if self.present is not True and self._seen.held() >= policy.present_after_s:
            if self.present is False:
                changes.append(
                    RoomChange(
                        EventType.PERSON_PRESENT,
                        now,
                        {
                            "faces": count,
                            "absent_for_s": round(now - self._absent_since, 1),
                            "seen_s": round(self._seen.held(), 1),
                        },
                    )
                )
            self.present = True
        reference = self._last_seen if self._last_seen is not None else self._absence_from
        unseen = now - reference
        if self.present is not False and count == 0 and unseen >= policy.absent_after_s:
            changes.append(
                RoomChange(
                    EventType.PERSON_ABSENT,
                    now,
                    {
                        "faces": 0,
                        "unseen_s": round(unseen, 1),
                        "last_seen": None if self._last_seen is None else format_time(self._last_seen),
                        "previous": "unknown" if self.present is None else "present",
                        "absent_after_s": policy.absent_after_s,
                    },
                )
            )
            self.present = False
            self._absent_since = now

    def _crowding(self, count: int, now: float, changes: list[RoomChange]) -> None:
        policy, run = self.policy, self._crowd
        if not self.crowded and run.held() >= policy.crowd_after_s:
            evidence = {
                "faces": count,
                "allowed": policy.allowed,
                "max_faces": run.peak,
                "exceeded_s": round(run.held(), 1),
            }
            changes.append(RoomChange(EventType.OCCUPANCY_EXCEEDED, now, evidence))
            self.crowded, self._crowded_since, self._crowd_peak = True, now, run.peak
        elif self.crowded and now - self._last_crowded >= policy.normal_after_s:
            evidence = {
                "faces": count,
                "allowed": policy.allowed,
                "max_faces": self._crowd_peak,
                "exceeded_for_s": round(now - self._crowded_since, 1),
            }
            changes.append(RoomChange(EventType.OCCUPANCY_NORMAL, now, evidence))
            self.crowded = False

    def _identity(self, count: int, identity: IdentityVerdict, now: float, changes: list[RoomChange]) -> None:
        policy, run = self.policy, self._unknown
        similarity = None if identity.similarity is None else round(identity.similarity, 3)
        if not self.unknown and run.held() >= policy.unknown_after_s:
            evidence = {
                "faces": count,
                "unknown_faces": run.peak,
                "similarity": similarity,
                "threshold": identity.threshold,
                "unknown_s": round(run.held(), 1),
            }
            changes.append(RoomChange(EventType.UNKNOWN_FACE, now, evidence))
            self.unknown, self._unknown_since = True, now
        elif self.unknown and now - self._last_unknown >= policy.unknown_clear_s:
            evidence = {
                "faces": count,
                "similarity": similarity,
                "threshold": identity.threshold,
                "unknown_for_s": round(now - self._unknown_since, 1),
            }
            changes.append(RoomChange(EventType.UNKNOWN_FACE_CLEARED, now, evidence))
            self.unknown = False
