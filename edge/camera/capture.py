"""Frames from one camera source (file, RTSP/HTTP URL or V4L2 index) with reconnection on a dropped stream.

`Capture.read()` never raises and never blocks for long: it returns the frame for the current time, or
None while the camera is offline. After a failure it releases the source and retries opening it with
exponential backoff (1 s doubling to 30 s by default), so a camera rebooting or a network cut does not
stop the room's pipeline, which reports the camera offline meanwhile.

- Live sources are read as they come (`grab` + `retrieve`), with a one-frame buffer where the backend
  allows it, so the analysed frame is recent.
- A file is played at its own frame rate against the injected clock (frames between two reads are skipped
  with `grab`, which does not convert them), and starts again at its end when `loop` is set (simulation).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from edge.camera.detector import Image
from edge.camera.sources import describe_source, is_live, parse_source

log = logging.getLogger(__name__)

MAX_SKIP = 300  # at most this many frames skipped per read


class VideoSource(Protocol):
    """What Capture uses of cv2.VideoCapture (so tests and simulators can supply their own)."""

    def isOpened(self) -> bool:  # cv2's name
        """Whether the source is open."""
        ...

    def grab(self) -> bool:
        """Advance to the next frame."""
        ...

    def retrieve(self) -> tuple[bool, Image | None]:
        """Decode the frame grabbed last."""
        ...

    def get(self, prop_id: int) -> float:
        """A property (CAP_PROP_FPS, ...)."""
        ...

    def release(self) -> None:
        """Close the source."""
        ...


SourceOpener = Callable[[str | int], VideoSource]


def open_source(source: str | int) -> VideoSource:
    """cv2.VideoCapture on the source (for a device, with a one-frame buffer)."""
    capture = cv2.VideoCapture(source)
    if isinstance(source, int):
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return capture  # type: ignore[return-value]  # cv2's retrieve() is typed loosely


@dataclass(frozen=True, slots=True)
class CapturePolicy:
    """Reconnection backoff and file playback."""

    backoff_min_s: float = 1.0
    backoff_max_s: float = 30.0
    loop: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.backoff_min_s <= self.backoff_max_s:
            raise ValueError("need 0 < backoff_min_s <= backoff_max_s")


class Capture:
    """One camera's frames; reconnects by itself."""

    def __init__(
        self,
        source: str | int,
        *,
        now: Callable[[], float],
        opener: SourceOpener = open_source,
        policy: CapturePolicy | None = None,
    ) -> None:
        self.source = parse_source(source)
        self.policy = policy or CapturePolicy()
        self.name = describe_source(self.source)  # never log an RTSP password
        self._now = now
        self._opener = opener
        self._live = is_live(self.source)
        self._cap: VideoSource | None = None
        self._fps = 0.0
        self._opened_at = 0.0
        self._index = -1
        self._retry_at = float("-inf")
        self._backoff = self.policy.backoff_min_s
        self.online = False
        self.opens = 0
        self.failures = 0

    def read(self) -> Image | None:
        """The current frame, or None while offline (reconnecting with backoff)."""
        now = self._now()
        if self._cap is None and (now < self._retry_at or not self._open(now)):
            return None
        try:
            frame = self._next_frame(now)
        except Exception as exc:  # a backend error is a dropped stream like any other
            log.warning("camera %s: read failed: %s", self.name, exc)
            frame = None
        if frame is None:
            self._fail(now, "stream ended or dropped")
            return None
        self.online = True
        self._backoff = self.policy.backoff_min_s
        return frame

    def close(self) -> None:
        """Release the source."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self.online = False

    # ---- internals --------------------------------------------------------------------------------------

    def _open(self, now: float) -> bool:
        try:
            cap = self._opener(self.source)
            opened = cap.isOpened()
        except Exception as exc:
            log.warning("camera %s: cannot open: %s", self.name, exc)
            opened = False
        if not opened:
            self._fail(now, "cannot open")
            return False
        self._cap = cap
        self.opens += 1
        self._fps = 0.0 if self._live else float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._opened_at, self._index = now, -1
        if self.opens > 1:
            log.info("camera %s: reconnected", self.name)
        return True

    def _fail(self, now: float, why: str) -> None:
        if self.online or self.failures == 0:
            log.warning("camera %s offline (%s); retrying in %.0f s", self.name, why, self._backoff)
        self.close()
        self.failures += 1
        self._retry_at = now + self._backoff
        self._backoff = min(self._backoff * 2, self.policy.backoff_max_s)

    def _next_frame(self, now: float) -> Image | None:
        cap = self._cap
        assert cap is not None
        if self._fps > 0:
            target = max(int((now - self._opened_at) * self._fps), self._index + 1)
            if target - self._index > MAX_SKIP:
                # Far behind (the machine was suspended, or analysis is too slow): play on from here
                # instead of grabbing through minutes of video.
                self._opened_at = now - (self._index + 1) / self._fps
                target = self._index + 1
            while self._index < target:
                if not cap.grab():
                    return self._restart(now) if self.policy.loop and self._index >= 0 else None
                self._index += 1
        elif not cap.grab():
            return None
        ok, frame = cap.retrieve()
        return np.asarray(frame, dtype=np.uint8) if ok and frame is not None else None

    def _restart(self, now: float) -> Image | None:
        # End of a looping file: open it again (it may also have been replaced or removed meanwhile).
        self.close()
        if not self._open(now):
            return None
        cap = self._cap
        assert cap is not None
        if not cap.grab():
            return None
        self._index = 0
        ok, frame = cap.retrieve()
        return np.asarray(frame, dtype=np.uint8) if ok and frame is not None else None


def read_file_frames(path: Path, every: int = 1) -> Iterator[tuple[float, Image]]:
    """Every `every`-th frame of a video file with its time in the video (seconds from its start).

    For replays that run as fast as the CPU allows: tests and benchmarks.
    """
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise OSError(f"cannot open video {path}")
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 1.0
        index = 0
        while capture.grab():
            if index % every == 0:
                ok, frame = capture.retrieve()
                if not ok:
                    break
                yield index / fps, np.asarray(frame, dtype=np.uint8)
            index += 1
    finally:
        capture.release()
