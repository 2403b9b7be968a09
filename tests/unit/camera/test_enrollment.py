"""Enrollment store: embeddings only, per room, atomic, private; one face per photo."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest

from edge.camera.detector import Face, Image
from edge.camera.enrollment import EnrollmentError, EnrollmentStore, embed_photo
from edge.camera.identity import Embedding, best_similarity, normalise
from tests.support.camera import photo, yunet


class SeededEmbedder:
    """A stand-in at the Embedder port: a fixed vector per face position (the real SFace is tested in
    tests/integration/camera)."""

    def embed(self, frame: Image, face: Face) -> Embedding:
        rng = np.random.default_rng(int(face.x))
        return normalise(rng.normal(size=128))


def vector(seed: int) -> Embedding:
    return normalise(np.random.default_rng(seed).normal(size=128))


def test_round_trip_of_normalised_embeddings(tmp_path: Path) -> None:
    store = EnrollmentStore(tmp_path / "faces")
    assert store.load("room-1") is None
    assert store.add("room-1", vector(1) * 3) == 1
    assert store.add("room-1", vector(2)) == 2
    rows = store.load("room-1")
    assert rows is not None and rows.shape == (2, 128)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert best_similarity(vector(1), rows) == pytest.approx(1.0, abs=1e-5)
    assert store.add("room-1", vector(3), replace=True) == 1


def test_file_is_private_and_holds_no_picture(tmp_path: Path) -> None:
    store = EnrollmentStore(tmp_path)
    store.add("room-2", vector(4))
    path = store.path("room-2")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert set(data) == {"version", "room_id", "model_sha256", "embeddings"}
    assert [p.name for p in tmp_path.iterdir()] == ["room-2.json"]  # no temporary file left over


def test_embeddings_of_another_model_or_room_are_refused(tmp_path: Path) -> None:
    EnrollmentStore(tmp_path, model_sha256="0" * 64).add("room-3", vector(5))
    with pytest.raises(EnrollmentError, match="another recognition model"):
        EnrollmentStore(tmp_path).load("room-3")
    EnrollmentStore(tmp_path).add("room-4", vector(6))
    (tmp_path / "room-5.json").write_text((tmp_path / "room-4.json").read_text())
    with pytest.raises(EnrollmentError, match="not an enrollment file"):
        EnrollmentStore(tmp_path).load("room-5")


def test_remove_forgets_the_room(tmp_path: Path) -> None:
    store = EnrollmentStore(tmp_path)
    store.add("room-6", vector(7))
    assert store.remove("room-6") and not store.remove("room-6")
    assert store.load("room-6") is None


def test_a_photo_must_show_exactly_one_face() -> None:
    embedding, score = embed_photo(photo("astronaut"), yunet(), SeededEmbedder())
    assert embedding.shape == (128,) and score > 0.9
    with pytest.raises(EnrollmentError, match="found 0"):
        embed_photo(photo("coffee"), yunet(), SeededEmbedder())
    two = np.hstack([photo("astronaut"), photo("astronaut")])
    with pytest.raises(EnrollmentError, match="found 2"):
        embed_photo(two, yunet(), SeededEmbedder())
