"""Greedy non-maximum suppression over axis-aligned boxes. Pure numpy."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def box_iou(box: NDArray[np.float32], others: NDArray[np.float32]) -> NDArray[np.float32]:
    """Intersection over union of one (x, y, w, h) box with each row of `others`."""
    x0 = np.maximum(box[0], others[:, 0])
    y0 = np.maximum(box[1], others[:, 1])
    x1 = np.minimum(box[0] + box[2], others[:, 0] + others[:, 2])
    y1 = np.minimum(box[1] + box[3], others[:, 1] + others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = box[2] * box[3] + others[:, 2] * others[:, 3] - inter
    # Degenerate (zero-area) boxes overlap nothing rather than dividing by zero.
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0).astype(np.float32)


def suppress_overlaps(
    boxes: NDArray[np.float32], scores: NDArray[np.float32], iou_threshold: float, top_k: int = 5000
) -> NDArray[np.intp]:
    """Indices of the boxes kept, best score first: each kept box removes later ones overlapping it more
    than `iou_threshold`. Only the `top_k` best candidates are considered (bounds the quadratic cost)."""
    if boxes.shape[0] == 0:
        return np.empty(0, dtype=np.intp)
    order = np.argsort(-scores, kind="stable")[:top_k]
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        if rest.size == 0:
            break
        order = rest[box_iou(boxes[best], boxes[rest]) <= iou_threshold]
    return np.asarray(keep, dtype=np.intp)
