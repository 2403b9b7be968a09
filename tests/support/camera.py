"""Camera test helpers: real photos from scikit-image as BGR frames, and the repository's YuNet."""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
from numpy.typing import NDArray

from edge.camera.models import detector_path
from edge.camera.yunet import YuNetDetector

Image = NDArray[np.uint8]


def photo(name: str) -> Image:
    """A scikit-image sample photo ('astronaut', 'camera', 'coffee', 'rocket', ...) as a BGR frame."""
    from skimage import data

    image = getattr(data, name)()
    if image.ndim == 2:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), dtype=np.uint8)


@cache
def yunet(score_threshold: float = 0.8) -> YuNetDetector:
    """The committed YuNet model through onnxruntime (one per threshold per test session)."""
    return YuNetDetector(detector_path(), score_threshold=score_threshold)


def textured_frame(seed: int = 0, width: int = 160, height: int = 120) -> Image:
    """A grey frame with the contrast and edges of a furnished room (blocks of random levels)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(40, 220, size=(height // 10, width // 10), dtype=np.uint8)
    return np.asarray(cv2.resize(blocks, (width, height), interpolation=cv2.INTER_NEAREST), dtype=np.uint8)


def noisy(frame: Image, sigma: float, seed: int) -> Image:
    """`frame` plus Gaussian noise (what a real sensor adds to every frame)."""
    rng = np.random.default_rng(seed)
    return np.asarray(np.clip(frame + rng.normal(0, sigma, frame.shape), 0, 255), dtype=np.uint8)
