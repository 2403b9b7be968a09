"""Non-maximum suppression on constructed boxes."""

from __future__ import annotations

import numpy as np

from edge.camera.nms import box_iou, suppress_overlaps


def boxes(*rows: tuple[float, float, float, float]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32)


def test_iou_of_identical_disjoint_and_half_overlapping_boxes() -> None:
    base = boxes((0, 0, 10, 10))[0]
    others = boxes((0, 0, 10, 10), (20, 20, 5, 5), (5, 0, 10, 10))
    assert np.allclose(box_iou(base, others), [1.0, 0.0, 50 / 150])


def test_zero_area_boxes_overlap_nothing() -> None:
    assert box_iou(boxes((0, 0, 0, 0))[0], boxes((0, 0, 0, 0))).tolist() == [0.0]


def test_keeps_the_best_of_a_cluster_and_separate_boxes() -> None:
    b = boxes((0, 0, 10, 10), (1, 1, 10, 10), (50, 50, 10, 10), (0.5, 0, 10, 10))
    scores = np.asarray([0.8, 0.95, 0.7, 0.9], dtype=np.float32)
    assert suppress_overlaps(b, scores, 0.3).tolist() == [1, 2]


def test_threshold_decides_what_counts_as_the_same_face() -> None:
    b = boxes((0, 0, 10, 10), (5, 0, 10, 10))  # IoU 1/3
    scores = np.asarray([0.9, 0.8], dtype=np.float32)
    assert suppress_overlaps(b, scores, 0.3).tolist() == [0]
    assert suppress_overlaps(b, scores, 0.4).tolist() == [0, 1]


def test_top_k_bounds_the_candidates_and_empty_input_gives_nothing() -> None:
    b = boxes(*[(i * 20.0, 0, 10, 10) for i in range(10)])
    scores = np.linspace(0.1, 1.0, 10, dtype=np.float32)
    assert suppress_overlaps(b, scores, 0.3, top_k=3).tolist() == [9, 8, 7]
    assert suppress_overlaps(b[:0], scores[:0], 0.3).size == 0


def test_equal_scores_keep_the_earlier_box() -> None:
    b = boxes((0, 0, 10, 10), (0, 0, 10, 10))
    assert suppress_overlaps(b, np.asarray([0.9, 0.9], dtype=np.float32), 0.3).tolist() == [0]
