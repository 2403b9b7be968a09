"""Face alignment for recognition: a similarity transform from five landmarks onto SFace's template.

The template is ArcFace's five points in a 112 x 112 crop (the one OpenCV's FaceRecognizerSF uses); the
transform is the least-squares similarity (rotation, uniform scale, translation) of Umeyama (1991).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from edge.camera.detector import Face, Image

CROP_SIZE = 112
TEMPLATE = np.array(
    [
        [38.2946, 51.6963],  # eye on the left of the image
        [73.5318, 51.5014],  # eye on the right
        [56.0252, 71.7366],  # nose tip
        [41.5493, 92.3655],  # mouth corner on the left
        [70.7299, 92.2041],  # mouth corner on the right
    ],
    dtype=np.float64,
)


def similarity_transform(src: NDArray[np.float64], dst: NDArray[np.float64]) -> NDArray[np.float64]:
    """The 2 x 3 matrix of the similarity mapping points `src` (N x 2) onto `dst` best (least squares)."""
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or src.shape[0] < 2:
        raise ValueError("need two equal N x 2 point sets, N >= 2")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = float((src_c**2).sum() / len(src))
    if src_var <= 1e-12:
        raise ValueError("source points coincide")
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    # A reflection would mirror the face; force a proper rotation (Umeyama's correction term).
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(singular) @ sign)) / src_var
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def align_face(frame: Image, face: Face) -> Image:
    """The 112 x 112 BGR crop of `face`, rotated and scaled so its landmarks sit on the template."""
    src = np.asarray(face.landmarks, dtype=np.float64)
    matrix = similarity_transform(src, TEMPLATE)
    aligned = cv2.warpAffine(frame, matrix, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR)
    return np.asarray(aligned, dtype=np.uint8)
