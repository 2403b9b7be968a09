"""Builds the rooms' runtime from settings: one shared detector (and embedder), a capture and a pipeline
per room, and the monitor that runs them; plus a second detector at a lower score threshold for snapshots
(a doubtful box blurred costs nothing, a face missed is a face shown)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from edge.camera.capture import Capture, CapturePolicy, SourceOpener, open_source
from edge.camera.detector import Detector
from edge.camera.enrollment import EnrollmentStore
from edge.camera.models import detector_path, recognizer_path
from edge.camera.monitor import RoomMonitor, RoomUnit
from edge.camera.occupancy import RoomSnapshot
from edge.camera.pipeline import Embedder, IdentityCheck, RoomPipeline
from edge.camera.snapshot import SNAPSHOT_SCORE_THRESHOLD
from edge.settings import EdgeSettings
from gateway.uplink import Uplink
from qmon.clock import Clock

log = logging.getLogger(__name__)


def enrollment_store(settings: EdgeSettings) -> EnrollmentStore:
    """Where the site's enrolled embeddings live (settings, else `<state dir>/faces`)."""
    directory = settings.camera.enrollment_dir or settings.state_path.parent / "faces"
    return EnrollmentStore(directory)


def build_detector(settings: EdgeSettings, *, score_threshold: float | None = None) -> Detector:
    """YuNet as configured (the model file checked), optionally at another score threshold."""
    from edge.camera.yunet import YuNetDetector

    camera = settings.camera
    return YuNetDetector(
        detector_path(camera.detector_model),
        score_threshold=camera.score_threshold if score_threshold is None else score_threshold,
        nms_threshold=camera.nms_threshold,
        threads=camera.threads,
    )


def build_embedder(settings: EdgeSettings) -> Embedder:
    """SFace as configured; ModelError if `qmon models fetch` has not been run."""
    from edge.camera.identity import SFaceEmbedder

    camera = settings.camera
    return SFaceEmbedder(recognizer_path(camera.recognizer_model, camera.models_dir), threads=camera.threads)


def build_room_monitor(
    settings: EdgeSettings,
    clock: Clock,
    uplink: Uplink,
    snapshots: Mapping[str, RoomSnapshot],
    *,
    opener: SourceOpener | None = None,
    detector: Detector | None = None,
    embedder: Embedder | None = None,
    snapshot_detector: Detector | None = None,
) -> RoomMonitor:
    """Every configured room, ready to run. Models are loaded here, so a missing one fails at start-up.

    The detectors and embedder are shared by the rooms' threads (onnxruntime sessions are thread-safe).
    A caller that passes its own `detector` and no `snapshot_detector` gets the former for snapshots too.
    """
    camera = settings.camera
    if snapshot_detector is None and detector is None:
        threshold = min(camera.score_threshold, SNAPSHOT_SCORE_THRESHOLD)
        snapshot_detector = build_detector(settings, score_threshold=threshold)
    detector = detector or build_detector(settings)
    store = enrollment_store(settings)
    identity_rooms = [room for room in settings.rooms if room.identity]
    if identity_rooms and embedder is None:
        embedder = build_embedder(settings)
    now = clock.now()
    units = []
    for room in settings.rooms:
        identity = None
        if room.identity and embedder is not None:
            enrolled = store.load(room.room_id)
            if enrolled is None:
                log.warning("room %s: identity is on but no face is enrolled; enroll one", room.room_id)
            else:
                identity = IdentityCheck(embedder, enrolled, camera.match_threshold)
        pipeline = RoomPipeline(
            room.room_id,
            detector,
            started_at=now,
            occupancy=room.occupancy_policy(),
            health=room.health.to_policy(),
            motion=room.motion_policy(),
            identity=identity,
            identity_interval_s=camera.identity_interval_s,
            detect_width=camera.detect_width,
            snapshot=snapshots.get(room.room_id),
        )
        capture = Capture(
            room.source,
            now=clock.now,
            opener=opener or open_source,
            policy=CapturePolicy(camera.backoff_min_s, camera.backoff_max_s, loop=room.loop),
        )
        units.append(
            RoomUnit(
                room.room_id,
                room.allowed_people,
                capture,
                pipeline,
                1.0 / room.analysis_fps,
                snapshot_detector=snapshot_detector,
            )
        )
    return RoomMonitor(units, uplink, clock)
