"""Identity check with SFace (OpenCV Zoo, 2021dec) on onnxruntime: aligned face -> unit embedding.

SFace takes a 1x3x112x112 float RGB tensor, values 0-255 (its graph normalises), and gives a 128-value
feature; two faces are the same person when the cosine similarity of their features is at least about
0.363 (OpenCV's threshold; the same person scores ~0.9, strangers ~0.3 or less).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from edge.camera.detector import Face, Image

Embedding = NDArray[np.float32]
DEFAULT_MATCH_THRESHOLD = 0.363
INPUT_NAME = "data"


def normalise(vector: NDArray[np.floating]) -> Embedding:
    """`vector` scaled to unit length (a zero vector stays zero)."""
    norm = float(np.linalg.norm(vector))
    out: Embedding = (vector / norm if norm > 0 else vector).astype(np.float32)
    return out


def best_similarity(embedding: Embedding, enrolled: NDArray[np.float32]) -> float:
    """The highest cosine similarity of a unit embedding with the rows (unit vectors) of `enrolled`."""
    if enrolled.size == 0:
        return -1.0
    return float(np.max(enrolled @ embedding))


class SFaceEmbedder:
    """Face embeddings through onnxruntime (one session; safe to share between camera threads)."""

    def __init__(self, model_path: Path, *, threads: int = 1) -> None:
        # Imported here: the matching helpers above stay light (no OpenCV, no runtime) for settings and tests.
        from edge.camera.alignment import align_face
        from edge.camera.runtime import create_session

        self._align = align_face
        self._session = create_session(model_path, threads)
        self._output = self._session.get_outputs()[0].name

    def embed(self, frame: Image, face: Face) -> Embedding:
        """The unit-length embedding of one detected face in a BGR frame."""
        crop = self._align(frame, face)
        tensor = np.ascontiguousarray(crop[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32)
        (feature,) = self._session.run([self._output], {INPUT_NAME: tensor})
        return normalise(np.asarray(feature, dtype=np.float32).reshape(-1))
