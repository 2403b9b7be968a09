"""The Detector port: a frame in, faces out. YuNet on onnxruntime is one implementation (yunet.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]  # H x W x 3, BGR (OpenCV's order), or H x W for grayscale
Landmarks = tuple[
    tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]
]


@dataclass(frozen=True, slots=True)
class Face:
    """One detected face: box in pixels (top-left x, y, width, height), score 0-1, five landmarks.

    Landmarks, as the viewer sees the image: eye on the left, eye on the right, nose tip, mouth corner on
    the left, mouth corner on the right (YuNet's order, which SFace's alignment template expects).
    """

    x: float
    y: float
    w: float
    h: float
    score: float
    landmarks: Landmarks

    def clipped(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The box as integer (x0, y0, x1, y1) inside a width x height image."""
        x0 = min(max(int(self.x), 0), width)
        y0 = min(max(int(self.y), 0), height)
        x1 = min(max(int(np.ceil(self.x + self.w)), 0), width)
        y1 = min(max(int(np.ceil(self.y + self.h)), 0), height)
        return x0, y0, x1, y1


class Detector(Protocol):
    """Finds faces in a BGR frame; may be called from several camera threads at once."""

    def detect(self, frame: Image) -> list[Face]:
        """Faces in `frame` above the detector's score threshold, best first."""
        ...
