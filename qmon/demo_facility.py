"""The demo's isolation facility: its camera rooms fed by simulated cameras, its edge box, its orders.

The simulated cameras play their scenes against the demo's scaled clock, as a video file plays (see
edge/camera/capture.py), so a room's story keeps pace with the households' at any --speed. The analysis
is paced on the wall clock, so the faster the demo, the fewer frames are analysed per simulated second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.camera.capture import SourceOpener, VideoSource
from edge.camera.detector import Image
from edge.settings import EdgeSettings
from firmware_sim.camera import RoomScene, RoomState, SimulatedCameraSource
from qmon.hub_client import HubClient
from qmon.settings import set_dotted

FACILITY_SITE_ID = "demo-facility"

# The isolation facility's people (fictional), one per room of the bundled scenes, in the second ward.
RESIDENTS: dict[str, tuple[str, ...]] = {"room-101": ("Hoàng Văn Em",), "room-102": ("Vũ Thị Giang",)}
FACILITY_WARD = "truc-bach"
FACILITY_ADDRESS = "Khu cách ly tập trung, 2 Yên Phụ, Trúc Bạch"
# Frames analysed per simulated second, and at most per real second (two rooms share the demo's CPU).
ANALYSED_PER_SIMULATED_S = 2.5
MAX_ANALYSIS_FPS = 10.0
# The occupancy checks treat a face unseen for 2 s as gone (OccupancyPolicy.gap_s): frames must come more
# often than that, in simulated time; one a second keeps them exact (checked up to --speed 10).
MAX_FRAME_GAP_S = 1.0
# What a scene's change looks like on camera: (RoomState field, new value) -> words.
SCENE_TEXT = {
    ("person", True): "the resident comes back into the room",
    ("person", False): "the resident leaves the room",
    ("visitor", True): "a visitor comes in",
    ("visitor", False): "the visitor leaves",
    ("covered", True): "something covers the lens",
    ("covered", False): "the lens is uncovered",
    ("lights", True): "the lights come on",
    ("lights", False): "the lights go off",
    ("frozen", True): "the camera's stream freezes on one picture",
    ("frozen", False): "the camera's stream is live again",
}
# Evidence of a room decision worth a glance on the demo's line (the officer's summary has the rest).
SHOWN_EVIDENCE = ("faces", "unseen_s", "brightness", "contrast", "frozen_s", "similarity")


@dataclass
class FacilityOptions:
    """The demo's isolation facility: its simulated camera rooms, who is isolated where, its edge box."""

    # Rooms and what happens in them; None: the bundled two (firmware_sim/camera/scenes/facility.yaml).
    scenes: list[RoomScene] | None = None
    ward: str = FACILITY_WARD
    address: str = FACILITY_ADDRESS
    # Room id -> the people isolated there, one order each; a room not listed holds one "Resident of ...".
    residents: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(RESIDENTS))
    # Dotted settings merged into every room (e.g. {"absent_after_s": 10, "health.blind_after_s": 2}).
    room_overrides: dict[str, object] = field(default_factory=dict)
    # Dotted overrides of the facility edge's settings (e.g. {"camera.enrollment_dir": "/srv/faces"}).
    edge_overrides: dict[str, object] = field(default_factory=dict)


def analysis_fps(speed: float) -> float:
    """Frames each room camera analyses per real second at this demo speed."""
    return min(MAX_ANALYSIS_FPS, ANALYSED_PER_SIMULATED_S * speed)


def scene_source(scene: RoomScene) -> str:
    # A file-like name (not a URL, not a device index): Capture paces it by the clock, as a video file.
    return f"simulated/{scene.id}.avi"


def facility_settings(
    scenes: list[RoomScene],
    mqtt_url: str,
    password: str,
    workdir: Path,
    speed: float,
    facility: FacilityOptions,
) -> EdgeSettings:
    """The facility's edge box: one camera room per scene, no bracelets (so no BLE)."""
    rooms = []
    for scene in scenes:
        room: dict[str, Any] = {
            "room_id": scene.id,
            "source": scene_source(scene),
            "analysis_fps": analysis_fps(speed),
        }
        set_dotted(room, facility.room_overrides)
        rooms.append(room)
    settings: dict[str, Any] = {
        "site_id": FACILITY_SITE_ID,
        "mqtt": {
            "url": mqtt_url,
            "username": FACILITY_SITE_ID,
            "password": password,
            "client_id": f"qmon-edge-{FACILITY_SITE_ID}",
        },
        "rooms": rooms,
        "telemetry_interval_s": 10,
        "outbox_path": str(workdir / "facility" / "edge-outbox.db"),
        "state_path": str(workdir / "facility" / "edge-state.json"),
    }
    set_dotted(settings, facility.edge_overrides)
    return EdgeSettings.model_validate(settings)


class SceneSource(SimulatedCameraSource):
    """A simulated room camera that also tells what happens in its scene when a frame showing it is read."""

    def __init__(self, scene: RoomScene, say: Callable[[str], None]) -> None:
        super().__init__(scene)
        self._scene = scene
        self._say = say
        self._state: RoomState | None = None

    def retrieve(self) -> tuple[bool, Image | None]:
        """The current frame; a change of the scene since the previous frame read is told."""
        ok, image = super().retrieve()
        if ok and self.labels:
            label = self.labels.pop()  # keep no history: the demo may run for hours
            state = self._scene.state_at(label.time)
            if self._state is not None:
                for name, value in state.model_dump().items():
                    if value != getattr(self._state, name):
                        self._say(SCENE_TEXT.get((name, value), f"{name}: {value}"))
            self._state = state
        return ok, image


def scene_opener(scenes: list[RoomScene], say: Callable[[str], None]) -> SourceOpener:
    """Opens each room's simulated camera (again at the end of its scene: the rooms loop)."""
    by_source = {scene_source(scene): scene for scene in scenes}
    opened: set[str] = set()

    def open_scene(source: str | int) -> VideoSource:
        scene = by_source[str(source)]
        again = scene.id in opened
        opened.add(scene.id)
        say(f"{scene.id}: {'scene starts again' if again else 'camera on'} ({scene.duration_s:g} s scene)")
        return SceneSource(scene, lambda text: say(f"{scene.id}: {text}"))

    return open_scene


async def place_room_orders(
    admin: HubClient, scenes: list[RoomScene], facility: FacilityOptions
) -> dict[int, str]:
    """Put each room's residents under a 14-day order in that room of the facility; names by order."""
    now = datetime.now(UTC)
    names = {}
    for scene in scenes:
        for name in facility.residents.get(scene.id, (f"Resident of {scene.id}",)):
            order = await admin.create_order(
                full_name=name,
                ward_id=facility.ward,
                address=f"{facility.address}, {scene.id}",
                site_id=FACILITY_SITE_ID,
                room_id=scene.id,
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(days=14),
            )
            names[order["id"]] = name
    return names
