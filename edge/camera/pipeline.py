"""One room's analysis of one frame: health -> motion gate -> detector -> identity -> occupancy.

Not thread-safe: each room's pipeline is driven by one camera worker. Time comes in as an argument, so a
recorded video replays through it with the video's own timestamps (tests, benchmarks).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from edge.camera.detector import Detector, Face, Image
from edge.camera.frames import fit_width, small_gray
from edge.camera.health import CameraHealth, HealthPolicy
from edge.camera.identity import DEFAULT_MATCH_THRESHOLD, Embedding, best_similarity
from edge.camera.motion import MotionGate, MotionPolicy
from edge.camera.occupancy import (
    IdentityVerdict,
    OccupancyPolicy,
    RoomChange,
    RoomOccupancy,
    RoomSnapshot,
)
from edge.decision import RoomDecision
from gateway.protocol import CameraState, EventType

DEFAULT_DETECT_WIDTH = 640  # wider frames are shrunk first: YuNet's cost grows with the pixel count
DEFAULT_IDENTITY_INTERVAL_S = 2.0
_SCORED = frozenset({EventType.PERSON_PRESENT, EventType.OCCUPANCY_EXCEEDED, EventType.UNKNOWN_FACE})


class Embedder(Protocol):
    """Turns a detected face into a unit-length embedding (SFaceEmbedder)."""

    def embed(self, frame: Image, face: Face) -> Embedding:
        """The embedding of `face` in `frame`."""
        ...


class IdentityCheck:
    """Matches the faces of a frame against a room's enrolled embeddings (kept on the edge only)."""

    def __init__(
        self, embedder: Embedder, enrolled: NDArray[np.float32], threshold: float = DEFAULT_MATCH_THRESHOLD
    ) -> None:
        if enrolled.ndim != 2 or enrolled.shape[0] == 0:
            raise ValueError("identity needs at least one enrolled embedding")
        self.embedder = embedder
        self.enrolled = enrolled
        self.threshold = threshold

    def check(self, frame: Image, faces: list[Face]) -> IdentityVerdict:
        """How many faces match no enrolled face, and the least-matching face's best similarity."""
        if not faces:
            return IdentityVerdict(0, None, self.threshold)
        scores = [best_similarity(self.embedder.embed(frame, face), self.enrolled) for face in faces]
        worst = min(scores)
        return IdentityVerdict(sum(1 for s in scores if s < self.threshold), worst, self.threshold)


@dataclass(frozen=True, slots=True)
class FrameResult:
    """What one analysed frame (or a missing one) left: the room's state and any decisions."""

    room_id: str
    time: float
    raw_faces: int  # faces in this frame (carried from the last detector run when the scene is unchanged)
    faces: int  # smoothed count, 0 while the camera is blind
    detected: bool  # whether the detector ran on this frame
    view: CameraState  # this frame's own state, before dwell
    camera: CameraState  # the reported state (OFFLINE while no frame arrives)
    person_present: bool | None
    brightness: float | None
    decisions: tuple[RoomDecision, ...]
    snapshot: RoomSnapshot


def _scaled(face: Face, scale: float) -> Face:
    if scale == 1.0:
        return face
    points = tuple((x * scale, y * scale) for x, y in face.landmarks)
    return replace(
        face,
        x=face.x * scale,
        y=face.y * scale,
        w=face.w * scale,
        h=face.h * scale,
        landmarks=points,  # type: ignore[arg-type]  # five points in, five out
    )


class RoomPipeline:
    """The per-room analysis: frames and times in, `FrameResult`s out."""

    def __init__(
        self,
        room_id: str,
        detector: Detector,
        *,
        started_at: float,
        occupancy: OccupancyPolicy | None = None,
        health: HealthPolicy | None = None,
        motion: MotionPolicy | None = None,
        identity: IdentityCheck | None = None,
        identity_interval_s: float = DEFAULT_IDENTITY_INTERVAL_S,
        detect_width: int = DEFAULT_DETECT_WIDTH,
        snapshot: RoomSnapshot | None = None,
    ) -> None:
        snapshot = snapshot or RoomSnapshot()
        self.room_id = room_id
        self.detector = detector
        self.occupancy = RoomOccupancy(
            occupancy or OccupancyPolicy(), started_at=started_at, snapshot=snapshot
        )
        self.health = CameraHealth(health or HealthPolicy(), snapshot.camera)
        self.gate = MotionGate(motion or MotionPolicy())
        self.identity = identity
        self.identity_interval_s = identity_interval_s
        self.detect_width = detect_width
        self.faces: list[Face] = []
        self.frames = 0
        self.detections = 0
        self.identity_checks = 0
        self._verdict: IdentityVerdict | None = None
        self._verdict_at = float("-inf")
        self._verdict_faces = -1

    def process(self, frame: Image, now: float) -> FrameResult:
        """Analyse one BGR frame taken at `now`."""
        self.frames += 1
        gray = small_gray(frame)
        view, health_changes = self.health.observe(gray, now)
        detected = False
        if view is CameraState.OK:
            if self.gate.should_detect(gray, now):
                self.faces = self._detect(frame)
                detected = True
        elif view is not CameraState.FROZEN:
            # Dark or covered: nothing to find, and the detector's time is better spent elsewhere. A frozen
            # picture keeps the faces it showed.
            self.faces = []
            self.gate.reset()
        decisions = [RoomDecision(self.room_id, c.type, c.time, c.evidence) for c in health_changes]
        if self.health.state is CameraState.OK:
            verdict = self._identify(frame, now) if detected else self._carried_verdict()
            for change in self.occupancy.observe(len(self.faces), now, verdict):
                decisions.append(RoomDecision(self.room_id, change.type, change.time, self._scored(change)))
        else:
            self.occupancy.blind(now)
        brightness = None if self.health.stats is None else self.health.stats.brightness
        return self._result(now, detected, view, self.health.state, brightness, decisions)

    def offline(self, now: float) -> FrameResult:
        """No frame could be read at `now` (stream down, reconnecting)."""
        self.health.interrupt()
        self.gate.reset()
        self.occupancy.blind(now)
        self.faces = []
        return self._result(now, False, CameraState.OFFLINE, CameraState.OFFLINE, None, [])

    def snapshot(self) -> RoomSnapshot:
        """What has been reported about the room, to persist."""
        return self.occupancy.snapshot(self.health.state)

    # ---- internals --------------------------------------------------------------------------------------

    def _detect(self, frame: Image) -> list[Face]:
        self.detections += 1
        small, scale = fit_width(frame, self.detect_width)
        return [_scaled(face, scale) for face in self.detector.detect(small)]

    def _identify(self, frame: Image, now: float) -> IdentityVerdict | None:
        if self.identity is None:
            return None
        count = len(self.faces)
        # Embedding costs several detector runs: check on a change of the count, else every interval.
        if count == self._verdict_faces and now - self._verdict_at < self.identity_interval_s:
            return self._verdict
        if count:
            self.identity_checks += 1
        self._verdict = self.identity.check(frame, self.faces)
        self._verdict_at, self._verdict_faces = now, count
        return self._verdict

    def _carried_verdict(self) -> IdentityVerdict | None:
        return self._verdict if len(self.faces) == self._verdict_faces else None

    def _scored(self, change: RoomChange) -> dict[str, Any]:
        evidence = dict(change.evidence)
        if change.type in _SCORED and self.faces:
            evidence["score"] = round(max(face.score for face in self.faces), 3)
        return evidence

    def _result(
        self,
        now: float,
        detected: bool,
        view: CameraState,
        camera: CameraState,
        brightness: float | None,
        decisions: list[RoomDecision],
    ) -> FrameResult:
        return FrameResult(
            room_id=self.room_id,
            time=now,
            raw_faces=len(self.faces),
            faces=self.occupancy.faces,
            detected=detected,
            view=view,
            camera=camera,
            person_present=self.occupancy.present,
            brightness=None if brightness is None else round(brightness, 1),
            decisions=tuple(decisions),
            snapshot=self.snapshot(),
        )
