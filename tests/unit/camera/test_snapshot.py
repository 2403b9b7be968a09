"""Blurred snapshots: every face obscured, the rest of the picture kept; all blurred if detection fails."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.camera.detector import Face, Image
from edge.camera.snapshot import MIN_WIDTH, blur_faces, blurred_snapshot, take_snapshot
from tests.support.camera import photo, yunet


class BrokenDetector:
    def detect(self, frame: Image) -> list[Face]:
        raise RuntimeError("model file unreadable")


def decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def test_faces_are_blurred_beyond_detection_and_the_room_is_kept() -> None:
    image = photo("astronaut")
    jpeg = blurred_snapshot(image, yunet(0.5))
    assert jpeg[:2] == b"\xff\xd8"  # a JPEG
    picture = decode(jpeg)
    assert picture.shape == image.shape
    assert yunet(0.3).detect(picture) == []  # not even a doubtful face is left
    corner = (slice(300, 500), slice(350, 500))  # the helmet, far from the face
    assert np.abs(picture[corner].astype(int) - image[corner].astype(int)).mean() < 6


def test_the_face_region_itself_changes_a_lot() -> None:
    image = photo("astronaut")
    face = yunet().detect(image)[0]
    x0, y0, x1, y1 = face.clipped(512, 512)
    blurred = blur_faces(image, [face])
    assert np.abs(blurred[y0:y1, x0:x1].astype(int) - image[y0:y1, x0:x1].astype(int)).mean() > 15


def test_detection_failure_blurs_the_whole_frame() -> None:
    image = photo("astronaut")
    face = yunet().detect(image)[0]
    picture = decode(blurred_snapshot(image, BrokenDetector()))
    # At most the whole blurred picture reads as one vague blob: nothing the size of the face, near it.
    for found in yunet(0.3).detect(picture):
        assert found.w > 3 * face.w
    edges = cv2.Canny(cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY), 50, 150)
    assert np.count_nonzero(edges) < 0.01 * edges.size  # nothing sharp anywhere
    assert decode(blurred_snapshot(image, None)).shape == image.shape


def test_two_people_both_blurred() -> None:
    from firmware_sim.camera import RoomScene, SimulatedCamera

    scene = RoomScene(id="room-1", duration_s=1, initial={"person": True, "visitor": True})
    frame, label = SimulatedCamera(scene).frame(0)
    faces = yunet().detect(frame)
    assert label.faces == 2 and len(faces) == 2
    picture = decode(blurred_snapshot(frame, yunet(0.5)))
    assert yunet(0.5).detect(picture) == []
    for found in yunet(0.3).detect(picture):  # a vague body-sized blob at most, never a face
        assert found.w > 2.5 * max(face.w for face in faces)


def test_take_snapshot_tells_how_many_faces_it_blurred() -> None:
    from firmware_sim.camera import RoomScene, SimulatedCamera

    scene = RoomScene(id="room-1", duration_s=1, initial={"person": True, "visitor": True})
    frame, _ = SimulatedCamera(scene).frame(0)
    shot = take_snapshot(frame, yunet(0.5))
    assert shot.faces == 2 and shot.jpeg == blurred_snapshot(frame, yunet(0.5))
    assert take_snapshot(frame, BrokenDetector()).faces is None  # the whole frame blurred instead


class NoFaces:
    def detect(self, frame: Image) -> list[Face]:
        return []


def test_a_snapshot_over_its_size_cap_is_made_smaller_until_it_fits() -> None:
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, size=(960, 1280, 3), dtype=np.uint8)  # incompressible
    full = take_snapshot(noise, NoFaces())
    assert full.faces == 0 and decode(full.jpeg).shape[1] == 1280
    capped = take_snapshot(noise, NoFaces(), max_bytes=len(full.jpeg) // 6)
    assert len(capped.jpeg) <= len(full.jpeg) // 6 and decode(capped.jpeg).shape[1] < 1280
    with pytest.raises(ValueError, match="does not fit"):
        take_snapshot(noise, NoFaces(), max_bytes=1000)  # not even at MIN_WIDTH pixels
    assert decode(take_snapshot(noise, NoFaces(), max_bytes=60_000).jpeg).shape[1] >= MIN_WIDTH
