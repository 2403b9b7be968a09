"""`python -m firmware_sim.camera --out DIR [--scenes FILE]`: write each simulated room as a video.

One MJPG `<room id>.avi` (opens with any cv2.VideoCapture, so an edge room's `source` can point at it) and
its `<room id>.labels.json` (per-frame faces and camera state) per room of the scene file (default: the
bundled two-room facility).
"""

from __future__ import annotations

from pathlib import Path

import click

from firmware_sim.camera.render import write_video
from firmware_sim.camera.scene import load_scenes


@click.command("sim-camera")
@click.option(
    "--scenes",
    "scenes_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Scene file (YAML/JSON); default: firmware_sim/camera/scenes/facility.yaml.",
)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output directory."
)
def sim_camera_command(scenes_path: Path | None, out: Path) -> None:
    """Write each simulated room camera as an .avi video with its labels."""
    for scene in load_scenes(scenes_path):
        video = out / f"{scene.id}.avi"
        labels = write_video(scene, video)
        click.echo(f"{video}: {len(labels)} frames, {scene.duration_s:g} s at {scene.fps:g} fps")


if __name__ == "__main__":
    sim_camera_command()
