"""Simulated room cameras built from real photos: scenes as data, labelled frames, videos, in-process sources.

scenes = load_scenes()                      # the bundled two-room facility (scenes/facility.yaml)
labels = write_video(scenes[0], Path("room-101.avi"))   # an MJPG .avi any cv2.VideoCapture opens
source = SimulatedCameraSource(scenes[1])   # or frame by frame, in process
"""

from firmware_sim.camera.render import (
    FrameLabel,
    SimulatedCamera,
    SimulatedCameraSource,
    labels_path,
    read_labels,
    write_video,
)
from firmware_sim.camera.scene import Happening, RoomScene, RoomState, load_scenes

__all__ = [
    "FrameLabel",
    "Happening",
    "RoomScene",
    "RoomState",
    "SimulatedCamera",
    "SimulatedCameraSource",
    "labels_path",
    "load_scenes",
    "read_labels",
    "write_video",
]
