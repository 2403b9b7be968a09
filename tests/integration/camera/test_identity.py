"""Identity with the real SFace: same person vs another person, enrollment CLI, unknown-face events."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from edge.camera.cli import camera_command
from edge.camera.enrollment import EnrollmentStore
from edge.camera.identity import DEFAULT_MATCH_THRESHOLD, SFaceEmbedder
from edge.camera.occupancy import OccupancyPolicy
from edge.camera.pipeline import IdentityCheck, RoomPipeline
from edge.camera.snapshot import blur_faces
from firmware_sim.camera import RoomScene, SimulatedCamera
from gateway.protocol import EventType
from tests.support.camera import photo, yunet


def embedding_of(image: np.ndarray, embedder: SFaceEmbedder) -> np.ndarray:
    [face] = yunet().detect(image)
    return embedder.embed(image, face)


def variants(image: np.ndarray) -> list[np.ndarray]:
    """The same person photographed differently: smaller and tilted, darker, JPEG-compressed, mirrored."""
    tilted = cv2.warpAffine(
        image, cv2.getRotationMatrix2D((256, 256), 10, 0.7), (512, 512), borderValue=(90,) * 3
    )
    darker = cv2.convertScaleAbs(image, alpha=0.6, beta=10)
    _, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 30])
    return [tilted, darker, cv2.imdecode(jpeg, cv2.IMREAD_COLOR), cv2.flip(image, 1)]


def test_same_person_matches_and_another_does_not(embedder: SFaceEmbedder) -> None:
    astronaut = embedding_of(photo("astronaut"), embedder)
    cameraman = embedding_of(photo("camera"), embedder)
    for image in variants(photo("astronaut")):
        assert float(embedding_of(image, embedder) @ astronaut) > 0.7
    assert float(cameraman @ astronaut) < DEFAULT_MATCH_THRESHOLD
    # In the simulated room (smaller, composited, noisy) the resident is still the astronaut.
    room, _ = SimulatedCamera(RoomScene(id="room-i", duration_s=1)).frame(0)
    assert float(embedding_of(room, embedder) @ astronaut) > 0.6


def test_a_blurred_face_is_not_recognisable(embedder: SFaceEmbedder) -> None:
    image = photo("astronaut")
    face = yunet().detect(image)[0]
    blurred = blur_faces(image, [face])
    reference = embedding_of(image, embedder)
    assert float(embedder.embed(blurred, face) @ reference) < DEFAULT_MATCH_THRESHOLD


def test_enroll_stores_only_the_embedding(tmp_path: Path, embedder: SFaceEmbedder, sface_model: Path) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "site_id": "facility-1",
                "state_path": str(tmp_path / "state" / "state.json"),
                "camera": {"recognizer_model": str(sface_model)},
                "rooms": [{"room_id": "room-101", "source": "0", "identity": True}],
            }
        )
    )
    picture = tmp_path / "incoming" / "resident.png"
    picture.parent.mkdir()
    cv2.imwrite(str(picture), photo("astronaut"))
    runner = CliRunner()
    result = runner.invoke(
        camera_command, ["enroll", "--config", str(config), "--room", "room-101", str(picture)]
    )
    assert result.exit_code == 0, result.output
    assert "photo not stored" in result.output
    faces_dir = tmp_path / "state" / "faces"
    assert [p.name for p in faces_dir.iterdir()] == ["room-101.json"]
    stored = EnrollmentStore(faces_dir).load("room-101")
    assert stored is not None and stored.shape == (1, 128)
    assert float(stored[0] @ embedding_of(photo("astronaut"), embedder)) > 0.99
    assert "png" not in json.dumps(json.loads((faces_dir / "room-101.json").read_text()))
    refused = runner.invoke(
        camera_command, ["enroll", "--config", str(config), "--room", "room-9", str(picture)]
    )
    assert refused.exit_code != 0 and "not in the settings" in refused.output
    forget = runner.invoke(camera_command, ["forget", "--config", str(config), "--room", "room-101"])
    assert forget.exit_code == 0 and not (faces_dir / "room-101.json").exists()


def run_room(enrolled: np.ndarray, embedder: SFaceEmbedder) -> list[EventType]:
    """The astronaut in her room for 20 s, then out: events with `enrolled` as the room's person."""
    scene = RoomScene(id="room-i", duration_s=34, timeline=[{"t": 20, "person": "out"}])
    pipeline = RoomPipeline(
        "room-i",
        yunet(),
        started_at=0.0,
        occupancy=OccupancyPolicy(absent_after_s=60, unknown_after_s=4, unknown_clear_s=4),
        identity=IdentityCheck(embedder, enrolled[None, :]),
        identity_interval_s=1.0,
    )
    return [
        d.type
        for image, label in SimulatedCamera(scene).frames()
        for d in pipeline.process(image, label.time).decisions
    ]


@pytest.mark.parametrize(
    ("enrolled_photo", "expected"),
    [
        ("camera", [EventType.UNKNOWN_FACE, EventType.UNKNOWN_FACE_CLEARED]),
        ("astronaut", []),
    ],
)
def test_unknown_face_only_when_another_person_is_enrolled(
    embedder: SFaceEmbedder, enrolled_photo: str, expected: list[EventType]
) -> None:
    assert run_room(embedding_of(photo(enrolled_photo), embedder), embedder) == expected
