"""The rooms' runtime: one worker thread per camera (capture + analysis), results handed to the event loop.

Camera work is CPU-bound (decoding, the detector), so it runs off the asyncio loop: each camera has a
thread that reads a frame, runs the room's pipeline and passes the `FrameResult` to the loop with
`call_soon_threadsafe`. Everything else happens on the loop thread: decisions go to the uplink (the same
durable outbox as the bracelets' events), listeners are called, and each room's latest state and counters
are kept for the telemetry batch. onnxruntime and OpenCV release the GIL while they compute, so several
cameras use several cores.

Each worker also keeps its camera's latest frame, in memory only and replaced by the next, so that a
snapshot the hub asks for (edge/commands.py) shows the room as it is now; nothing is ever written to disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edge.camera.capture import Capture
from edge.camera.detector import Detector, Image
from edge.camera.occupancy import RoomSnapshot
from edge.camera.pipeline import FrameResult, RoomPipeline
from edge.camera.snapshot import BlurredSnapshot, take_snapshot
from edge.decision import RoomDecision
from gateway.protocol import CameraState, RoomReading, utc_from_timestamp
from gateway.uplink import Uplink
from qmon.clock import Clock

log = logging.getLogger(__name__)

RoomListener = Callable[[RoomDecision], None]
_ERROR_PAUSE_S = 1.0  # after an unexpected error, before the next frame (no hot error loop)


@dataclass(slots=True)
class RoomUnit:
    """One room's parts: its capture, its pipeline and how often to analyse."""

    room_id: str
    allowed: int
    capture: Capture
    pipeline: RoomPipeline
    interval_s: float
    snapshot_detector: Detector | None = None  # what finds the faces to blur; None: the pipeline's


@dataclass(frozen=True, slots=True)
class LatestFrame:
    """A camera's most recent frame and when it was read (the injected clock's time)."""

    image: Image
    time: float


class CameraWorker:
    """Reads and analyses one camera in its own thread until stopped."""

    def __init__(self, unit: RoomUnit, clock: Clock, deliver: Callable[[FrameResult], None]) -> None:
        self.unit = unit
        self._clock = clock
        self._deliver = deliver
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"camera-{unit.room_id}", daemon=True)
        self.errors = 0
        self.cpu_s = 0.0  # this thread's CPU time (decoding, analysis)
        # Written by this thread only, as one reference swap: readers on the loop see a whole value.
        self.latest: LatestFrame | None = None

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to finish after the current frame."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread."""
        self._thread.join(timeout)

    def _run(self) -> None:
        unit, interval = self.unit, self.unit.interval_s
        next_due = time.monotonic()
        cpu_start = time.thread_time()
        try:
            while not self._stop.is_set():
                pause = 0.0
                try:
                    frame = unit.capture.read()
                    now = self._clock.now()
                    if frame is None:
                        result = unit.pipeline.offline(now)
                    else:
                        self.latest = LatestFrame(frame, now)
                        result = unit.pipeline.process(frame, now)
                    self._deliver(result)
                except Exception:
                    self.errors += 1
                    if self.errors <= 10 or self.errors % 1000 == 0:
                        log.exception("room %s: frame analysis failed (%d errors)", unit.room_id, self.errors)
                    pause = _ERROR_PAUSE_S
                self.cpu_s = time.thread_time() - cpu_start
                # Paced on the wall clock: a slow frame delays the next, it never queues a backlog.
                next_due = max(next_due + interval, time.monotonic())
                self._stop.wait(max(next_due - time.monotonic(), pause))
        finally:
            unit.capture.close()


@dataclass(frozen=True, slots=True)
class RoomStats:
    """Cumulative counters of the rooms."""

    decisions: dict[str, int]
    emit_failures: int
    frames: int
    detections: int
    errors: int
    cpu_s: float
    offline: list[str]


@dataclass(slots=True)
class _RoomState:
    latest: FrameResult | None = None
    frames: int = 0
    detections: int = 0
    last_reading_at: float | None = None


class RoomMonitor:
    """Runs every room's worker and turns their results into uplink calls and telemetry readings."""

    def __init__(self, units: Sequence[RoomUnit], uplink: Uplink, clock: Clock) -> None:
        self.units = list(units)
        self._uplink = uplink
        self._clock = clock
        self._listeners: dict[object, RoomListener] = {}
        self._rooms = {unit.room_id: _RoomState() for unit in self.units}
        self._snapshots = {unit.room_id: unit.pipeline.snapshot() for unit in self.units}
        self.workers: list[CameraWorker] = []
        self._workers: dict[str, CameraWorker] = {}
        self._units = {unit.room_id: unit for unit in self.units}
        self.decisions: dict[str, int] = {}
        self.emit_failures = 0

    def subscribe(self, listener: RoomListener) -> Callable[[], None]:
        """Call `listener` with every room decision (after the uplink took it); returns the unsubscribe."""
        token = object()
        self._listeners[token] = listener

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe

    async def run(self, stop: asyncio.Event) -> None:
        """Analyse every camera until `stop` is set; the workers are joined on the way out."""
        loop = asyncio.get_running_loop()

        def hand_over(result: FrameResult) -> None:
            # RuntimeError: the loop is closing; the agent is stopping and this frame no longer matters.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.deliver, result)

        self.workers = [CameraWorker(unit, self._clock, hand_over) for unit in self.units]
        self._workers = {worker.unit.room_id: worker for worker in self.workers}
        for worker in self.workers:
            worker.start()
        log.info("analysing %d cameras", len(self.workers))
        try:
            await stop.wait()
        finally:
            for worker in self.workers:
                worker.stop()
            await asyncio.to_thread(self._join_all)

    def _join_all(self) -> None:
        for worker in self.workers:
            worker.join(timeout=30.0)

    def deliver(self, result: FrameResult) -> None:
        """Take one frame's result (on the loop thread): emit its decisions, keep its state."""
        room = self._rooms[result.room_id]
        room.latest = result
        room.frames += 1
        room.detections += int(result.detected)
        self._snapshots[result.room_id] = result.snapshot
        for decision in result.decisions:
            key = decision.type.value
            self.decisions[key] = self.decisions.get(key, 0) + 1
            try:
                self._uplink.emit_room_event(decision.room_id, decision.type, decision.time, decision.data)
            except Exception:
                self.emit_failures += 1
                log.exception("could not queue %s for room %s", key, decision.room_id)
            for listener in list(self._listeners.values()):
                try:
                    listener(decision)
                except Exception:
                    log.exception("room decision listener failed")

    def readings(self, now: float) -> list[RoomReading]:
        """One reading per room for the telemetry batch; resets the per-batch counters."""
        readings = []
        for unit in self.units:
            room = self._rooms[unit.room_id]
            latest = room.latest
            elapsed = None if room.last_reading_at is None else now - room.last_reading_at
            fps = round(room.frames / elapsed, 2) if elapsed and elapsed > 0 else None
            readings.append(
                RoomReading(
                    room_id=unit.room_id,
                    time=utc_from_timestamp(latest.time if latest else now),
                    faces=min(latest.faces, 100) if latest else 0,
                    allowed=unit.allowed,
                    person_present=latest.person_present if latest else None,
                    camera=latest.camera if latest else CameraState.OFFLINE,
                    brightness=latest.brightness if latest else None,
                    fps=fps,
                    detections=room.detections,
                )
            )
            room.frames = room.detections = 0
            room.last_reading_at = now
        return readings

    def has_room(self, room_id: str) -> bool:
        """True if `room_id` is one of this site's camera rooms."""
        return room_id in self._units

    def latest_frame(self, room_id: str) -> LatestFrame | None:
        """The room camera's most recent frame (None before the first, or when the rooms are not running)."""
        worker = self._workers.get(room_id)
        return worker.latest if worker is not None else None

    def render_snapshot(self, room_id: str, frame: LatestFrame, max_bytes: int) -> BlurredSnapshot:
        """`frame` of the room with every face blurred, as a JPEG of at most `max_bytes` (CPU-bound: run it
        in a worker thread; the detector is shared with the camera threads, which onnxruntime allows)."""
        unit = self._units[room_id]
        detector = unit.snapshot_detector or unit.pipeline.detector
        return take_snapshot(frame.image, detector, max_bytes=max_bytes)

    def snapshots(self) -> dict[str, RoomSnapshot]:
        """What has been reported about each room, to persist."""
        return dict(self._snapshots)

    def stats(self) -> RoomStats:
        """Counters of the rooms (cumulative)."""
        return RoomStats(
            decisions=dict(sorted(self.decisions.items())),
            emit_failures=self.emit_failures,
            frames=sum(unit.pipeline.frames for unit in self.units),
            detections=sum(unit.pipeline.detections for unit in self.units),
            errors=sum(worker.errors for worker in self.workers),
            cpu_s=round(sum(worker.cpu_s for worker in self.workers), 3),
            offline=sorted(u.room_id for u in self.units if not u.capture.online),
        )
