"""The simulated room's pictures: a synthetic room and two real people cut out of public photos.

- resident: scikit-image's `astronaut.png` (Eileen Collins, NASA, public domain), head and shoulders;
- visitor: scikit-image's `camera.png` (the cameraman, CC0), head and shoulders. His face is small and
  half in profile; YuNet finds it at ~0.89 in the original, and composited at this size it stays above the
  detector's 0.8 threshold (checked by tests/unit/camera/test_sim_camera.py).
Each cut-out has a soft (feathered) mask so no hard rectangle edge is pasted into the room.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

Actor = Literal["astronaut", "cameraman"]
Image = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Sprite:
    """A cut-out person: BGR pixels and a 0-1 float mask of the same size."""

    pixels: Image
    mask: NDArray[np.float32]


Ellipse = tuple[tuple[int, int], tuple[int, int]]  # centre, half-axes


def _soft_mask(shape: tuple[int, int], ellipses: list[Ellipse]) -> NDArray[np.float32]:
    mask = np.zeros(shape, dtype=np.uint8)
    for centre, axes in ellipses:
        cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, thickness=-1)
    feathered = cv2.GaussianBlur(mask, (0, 0), sigmaX=6)
    return np.asarray(feathered, dtype=np.float32) / 255.0


@cache
def load_sprite(actor: Actor, scale: float = 1.0) -> Sprite:
    """A person's cut-out at `scale` (cached: every frame of a video reuses it)."""
    from skimage import data  # scikit-image: only the simulator needs it

    if actor == "astronaut":
        photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)  # type: ignore[no-untyped-call]
        crop = photo[20:400, 95:355]  # face at about (83..173, 42..155) of the crop
        ellipses = [((128, 110), (72, 105)), ((128, 330), (125, 130))]
    else:
        photo = cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2BGR)  # type: ignore[no-untyped-call]
        crop = photo[55:420, 140:380]  # face at about (55..115, 58..139) of the crop
        ellipses = [((90, 100), (62, 82)), ((95, 285), (92, 150))]
    mask = _soft_mask(crop.shape[:2], ellipses)
    if scale != 1.0:
        size = (round(crop.shape[1] * scale), round(crop.shape[0] * scale))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        mask = np.asarray(cv2.resize(mask, size, interpolation=cv2.INTER_AREA), dtype=np.float32)
    return Sprite(np.ascontiguousarray(crop), np.ascontiguousarray(mask[:, :, None]))


def paste(canvas: NDArray[np.float32], sprite: Sprite, x: int, y: int) -> None:
    """Blend `sprite` into a float canvas with its top-left corner at (x, y), clipped to the canvas."""
    height, width = canvas.shape[:2]
    sh, sw = sprite.pixels.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + sw, width), min(y + sh, height)
    if x0 >= x1 or y0 >= y1:
        return
    pixels = sprite.pixels[y0 - y : y1 - y, x0 - x : x1 - x].astype(np.float32)
    alpha = sprite.mask[y0 - y : y1 - y, x0 - x : x1 - x]
    region = canvas[y0:y1, x0:x1]
    region *= 1.0 - alpha
    region += alpha * pixels


@cache
def room_background(width: int, height: int, seed: int) -> Image:
    """A synthetic furnished room (wall, window, door, bed, poster, floor), the same for a given seed."""
    from skimage import data

    rng = np.random.default_rng(seed)
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    wall = np.array([170, 188, 204], np.float32) * (1.05 - 0.15 * ys)
    room = np.broadcast_to(wall, (height, width, 3)).copy()
    # Plaster: low-frequency blotches, so the wall is not a flat colour.
    blotches = cv2.resize(rng.normal(0, 6, (height // 24, width // 24)).astype(np.float32), (width, height))
    room += blotches[:, :, None]
    floor_top = int(height * 0.72)
    room[floor_top:] = np.array([60, 92, 128], np.float32)
    for x in range(0, width, max(8, width // 10)):
        cv2.line(room, (x, floor_top), (x - width // 8, height), (45, 70, 100), 2)
    # Window with sky and frame, door with handle, bed, poster (scikit-image's coffee photo).
    wx0, wy0, wx1, wy1 = int(width * 0.06), int(height * 0.10), int(width * 0.30), int(height * 0.45)
    cv2.rectangle(room, (wx0, wy0), (wx1, wy1), (235, 205, 160), -1)
    cv2.rectangle(room, (wx0, wy0), (wx1, wy1), (90, 90, 95), 6)
    cv2.line(room, ((wx0 + wx1) // 2, wy0), ((wx0 + wx1) // 2, wy1), (90, 90, 95), 4)
    dx0, dy0, dx1 = int(width * 0.82), int(height * 0.18), int(width * 0.96)
    cv2.rectangle(room, (dx0, dy0), (dx1, floor_top), (50, 80, 120), -1)
    cv2.circle(room, (dx0 + 12, (dy0 + floor_top) // 2), 5, (40, 170, 210), -1)
    cv2.rectangle(
        room,
        (int(width * 0.02), int(height * 0.70)),
        (int(width * 0.40), int(height * 0.93)),
        (225, 228, 232),
        -1,
    )
    cv2.rectangle(
        room,
        (int(width * 0.03), int(height * 0.66)),
        (int(width * 0.14), int(height * 0.74)),
        (245, 245, 250),
        -1,
    )
    poster = cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)  # type: ignore[no-untyped-call]
    pw = int(width * 0.16)
    ph = round(poster.shape[0] * pw / poster.shape[1])
    px, py = int(width * 0.58), int(height * 0.08)
    room[py : py + ph, px : px + pw] = cv2.resize(poster, (pw, ph), interpolation=cv2.INTER_AREA)
    return np.asarray(np.clip(room, 0, 255), dtype=np.uint8)
