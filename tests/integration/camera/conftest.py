"""Camera integration fixtures: SFace fetched once per session, simulated videos written once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.camera.identity import SFaceEmbedder
from firmware_sim.camera import FrameLabel, RoomScene, write_video

# Every room event type once, with short dwells (see DWELLS in test_room_events.py):
# absent 8-22 s, visitor 30-40 s, covered 50-58 s, dark 64-72 s, frozen 78-88 s.
EVENTS_SCENE = RoomScene.model_validate(
    {
        "id": "room-e2e",
        "duration_s": 96,
        "seed": 7,
        "timeline": [
            {"t": 8, "person": "out"},
            {"t": 22, "person": "in"},
            {"t": 30, "visitor": "in"},
            {"t": 40, "visitor": "out"},
            {"t": 50, "lens": "covered"},
            {"t": 58, "lens": "clear"},
            {"t": 64, "lights": "off"},
            {"t": 72, "lights": "on"},
            {"t": 78, "feed": "frozen"},
            {"t": 88, "feed": "live"},
        ],
    }
)


@pytest.fixture(scope="session")
def sface_model() -> Path:
    """SFace via `qmon models fetch`'s function, into the models directory ($QMON_MODELS_DIR or the user
    cache), once per session. Under CI=true a failure to fetch fails the test; elsewhere it skips."""
    from edge.camera.fetch import fetch_sface

    try:
        return fetch_sface()
    except Exception as exc:  # network, disk, checksum
        if os.environ.get("CI") == "true":
            pytest.fail(f"could not fetch SFace under CI: {exc}")
        pytest.skip(f"SFace not available ({exc}); run `qmon models fetch`")


@pytest.fixture(scope="session")
def embedder(sface_model: Path) -> SFaceEmbedder:
    """The real SFace embedder."""
    return SFaceEmbedder(sface_model)


@pytest.fixture(scope="session")
def events_video(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[FrameLabel]]]:
    """EVENTS_SCENE as an MJPG video and its labels."""
    path = tmp_path_factory.mktemp("camera") / "room-e2e.avi"
    yield path, write_video(EVENTS_SCENE, path)
