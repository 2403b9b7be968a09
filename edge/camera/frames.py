"""Frame preparation shared by the motion gate and the health checks: one small greyscale copy per frame."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from edge.camera.detector import Image

SMALL_WIDTH = 160  # 160 x 120 for 4:3: averaging 4 x 4 blocks drowns sensor noise, keeps a face's outline


def small_gray(frame: Image, width: int = SMALL_WIDTH) -> NDArray[np.uint8]:
    """A greyscale copy `width` pixels wide (area-averaged), keeping the aspect ratio."""
    gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    height = max(1, round(gray.shape[0] * width / gray.shape[1]))
    return np.asarray(cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA), dtype=np.uint8)


def fit_width(frame: Image, max_width: int) -> tuple[Image, float]:
    """`frame` shrunk to at most `max_width` pixels wide, and the factor from its coordinates back to the
    original's (1.0 when it was narrow enough already)."""
    width = frame.shape[1]
    if width <= max_width:
        return frame, 1.0
    scale = width / max_width
    height = max(1, round(frame.shape[0] / scale))
    resized = np.asarray(cv2.resize(frame, (max_width, height), interpolation=cv2.INTER_AREA), dtype=np.uint8)
    return resized, width / max_width
