"""Face alignment: the similarity transform and the 112 x 112 crop SFace expects."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge.camera.alignment import CROP_SIZE, TEMPLATE, align_face, similarity_transform
from edge.camera.detector import Face
from tests.support.camera import photo, yunet


def rotation(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    a = math.radians(angle_deg)
    return np.array(
        [
            [scale * math.cos(a), -scale * math.sin(a), shift[0]],
            [scale * math.sin(a), scale * math.cos(a), shift[1]],
        ]
    )


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def test_recovers_a_known_similarity_exactly() -> None:
    truth = rotation(17.0, 2.5, (30.0, -12.0))
    src = apply(truth, TEMPLATE)
    estimated = similarity_transform(TEMPLATE, src)
    assert estimated == pytest.approx(truth, abs=1e-9)


def test_never_mirrors_the_face() -> None:
    mirrored = TEMPLATE * np.array([-1.0, 1.0])
    matrix = similarity_transform(mirrored, TEMPLATE)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_refuses_degenerate_points() -> None:
    with pytest.raises(ValueError):
        similarity_transform(np.ones((5, 2)), TEMPLATE)


def test_aligned_crop_puts_the_landmarks_on_the_template() -> None:
    image = photo("astronaut")
    face = yunet().detect(image)[0]
    crop = align_face(image, face)
    assert crop.shape == (CROP_SIZE, CROP_SIZE, 3)
    matrix = similarity_transform(np.asarray(face.landmarks), TEMPLATE)
    moved = apply(matrix, np.asarray(face.landmarks))
    assert np.abs(moved - TEMPLATE).max() < 6.0  # a real face is not exactly the template's shape


def test_rotated_face_is_turned_upright() -> None:
    points = apply(rotation(30.0, 1.2, (200.0, 100.0)), TEMPLATE)
    face = Face(0, 0, 10, 10, 1.0, tuple(map(tuple, points)))  # type: ignore[arg-type]
    matrix = similarity_transform(np.asarray(face.landmarks), TEMPLATE)
    angle = math.degrees(math.atan2(matrix[1, 0], matrix[0, 0]))
    assert angle == pytest.approx(-30.0, abs=1e-6)
