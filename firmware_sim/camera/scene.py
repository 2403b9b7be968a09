"""A simulated room as data: who is there and what happens to the camera, over time (YAML or JSON).

A file holds `rooms: [...]`; see firmware_sim/camera/scenes/facility.yaml. Times are seconds from the
start of the video. Each timeline entry changes one thing from its time on:
`person: in|out`, `visitor: in|out`, `lens: covered|clear`, `lights: on|off`, `feed: frozen|live`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from firmware_sim.camera.sprites import Actor
from gateway.protocol import ROOM_ID_PATTERN, CameraState
from qmon.settings import StrictModel, read_settings_file

Seconds = Annotated[float, Field(ge=0, description="Seconds from the start of the video.")]


class Happening(StrictModel):
    """One change at time t (exactly one of the optional fields is set)."""

    t: Seconds
    person: Literal["in", "out"] | None = Field(None, description="The resident enters or leaves.")
    visitor: Literal["in", "out"] | None = Field(None, description="A second person enters or leaves.")
    lens: Literal["covered", "clear"] | None = Field(None, description="Something covers the lens.")
    lights: Literal["on", "off"] | None = Field(None, description="The room's lights.")
    feed: Literal["frozen", "live"] | None = Field(None, description="The stream repeats one frame.")

    @field_validator("lights", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: Any) -> Any:
        # YAML 1.1 reads a bare on/off as a boolean.
        if isinstance(value, bool):
            return "on" if value else "off"
        return value

    @model_validator(mode="after")
    def _one_change(self) -> Happening:
        changes = [self.person, self.visitor, self.lens, self.lights, self.feed]
        if sum(value is not None for value in changes) != 1:
            raise ValueError("each timeline entry changes exactly one of person, visitor, lens, lights, feed")
        return self


class RoomState(StrictModel):
    """Everything that shapes the picture at one moment."""

    person: bool = True
    visitor: bool = False
    covered: bool = False
    lights: bool = True
    frozen: bool = False

    @property
    def camera(self) -> CameraState:
        """The camera state a correct pipeline should find (covered before dark before frozen)."""
        if self.covered:
            return CameraState.COVERED
        if not self.lights:
            return CameraState.DARK
        if self.frozen:
            return CameraState.FROZEN
        return CameraState.OK

    @property
    def visible_faces(self) -> int:
        """Faces a live, lit, uncovered camera shows."""
        if self.covered or not self.lights:
            return 0
        return int(self.person) + int(self.visitor)


class RoomScene(StrictModel):
    """One simulated camera: room, people and timeline."""

    id: str = Field(pattern=ROOM_ID_PATTERN, description="Room id (as in the edge's rooms settings).")
    duration_s: float = Field(gt=0, le=24 * 3600, description="Length of the video, seconds.")
    fps: float = Field(default=5.0, gt=0, le=30, description="Frames per second of the video.")
    width: int = Field(default=640, ge=160, le=1920, description="Frame width, pixels.")
    height: int = Field(default=480, ge=120, le=1080, description="Frame height, pixels.")
    seed: int = Field(default=1, description="Seed of the room's look and the sensor noise.")
    resident: Actor = Field(default="astronaut", description="Who lives in the room.")
    visitor: Actor = Field(default="cameraman", description="Who visits.")
    noise_sigma: float = Field(default=3.0, ge=0, le=30, description="Sensor noise, grey levels.")
    sway_px: float = Field(default=3.0, ge=0, le=40, description="How far people sway, pixels.")
    initial: RoomState = Field(default_factory=RoomState, description="The state at t=0.")
    timeline: list[Happening] = Field(default_factory=list, description="Changes, in time order.")

    @model_validator(mode="after")
    def _ordered(self) -> RoomScene:
        times = [h.t for h in self.timeline]
        if times != sorted(times):
            raise ValueError("timeline entries must be in time order")
        return self

    @property
    def frame_count(self) -> int:
        """Frames in the video."""
        return int(self.duration_s * self.fps)

    def state_at(self, t: float) -> RoomState:
        """The room's state at time t (changes at exactly t already apply)."""
        state = self.initial.model_copy()
        for happening in self.timeline:
            if happening.t > t:
                break
            if happening.person is not None:
                state.person = happening.person == "in"
            elif happening.visitor is not None:
                state.visitor = happening.visitor == "in"
            elif happening.lens is not None:
                state.covered = happening.lens == "covered"
            elif happening.lights is not None:
                state.lights = happening.lights == "on"
            elif happening.feed is not None:
                state.frozen = happening.feed == "frozen"
        return state


class SceneFile(StrictModel):
    """A file of simulated rooms."""

    rooms: list[RoomScene] = Field(min_length=1)


def load_scenes(path: Path | None = None) -> list[RoomScene]:
    """Rooms from a YAML/JSON file; the bundled two-room facility when `path` is None."""
    if path is None:
        bundled = resources.files("firmware_sim.camera") / "scenes" / "facility.yaml"
        with resources.as_file(bundled) as file:
            return SceneFile.model_validate(read_settings_file(file)).rooms
    return SceneFile.model_validate(read_settings_file(path)).rooms
