"""Typed settings of the facility rooms and their cameras (part of EdgeSettings: `rooms`, `camera`).

Imports only the pure policies: loading settings must not load OpenCV or onnxruntime (a bracelet-only box
never does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from edge.camera.health import HealthPolicy
from edge.camera.identity import DEFAULT_MATCH_THRESHOLD
from edge.camera.motion import MotionPolicy
from edge.camera.occupancy import DEFAULT_GAP_S, OccupancyPolicy
from edge.camera.sources import parse_source
from edge.camera.yunet import DEFAULT_NMS_THRESHOLD, DEFAULT_SCORE_THRESHOLD
from gateway.protocol import RoomId
from qmon.settings import StrictModel

_O = OccupancyPolicy()
_H = HealthPolicy()
_M = MotionPolicy()
# The same defaults as RoomPipeline's and CapturePolicy's (those modules load OpenCV).
DETECT_WIDTH = 640
IDENTITY_INTERVAL_S = 2.0
BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 30.0
SNAPSHOT_MAX_AGE_S = 10.0


class CameraSettings(StrictModel):
    """Models and inference shared by every room of the site."""

    detector_model: Path | None = Field(
        default=None, description="YuNet ONNX file; None: the repository's models/ copy (checked)."
    )
    recognizer_model: Path | None = Field(
        default=None, description="SFace ONNX file; None: the one `qmon models fetch` put in models_dir."
    )
    models_dir: Path | None = Field(
        default=None, description="Fetched models; None: $QMON_MODELS_DIR, else ~/.cache/qmon/models."
    )
    enrollment_dir: Path | None = Field(
        default=None, description="Enrolled face embeddings (one file per room); None: <state dir>/faces."
    )
    threads: int = Field(default=1, ge=1, le=16, description="onnxruntime intra-op threads per model.")
    score_threshold: float = Field(
        default=DEFAULT_SCORE_THRESHOLD, gt=0, lt=1, description="Minimum face score of the detector."
    )
    nms_threshold: float = Field(
        default=DEFAULT_NMS_THRESHOLD, gt=0, lt=1, description="Overlap (IoU) above which boxes merge."
    )
    match_threshold: float = Field(
        default=DEFAULT_MATCH_THRESHOLD, gt=-1, lt=1, description="Cosine similarity of the same person."
    )
    detect_width: int = Field(
        default=DETECT_WIDTH, ge=160, le=3840, description="Frames are shrunk to this width first."
    )
    identity_interval_s: float = Field(
        default=IDENTITY_INTERVAL_S,
        ge=0,
        description="Identity check at most this often per room (and on every change of the face count).",
    )
    snapshot_max_age_s: float = Field(
        default=SNAPSHOT_MAX_AGE_S,
        gt=0,
        le=3600,
        description="A snapshot the hub asks for is refused (camera_offline) if the room's latest frame is "
        "older than this, s.",
    )
    backoff_min_s: float = Field(default=BACKOFF_MIN_S, gt=0, description="First reconnect delay, s.")
    backoff_max_s: float = Field(default=BACKOFF_MAX_S, gt=0, description="Longest reconnect delay, s.")

    @model_validator(mode="after")
    def _check(self) -> CameraSettings:
        if self.backoff_min_s > self.backoff_max_s:
            raise ValueError("backoff_min_s must not exceed backoff_max_s")
        return self


class HealthSettings(StrictModel):
    """Thresholds of the camera-health checks (see edge/camera/health.py)."""

    dark_luma: float = Field(default=_H.dark_luma, ge=0, le=255, description="DARK below this mean luma.")
    dark_clear_luma: float = Field(
        default=_H.dark_clear_luma, ge=0, le=255, description="No longer dark at or above this mean luma."
    )
    covered_contrast: float = Field(
        default=_H.covered_contrast, ge=0, description="COVERED below this luma spread (std) ..."
    )
    covered_clear_contrast: float = Field(
        default=_H.covered_clear_contrast, ge=0, description="No longer covered at or above this spread."
    )
    covered_edges: float = Field(
        default=_H.covered_edges, ge=0, le=1, description="... and below this share of edge pixels."
    )
    covered_clear_edges: float = Field(
        default=_H.covered_clear_edges, ge=0, le=1, description="No longer covered at or above this share."
    )
    frozen_after_s: float = Field(
        default=_H.frozen_after_s, ge=0, description="FROZEN after identical frames for this long, s."
    )
    blind_after_s: float = Field(
        default=_H.blind_after_s, ge=0, description="COVERED/DARK after the condition held this long, s."
    )
    ok_after_s: float = Field(
        default=_H.ok_after_s, ge=0, description="CAMERA_OK after a clear view this long, s."
    )

    @model_validator(mode="after")
    def _check(self) -> HealthSettings:
        self.to_policy()
        return self

    def to_policy(self) -> HealthPolicy:
        """The pure-core policy."""
        return HealthPolicy(**self.model_dump())


GAP_FRAMES = 2.5  # frame intervals a run of observations may skip (at low analysis rates)


class RoomSettings(StrictModel):
    """One room of the facility and its camera."""

    room_id: RoomId
    source: str | int = Field(
        description="Camera: a video file path, an rtsp:// (or http://) URL, or a V4L2 device index."
    )
    allowed_people: int = Field(default=_O.allowed, ge=0, le=100, description="People the room may hold.")
    absent_after_s: float = Field(
        default=_O.absent_after_s, ge=0, description="PERSON_ABSENT after no face for this long, s."
    )
    present_after_s: float = Field(
        default=_O.present_after_s, ge=0, description="PERSON_PRESENT after a face for this long, s."
    )
    crowd_after_s: float = Field(
        default=_O.crowd_after_s, ge=0, description="OCCUPANCY_EXCEEDED after too many faces this long, s."
    )
    normal_after_s: float = Field(
        default=_O.normal_after_s, ge=0, description="OCCUPANCY_NORMAL after no excess for this long, s."
    )
    analysis_fps: float = Field(default=5.0, gt=0, le=30, description="Frames analysed per second.")
    recheck_s: float = Field(
        default=_M.recheck_s, ge=0, description="Run the detector at least this often without motion, s."
    )
    motion_min_changed: float = Field(
        default=_M.min_changed, ge=0, le=1, description="Share of changed pixels that counts as motion."
    )
    health: HealthSettings = Field(default_factory=HealthSettings, description="Camera-health checks.")
    identity: bool = Field(
        default=False, description="Check faces against the room's enrolled faces (needs SFace, enrollment)."
    )
    unknown_after_s: float = Field(
        default=_O.unknown_after_s, ge=0, description="UNKNOWN_FACE after an unmatched face this long, s."
    )
    unknown_clear_s: float = Field(
        default=_O.unknown_clear_s, ge=0, description="UNKNOWN_FACE_CLEARED after none for this long, s."
    )
    loop: bool = Field(default=True, description="A file source starts again at its end (simulation).")

    @field_validator("source", mode="before")
    @classmethod
    def _parse_source(cls, value: Any) -> Any:
        return parse_source(value) if isinstance(value, str | int) else value

    def occupancy_policy(self) -> OccupancyPolicy:
        """The pure-core occupancy policy."""
        return OccupancyPolicy(
            allowed=self.allowed_people,
            absent_after_s=self.absent_after_s,
            present_after_s=self.present_after_s,
            crowd_after_s=self.crowd_after_s,
            normal_after_s=self.normal_after_s,
            unknown_after_s=self.unknown_after_s,
            unknown_clear_s=self.unknown_clear_s,
            # A face missed in one frame must not break a run: tolerate at least 2.5 frame intervals.
            gap_s=max(DEFAULT_GAP_S, GAP_FRAMES / self.analysis_fps),
        )

    def motion_policy(self) -> MotionPolicy:
        """The pure-core motion-gate policy."""
        return MotionPolicy(recheck_s=self.recheck_s, min_changed=self.motion_min_changed)
