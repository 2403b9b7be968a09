"""Render a simulated room frame by frame, with ground truth; write it as a video or serve it as a source.

Frames are deterministic for a scene (seeded noise per frame index), and never identical unless the feed
is frozen, when the last live frame is repeated bit for bit, as a stuck encoder does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from firmware_sim.camera.scene import RoomScene, RoomState
from firmware_sim.camera.sprites import Image, load_sprite, paste, room_background
from gateway.protocol import CameraState

RESIDENT_SCALE = 0.8  # the resident's face ~75 x 95 px in a 640 x 480 frame
VISITOR_SCALE = 0.9  # the visitor's (smaller, half-profile) face ~55 x 75 px
COVER_BGR = (62, 78, 96)  # a hand or a piece of cloth on the lens, out of focus
DARK_GAIN = 0.025  # lights off: what little light comes from under the door (YuNet sees faces at 0.07)


@dataclass(frozen=True, slots=True)
class FrameLabel:
    """Ground truth of one frame: the faces it shows and the camera state a correct pipeline finds."""

    index: int
    time: float
    faces: int
    camera: CameraState


class SimulatedCamera:
    """One simulated room camera."""

    def __init__(self, scene: RoomScene) -> None:
        self.scene = scene
        width, height = scene.width, scene.height
        factor = width / 640
        self._background = room_background(width, height, scene.seed)
        self._resident = load_sprite(scene.resident, RESIDENT_SCALE * factor)
        self._visitor = load_sprite(scene.visitor, VISITOR_SCALE * factor)
        self._frozen: tuple[Image, FrameLabel] | None = None

    def frame(self, index: int) -> tuple[Image, FrameLabel]:
        """Frame `index` (0-based) and its label; frames must be asked for in order for frozen spans."""
        scene = self.scene
        t = index / scene.fps
        state = scene.state_at(t)
        if state.frozen and not state.covered and state.lights and self._frozen is not None:
            image, label = self._frozen
            return image, FrameLabel(index, t, label.faces, CameraState.FROZEN)
        image = self._render(state, index, t)
        label = FrameLabel(index, t, state.visible_faces, state.camera)
        if not state.frozen:
            self._frozen = (image, label)
        return image, label

    def frames(self) -> Iterator[tuple[Image, FrameLabel]]:
        """Every frame of the scene, in order."""
        self._frozen = None
        for index in range(self.scene.frame_count):
            yield self.frame(index)

    def _render(self, state: RoomState, index: int, t: float) -> Image:
        scene = self.scene
        rng = np.random.default_rng((scene.seed, index))
        height, width = scene.height, scene.width
        if state.covered:
            ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
            falloff = 1.0 - 0.12 * (((xs / width - 0.5) ** 2 + (ys / height - 0.5) ** 2) * 2)
            canvas = np.asarray(COVER_BGR, np.float32) * falloff[:, :, None]
            sigma = scene.noise_sigma * 0.6
        else:
            canvas = self._background.astype(np.float32)
            if state.person:
                sway = scene.sway_px * math.sin(2 * math.pi * t / 7.0)
                top = height - self._resident.pixels.shape[0] - height // 24
                paste(canvas, self._resident, int(width * 0.20 + sway), top)
            if state.visitor:
                sway = scene.sway_px * math.sin(2 * math.pi * t / 5.0 + 1.0)
                top = height - self._visitor.pixels.shape[0] - height // 16
                paste(canvas, self._visitor, int(width * 0.62 + sway), top)
            if not state.lights:
                canvas *= DARK_GAIN
            sigma = scene.noise_sigma if state.lights else scene.noise_sigma * 0.7
        if sigma > 0:
            canvas += rng.standard_normal(canvas.shape, dtype=np.float32) * np.float32(sigma)
        return np.asarray(np.clip(canvas, 0, 255), dtype=np.uint8)


def labels_path(video: Path) -> Path:
    """Where the labels of a written video are kept: beside it, `<name>.labels.json`."""
    return video.with_suffix(".labels.json")


def write_video(scene: RoomScene, path: Path) -> list[FrameLabel]:
    """Write the scene as an MJPG .avi (opens with any cv2.VideoCapture) plus its labels; return them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter.fourcc(*"MJPG"), scene.fps, (scene.width, scene.height)
    )
    if not writer.isOpened():
        raise OSError(f"cannot write a video to {path}")
    labels = []
    try:
        for image, label in SimulatedCamera(scene).frames():
            writer.write(image)
            labels.append(label)
    finally:
        writer.release()
    rows = [{**asdict(label), "camera": label.camera.value} for label in labels]
    labels_path(path).write_text(json.dumps({"room_id": scene.id, "fps": scene.fps, "frames": rows}))
    return labels


def read_labels(video: Path) -> list[FrameLabel]:
    """The labels written beside a video by `write_video`."""
    data = json.loads(labels_path(video).read_text())
    return [
        FrameLabel(int(r["index"]), float(r["time"]), int(r["faces"]), CameraState(r["camera"]))
        for r in data["frames"]
    ]


class SimulatedCameraSource:
    """The scene as a cv2.VideoCapture-like source (isOpened/grab/retrieve/read/get/release), served
    frame by frame in process; at the end it reports a failed grab, as a file does."""

    def __init__(self, scene: RoomScene) -> None:
        self._camera = SimulatedCamera(scene)
        self._index = -1
        self._open = True
        self.labels: list[FrameLabel] = []

    def isOpened(self) -> bool:  # cv2.VideoCapture's name
        """Whether the source can still deliver frames."""
        return self._open

    def grab(self) -> bool:
        """Advance to the next frame."""
        if not self._open or self._index + 1 >= self._camera.scene.frame_count:
            return False
        self._index += 1
        return True

    def retrieve(self) -> tuple[bool, Image | None]:
        """The current frame."""
        if not self._open or self._index < 0:
            return False, None
        image, label = self._camera.frame(self._index)
        self.labels.append(label)
        return True, image

    def read(self) -> tuple[bool, Image | None]:
        """grab() then retrieve()."""
        return self.retrieve() if self.grab() else (False, None)

    def get(self, prop_id: int) -> float:
        """CAP_PROP_FPS, CAP_PROP_FRAME_COUNT, CAP_PROP_FRAME_WIDTH/HEIGHT; 0 for anything else."""
        scene = self._camera.scene
        values = {
            cv2.CAP_PROP_FPS: scene.fps,
            cv2.CAP_PROP_FRAME_COUNT: float(scene.frame_count),
            cv2.CAP_PROP_FRAME_WIDTH: float(scene.width),
            cv2.CAP_PROP_FRAME_HEIGHT: float(scene.height),
        }
        return float(values.get(prop_id, 0.0))

    def release(self) -> None:
        """Close the source."""
        self._open = False
