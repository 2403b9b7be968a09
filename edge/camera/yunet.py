"""YuNet face detection (OpenCV Zoo, 2023mar) on onnxruntime, with its output decoding and NMS here.

The model (models/face_detection_yunet_2023mar_dynamic.onnx, input size made dynamic) takes a 1x3xHxW
float BGR tensor with values 0-255 and no normalisation, H and W multiples of 32. For each stride s in 8,
16 and 32 it gives, per anchor point (row r, column c of an (H/s) x (W/s) grid):

- `cls_s`, `obj_s`: class and objectness probabilities; the face score is sqrt(cls * obj);
- `bbox_s`: (dx, dy, log w, log h): centre ((c + dx) s, (r + dy) s), size (exp(log w) s, exp(log h) s);
- `kps_s`: five landmarks (x, y), each ((c + kx) s, (r + ky) s).

Decoding and NMS are plain numpy so another runtime (or another model) is one new file behind `Detector`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from edge.camera.detector import Face, Image, Landmarks
from edge.camera.nms import suppress_overlaps

STRIDES = (8, 16, 32)
INPUT_NAME = "input"
DEFAULT_SCORE_THRESHOLD = 0.8  # below ~0.8 YuNet sometimes scores hands and decorations as faces
DEFAULT_NMS_THRESHOLD = 0.3  # OpenCV Zoo's value: neighbouring anchors of one face overlap far more
DEFAULT_TOP_K = 5000


def padded_size(height: int, width: int) -> tuple[int, int]:
    """The smallest size at or above (height, width) that is a multiple of 32 on both axes."""
    return -(-height // 32) * 32, -(-width // 32) * 32


def to_input(frame: Image) -> NDArray[np.float32]:
    """A BGR uint8 frame as the model's 1x3xHxW float tensor, zero-padded at the bottom and right."""
    height, width = frame.shape[:2]
    pad_h, pad_w = padded_size(height, width)
    if (pad_h, pad_w) == (height, width):
        return np.ascontiguousarray(frame.transpose(2, 0, 1)[None], dtype=np.float32)
    tensor = np.zeros((1, 3, pad_h, pad_w), dtype=np.float32)
    tensor[0, :, :height, :width] = frame.transpose(2, 0, 1)
    return tensor


def decode_yunet(
    outputs: Mapping[str, NDArray[np.float32]],
    input_size: tuple[int, int],
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """Candidate faces from the raw outputs: boxes (N x 4: x, y, w, h), scores (N), landmarks (N x 10).

    `input_size` is the (height, width) of the tensor the model ran on. Only anchors scoring at or above
    the threshold are decoded, so the cost follows the number of faces, not the number of anchors.
    """
    height, width = input_size
    boxes, scores, points = [], [], []
    for stride in STRIDES:
        cols = width // stride
        cls = np.clip(outputs[f"cls_{stride}"].reshape(-1), 0.0, 1.0)
        if cls.size != (height // stride) * cols:
            raise ValueError(f"cls_{stride} has {cls.size} anchors, not the grid of a {height}x{width} input")
        obj = np.clip(outputs[f"obj_{stride}"].reshape(-1), 0.0, 1.0)
        score = np.sqrt(cls * obj)
        index = np.flatnonzero(score >= score_threshold)
        if index.size == 0:
            continue
        row, col = np.divmod(index, cols)
        origin = np.stack([col, row], axis=1).astype(np.float32)  # anchor (c, r)
        raw_box = outputs[f"bbox_{stride}"].reshape(-1, 4)[index]
        centre = (origin + raw_box[:, :2]) * stride
        size = np.exp(raw_box[:, 2:]) * stride
        boxes.append(np.concatenate([centre - size / 2, size], axis=1))
        raw_kps = outputs[f"kps_{stride}"].reshape(-1, 5, 2)[index]
        points.append(((raw_kps + origin[:, None, :]) * stride).reshape(-1, 10))
        scores.append(score[index])
    if not scores:
        empty = np.empty((0,), dtype=np.float32)
        return empty.reshape(0, 4), empty, empty.reshape(0, 10)
    return (
        np.concatenate(boxes).astype(np.float32),
        np.concatenate(scores).astype(np.float32),
        np.concatenate(points).astype(np.float32),
    )


def to_faces(
    boxes: NDArray[np.float32],
    scores: NDArray[np.float32],
    points: NDArray[np.float32],
    nms_threshold: float = DEFAULT_NMS_THRESHOLD,
    top_k: int = DEFAULT_TOP_K,
) -> list[Face]:
    """Decoded candidates after non-maximum suppression, as `Face`s, best first."""
    faces = []
    for i in suppress_overlaps(boxes, scores, nms_threshold, top_k):
        p = points[i].tolist()
        landmarks: Landmarks = ((p[0], p[1]), (p[2], p[3]), (p[4], p[5]), (p[6], p[7]), (p[8], p[9]))
        x, y, w, h = boxes[i].tolist()
        faces.append(Face(x, y, w, h, float(scores[i]), landmarks))
    return faces


class YuNetDetector:
    """The `Detector` for YuNet through onnxruntime (one session; safe to share between camera threads)."""

    def __init__(
        self,
        model_path: Path,
        *,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        nms_threshold: float = DEFAULT_NMS_THRESHOLD,
        top_k: int = DEFAULT_TOP_K,
        threads: int = 1,
    ) -> None:
        # Imported here: the decoding above stays usable (and testable) without the runtime.
        from edge.camera.runtime import create_session

        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.top_k = top_k
        self._session = create_session(model_path, threads)
        self._names = [output.name for output in self._session.get_outputs()]

    def detect(self, frame: Image) -> list[Face]:
        """Faces in a BGR frame, best first."""
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected an H x W x 3 BGR frame, got shape {frame.shape}")
        tensor = to_input(frame)
        raw = self._session.run(self._names, {INPUT_NAME: tensor})
        outputs = dict(zip(self._names, raw, strict=True))
        boxes, scores, points = decode_yunet(outputs, tensor.shape[2:4], self.score_threshold)
        return to_faces(boxes, scores, points, self.nms_threshold, self.top_k)
