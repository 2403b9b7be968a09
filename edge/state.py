"""What the edge agent keeps across restarts: learned home profiles, reported state (bracelets and rooms),
advert counters.

A small JSON document written atomically (temporary file, fsync, rename), so that a power cut leaves
either the old or the new file, never half of one.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from edge.calibration import HomeProfile
from edge.camera.occupancy import RoomSnapshot
from edge.tracker import TrackerSnapshot

log = logging.getLogger(__name__)

STATE_VERSION = 1


@dataclass
class EdgeState:
    """The persisted state of one agent."""

    profiles: dict[str, HomeProfile] = field(default_factory=dict)
    devices: dict[str, TrackerSnapshot] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    rooms: dict[str, RoomSnapshot] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "version": STATE_VERSION,
            "profiles": {home: p.to_dict() for home, p in sorted(self.profiles.items())},
            "devices": {device: s.to_dict() for device, s in sorted(self.devices.items())},
            "counters": dict(sorted(self.counters.items())),
            "rooms": {room: r.to_dict() for room, r in sorted(self.rooms.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EdgeState:
        """Read back `to_dict` output."""
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported state version {data.get('version')!r}")
        return cls(
            profiles={str(h): HomeProfile.from_dict(p) for h, p in data.get("profiles", {}).items()},
            devices={str(d): TrackerSnapshot.from_dict(s) for d, s in data.get("devices", {}).items()},
            counters={str(d): int(c) for d, c in data.get("counters", {}).items()},
            rooms={str(r): RoomSnapshot.from_dict(s) for r, s in data.get("rooms", {}).items()},
        )


class StateStore(Protocol):
    """Where the agent's state lives."""

    def load(self) -> EdgeState:
        """The saved state, or an empty one."""
        ...

    def save(self, state: EdgeState) -> None:
        """Replace the saved state."""
        ...


class MemoryStateStore:
    """State kept in memory (tests, throwaway runs); survives an agent restart within one process."""

    def __init__(self) -> None:
        self._data: dict[str, Any] | None = None
        self.saves = 0

    def load(self) -> EdgeState:
        """The last saved state."""
        return EdgeState() if self._data is None else EdgeState.from_dict(self._data)

    def save(self, state: EdgeState) -> None:
        """Keep a serialised copy (so that later mutation of `state` does not leak in)."""
        self._data = json.loads(json.dumps(state.to_dict()))
        self.saves += 1


class JsonStateStore:
    """State in a JSON file, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> EdgeState:
        """Read the file; a missing file is an empty state, a corrupt one is set aside (never fatal)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return EdgeState()
        try:
            return EdgeState.from_dict(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            aside = self.path.with_name(self.path.name + ".corrupt")
            log.error(
                "state file %s is unreadable (%s); moved to %s, starting uncalibrated", self.path, exc, aside
            )
            os.replace(self.path, aside)
            return EdgeState()

    def save(self, state: EdgeState) -> None:
        """Write to a temporary file in the same directory, fsync it, then rename over the old file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(state.to_dict(), separators=(",", ":")).encode()
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # make the rename itself durable
        finally:
            os.close(dir_fd)
