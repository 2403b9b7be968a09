"""The only picture that ever leaves the edge: a snapshot on explicit request, every face blurred.

Faces found by the detector are pixelated and blurred beyond recognition (with a margin around each box
for hair and ears); if the detector fails, the whole frame is blurred instead. A face the detector misses
stays visible, so snapshots should use a low score threshold (more boxes blurred costs nothing).

`qmon camera snapshot` writes one on the box; the edge agent sends one to the hub when an officer asks
(edge/commands.py), both through `take_snapshot`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from edge.camera.detector import Detector, Face, Image

log = logging.getLogger(__name__)

SNAPSHOT_SCORE_THRESHOLD = 0.5  # what `qmon camera snapshot` uses: blur the doubtful boxes too
FACE_MARGIN = 0.3  # of the box size, each side
# A face region keeps 4 colour blocks across, then a blur half its size: YuNet is robust to ordinary blur
# and finds faces through a 12-pixel mosaic, but not through this (tests/unit/camera/test_snapshot.py).
BLOCKS_ACROSS = 4
MIN_WIDTH = 160  # a picture too big for its size cap is halved, but never below this width


def _obscure(region: Image) -> Image:
    height, width = region.shape[:2]
    across = max(1, min(BLOCKS_ACROSS, width))
    down = max(1, round(across * height / width))
    small = cv2.resize(region, (across, down), interpolation=cv2.INTER_AREA)
    smooth = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    kernel = max(3, (min(width, height) // 2) | 1)
    return np.asarray(cv2.GaussianBlur(smooth, (kernel, kernel), 0), dtype=np.uint8)


def blur_faces(frame: Image, faces: list[Face], margin: float = FACE_MARGIN) -> Image:
    """A copy of `frame` with every face region (plus `margin`) obscured."""
    out = frame.copy()
    height, width = frame.shape[:2]
    for face in faces:
        grown = Face(
            face.x - face.w * margin,
            face.y - face.h * margin,
            face.w * (1 + 2 * margin),
            face.h * (1 + 2 * margin),
            face.score,
            face.landmarks,
        )
        x0, y0, x1, y1 = grown.clipped(width, height)
        if x1 > x0 and y1 > y0:
            out[y0:y1, x0:x1] = _obscure(out[y0:y1, x0:x1])
    return out


def blur_all(frame: Image) -> Image:
    """The whole frame blurred so heavily that no face can be recognised (layout still visible)."""
    height, width = frame.shape[:2]
    small = cv2.resize(frame, (max(1, width // 32), max(1, height // 32)), interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR), dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class BlurredSnapshot:
    """A snapshot ready to leave the box."""

    jpeg: bytes
    faces: int | None  # faces found and blurred; None: detection failed and the whole frame is blurred


def take_snapshot(
    frame: Image, detector: Detector | None, *, quality: int = 85, max_bytes: int | None = None
) -> BlurredSnapshot:
    """`frame` with every detected face blurred (or all of it if detection is impossible), as a JPEG.

    With `max_bytes`, a JPEG over the cap is encoded again at a lower quality, then at half the size
    until it fits (ValueError if even MIN_WIDTH pixels do not).
    """
    faces: int | None
    try:
        if detector is None:
            raise RuntimeError("no detector")
        found = detector.detect(frame)
        picture, faces = blur_faces(frame, found), len(found)
    except Exception as exc:
        log.warning("snapshot: face detection failed (%s); blurring the whole frame", exc)
        picture, faces = blur_all(frame), None
    return BlurredSnapshot(_encode(picture, quality, max_bytes), faces)


def blurred_snapshot(frame: Image, detector: Detector | None, *, quality: int = 85) -> bytes:
    """JPEG bytes of `frame` with every detected face blurred, or all of it if detection is impossible."""
    return take_snapshot(frame, detector, quality=quality).jpeg


def _encode(picture: Image, quality: int, max_bytes: int | None) -> bytes:
    jpeg = _jpeg(picture, quality)
    if max_bytes is None or len(jpeg) <= max_bytes:
        return jpeg
    quality = min(quality, 60)
    while True:
        jpeg = _jpeg(picture, quality)
        if len(jpeg) <= max_bytes:
            return jpeg
        height, width = picture.shape[:2]
        if width // 2 < MIN_WIDTH:
            raise ValueError(f"the snapshot does not fit in {max_bytes} bytes")
        size = (width // 2, max(1, height // 2))
        picture = np.asarray(cv2.resize(picture, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _jpeg(picture: Image, quality: int) -> bytes:
    ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("could not encode the snapshot as JPEG")
    return bytes(encoded.tobytes())
