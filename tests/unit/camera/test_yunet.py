"""YuNet decoding and NMS: constructed outputs, and real photos (scikit-image)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from edge.camera.models import detector_path
from edge.camera.yunet import STRIDES, decode_yunet, padded_size, to_faces, to_input
from tests.support.camera import photo, yunet


def empty_outputs(height: int, width: int) -> dict[str, np.ndarray]:
    """Raw outputs of a frame with nothing in it (every score zero)."""
    out = {}
    for s in STRIDES:
        n = (height // s) * (width // s)
        out |= {
            f"cls_{s}": np.zeros((1, n, 1), np.float32),
            f"obj_{s}": np.zeros((1, n, 1), np.float32),
            f"bbox_{s}": np.zeros((1, n, 4), np.float32),
            f"kps_{s}": np.zeros((1, n, 10), np.float32),
        }
    return out


def test_one_anchor_decodes_to_its_box_score_and_landmarks() -> None:
    out = empty_outputs(64, 96)
    cols = 96 // 16
    index = 2 * cols + 3  # row 2, column 3 of the stride-16 grid
    out["cls_16"][0, index, 0], out["obj_16"][0, index, 0] = 0.81, 1.0
    out["bbox_16"][0, index] = [0.5, 0.25, math.log(2.0), math.log(3.0)]
    out["kps_16"][0, index] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    boxes, scores, points = decode_yunet(out, (64, 96), 0.8)
    assert scores.tolist() == pytest.approx([0.9])  # sqrt(0.81 * 1.0)
    # centre ((3 + 0.5) * 16, (2 + 0.25) * 16) = (56, 36); size (32, 48)
    assert boxes[0].tolist() == pytest.approx([40.0, 12.0, 32.0, 48.0])
    assert points[0, :2].tolist() == pytest.approx([(3 + 0.1) * 16, (2 + 0.2) * 16])


def test_scores_below_the_threshold_and_out_of_range_values_are_handled() -> None:
    out = empty_outputs(32, 32)
    out["cls_8"][0, 0, 0], out["obj_8"][0, 0, 0] = 0.7, 0.7  # 0.7 < 0.8
    out["cls_32"][0, 0, 0], out["obj_32"][0, 0, 0] = 1.4, 1.0  # clipped to 1
    boxes, scores, _ = decode_yunet(out, (32, 32), 0.8)
    assert scores.tolist() == [1.0] and boxes.shape == (1, 4)


def test_outputs_of_another_size_are_refused() -> None:
    with pytest.raises(ValueError, match="anchors"):
        decode_yunet(empty_outputs(64, 64), (32, 64), 0.8)


def test_frames_are_padded_to_multiples_of_32() -> None:
    assert padded_size(480, 640) == (480, 640)
    assert padded_size(427, 640) == (448, 640)
    tensor = to_input(np.full((10, 20, 3), 7, np.uint8))
    assert tensor.shape == (1, 3, 32, 32) and tensor.dtype == np.float32
    assert tensor[0, :, :10, :20].min() == 7 and tensor[0, :, 10:, :].max() == 0


def test_decoded_neighbours_collapse_to_one_face() -> None:
    boxes = np.asarray([[10, 10, 50, 60], [11, 10, 50, 61], [200, 10, 40, 50]], np.float32)
    faces = to_faces(boxes, np.asarray([0.9, 0.95, 0.85], np.float32), np.zeros((3, 10), np.float32))
    assert [round(f.score, 2) for f in faces] == [0.95, 0.85]


def test_exactly_one_face_on_the_astronaut() -> None:
    faces = yunet().detect(photo("astronaut"))
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.9
    x0, y0, x1, y1 = face.clipped(512, 512)
    assert (170 < x0 < 190) and (55 < y0 < 75) and (80 < x1 - x0 < 100) and (100 < y1 - y0 < 125)
    for x, y in face.landmarks:  # eyes, nose and mouth corners inside the box
        assert x0 <= x <= x1 and y0 <= y <= y1
    left_eye, right_eye = face.landmarks[0], face.landmarks[1]
    assert left_eye[0] < right_eye[0]


def test_the_cameraman_is_found_despite_his_half_profile() -> None:
    faces = yunet().detect(photo("camera"))
    assert len(faces) == 1 and faces[0].score > 0.8


@pytest.mark.parametrize("name", ["coffee", "rocket", "chelsea"])
def test_no_face_where_there_is_no_person(name: str) -> None:
    assert yunet().detect(photo(name)) == []


def test_same_box_as_opencvs_own_decoder_on_the_same_model() -> None:
    image = photo("astronaut")
    reference = cv2.FaceDetectorYN.create(str(detector_path()), "", (512, 512), 0.8, 0.3, 5000)
    _, rows = reference.detect(image)
    assert rows is not None and len(rows) == 1
    ours = yunet().detect(image)[0]
    assert [ours.x, ours.y, ours.w, ours.h] == pytest.approx(rows[0][:4].tolist(), abs=1.0)
    assert np.asarray(ours.landmarks).ravel().tolist() == pytest.approx(rows[0][4:14].tolist(), abs=1.0)
    assert ours.score == pytest.approx(float(rows[0][14]), abs=0.01)


def test_grey_and_odd_sized_frames_are_refused_or_padded() -> None:
    with pytest.raises(ValueError):
        yunet().detect(np.zeros((48, 64), np.uint8))
    cropped = photo("astronaut")[:427, :500]  # neither side a multiple of 32
    assert len(yunet().detect(cropped)) == 1
