"""Enrolled faces, per room, on the edge only: embeddings (128 numbers each), never photos.

One JSON file per room under the agent's state directory (`<state dir>/faces/<room id>.json`), written
atomically and readable by the agent's user only. Each file records the recognition model's sha256, so
embeddings from another model are refused rather than silently compared.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from edge.camera.detector import Detector, Image
from edge.camera.identity import Embedding, normalise
from edge.camera.models import SFACE
from edge.camera.pipeline import Embedder

FORMAT_VERSION = 1
EMBEDDING_SIZE = 128
MAX_EMBEDDINGS = 20  # a few photos per person (lighting, glasses) are plenty


class EnrollmentError(ValueError):
    """A photo or a stored file cannot be used for enrollment."""


class EnrollmentStore:
    """The enrolled embeddings of every room of one site."""

    def __init__(self, directory: Path, model_sha256: str = SFACE.sha256) -> None:
        self.directory = directory
        self.model_sha256 = model_sha256

    def path(self, room_id: str) -> Path:
        """The room's file."""
        return self.directory / f"{room_id}.json"

    def load(self, room_id: str) -> NDArray[np.float32] | None:
        """The room's embeddings (K x 128, unit rows), or None if nobody is enrolled."""
        path = self.path(room_id)
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != FORMAT_VERSION or data.get("room_id") != room_id:
            raise EnrollmentError(f"{path}: not an enrollment file of room {room_id}")
        if data.get("model_sha256") != self.model_sha256:
            raise EnrollmentError(f"{path}: enrolled with another recognition model; enroll again")
        rows = np.asarray(data.get("embeddings", []), dtype=np.float32)
        if rows.size == 0:
            return None
        if rows.ndim != 2 or rows.shape[1] != EMBEDDING_SIZE:
            raise EnrollmentError(f"{path}: embeddings must be {EMBEDDING_SIZE} numbers each")
        return np.stack([normalise(row) for row in rows])

    def add(self, room_id: str, embedding: Embedding, *, replace: bool = False) -> int:
        """Store one more embedding for the room (or only this one with `replace`); returns the count."""
        current = None if replace else self.load(room_id)
        rows = [normalise(embedding)] if current is None else [*current, normalise(embedding)]
        rows = rows[-MAX_EMBEDDINGS:]
        payload = {
            "version": FORMAT_VERSION,
            "room_id": room_id,
            "model_sha256": self.model_sha256,
            "embeddings": [[round(float(v), 6) for v in row] for row in rows],
        }
        self._write(self.path(room_id), json.dumps(payload))
        return len(rows)

    def remove(self, room_id: str) -> bool:
        """Forget the room's enrolled faces; True if there were any."""
        path = self.path(room_id)
        existed = path.is_file()
        path.unlink(missing_ok=True)
        return existed

    def _write(self, path: Path, text: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        handle, scratch = tempfile.mkstemp(dir=self.directory, prefix=".enroll-")
        try:
            os.fchmod(handle, 0o600)  # biometric data: the agent's user only
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(scratch, path)
        finally:
            Path(scratch).unlink(missing_ok=True)


def embed_photo(photo: Image, detector: Detector, embedder: Embedder) -> tuple[Embedding, float]:
    """The embedding of the one face in a photo, and its detection score; the photo is not kept."""
    faces = detector.detect(photo)
    if len(faces) != 1:
        raise EnrollmentError(f"the photo must show exactly one face; found {len(faces)}")
    return embedder.embed(photo, faces[0]), faces[0].score
