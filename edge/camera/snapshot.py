"""The only picture that ever leaves the edge: a snapshot on explicit request, every face blurred.

Faces found by the detector are pixelated and blurred beyond recognition (with a margin around each box
for hair and ears); if the detector fails, the whole frame is blurred instead. A face the detector misses
stays visible, so snapshots should use a low score threshold (more boxes blurred costs nothing).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from edge.camera.detector import Detector, Face, Image

log = logging.getLogger(__name__)

SNAPSHOT_SCORE_THRESHOLD = 0.5  # what `qmon camera snapshot` uses: blur the doubtful boxes too
FACE_MARGIN = 0.3  # of the box size, each side
# A face region keeps 4 colour blocks across, then a blur half its size: YuNet is robust to ordinary blur
# and finds faces through a 12-pixel mosaic, but not through this (tests/unit/camera/test_snapshot.py).
BLOCKS_ACROSS = 4


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


def blurred_snapshot(frame: Image, detector: Detector | None, *, quality: int = 85) -> bytes:
    """JPEG bytes of `frame` with every detected face blurred, or all of it if detection is impossible."""
    try:
        if detector is None:
            raise RuntimeError("no detector")
        picture = blur_faces(frame, detector.detect(frame))
    except Exception as exc:
        log.warning("snapshot: face detection failed (%s); blurring the whole frame", exc)
        picture = blur_all(frame)
    ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("could not encode the snapshot as JPEG")
    return bytes(encoded.tobytes())
