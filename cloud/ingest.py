"""MQTT ingest: a receiver that only hands messages over, and a worker that commits them in batches.

QoS 1 messages are acknowledged to the broker only after their batch is committed, over a persistent
session: a crash between receipt and commit loses nothing (the broker re-delivers; event ids de-duplicate).
By default the receiver runs in a child process (`cloud.receiver_process`), so that parsing MQTT packets does
not take interpreter time from the worker; `ingest_receiver: thread` keeps it in this process.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError

from cloud.alerts import AlertService
from cloud.processor import MAX_SNAPSHOT_DEAD_LETTER_BYTES, BatchOutcome, BatchProcessor
from cloud.receiver import Inbound, MqttReceiver, Receiver, ReceiverConfig
from cloud.receiver_process import ProcessReceiver
from cloud.settings import HubSettings
from cloud.storage.alert_records import StaleAlertError
from cloud.storage.repository import Repository
from cloud.storage.telemetry import TelemetryStore
from gateway.protocol import Channel, utc_from_timestamp
from qmon.clock import Clock

log = logging.getLogger(__name__)

_STOP = object()


@dataclass
class IngestCounters:
    """Running totals since start; read a consistent copy with `Ingest.snapshot()`."""

    received: int = 0
    processed: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)
    alerts_opened: int = 0
    alerts_updated: int = 0
    statuses: int = 0
    readings: int = 0
    snapshots: int = 0
    batches: int = 0
    acked: int = 0
    db_retries: int = 0
    connects: int = 0
    sweeps_alerting: int = 0
    telemetry_points: int = 0  # points the telemetry store accepted
    telemetry_dropped: int = 0  # points lost to failed telemetry writes
    telemetry_failures: int = 0  # failed telemetry writes

    def as_dict(self) -> dict[str, Any]:
        """Plain values (Counters become dicts)."""
        return {k: dict(v) if isinstance(v, Counter) else v for k, v in self.__dict__.items()}


def build_receiver(settings: HubSettings) -> Receiver:
    """The receiver the settings ask for: in a child process (default) or on a thread of this process."""
    config = ReceiverConfig(
        mqtt=settings.mqtt,
        session_expiry_s=settings.mqtt_session_expiry_s,
        receive_maximum=settings.mqtt_receive_maximum,
        shared_subscription_group=settings.shared_subscription_group,
    )
    if settings.ingest_receiver == "process":
        return ProcessReceiver(config)
    return MqttReceiver(config)


class Ingest:
    """Receives site messages over MQTT and applies them through the batch processor."""

    def __init__(
        self,
        settings: HubSettings,
        repository: Repository,
        alerts: AlertService,
        clock: Clock,
        *,
        telemetry: TelemetryStore | None = None,
        receiver: Callable[[HubSettings], Receiver] = build_receiver,
    ) -> None:
        self._settings = settings
        self._repo = repository
        self._clock = clock
        self._telemetry = telemetry
        self._alerts = alerts
        self._build_receiver = receiver
        self.processor = BatchProcessor(
            repository,
            alerts,
            settings.rules.to_policy(),
            order_ttl_s=settings.order_cache_ttl_s,
            trust_state_cache=settings.shared_subscription_group is None,
            snapshot_timeout_s=settings.snapshot_timeout_s,
        )
        self.counters = IngestCounters()
        self._queue: queue.SimpleQueue[Inbound | object] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self._receiver: Receiver | None = None
        self._stopping = False
        self._telemetry_failing = False

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self, *, connect: bool = True) -> None:
        """Start the worker and, unless `connect` is False (tests that submit directly), the receiver."""
        self._stopping = False
        self._worker = threading.Thread(target=self._run, name="qmon-hub-ingest", daemon=True)
        self._worker.start()
        if connect:
            self._receiver = self._build_receiver(self._settings)
            self._receiver.start(self._enqueue)

    def stop(self, timeout: float = 10.0) -> None:
        """Disconnect (keeping the broker-side session), then commit what was already received."""
        self._stopping = True
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            receiver.stop()  # returns once nothing more can arrive
            with self._cond:
                self.counters.connects = receiver.connects
        if self._worker is not None:
            self._queue.put(_STOP)
            self._worker.join(timeout)
            self._worker = None

    def close(self) -> None:
        """Release the processor's listeners (after stop(); the object is not reused)."""
        self.processor.close()

    @property
    def running(self) -> bool:
        """True while the receiver is started."""
        return self._receiver is not None

    @property
    def connected(self) -> bool:
        """True while connected to the broker."""
        receiver = self._receiver
        return receiver is not None and receiver.connected

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Block until connected and subscribed (or the timeout)."""
        receiver = self._receiver
        return receiver is not None and receiver.wait_connected(timeout)

    # -- receiving -----------------------------------------------------------------------------------------

    def submit(self, topic: str, payload: bytes, qos: int = 0, mid: int = 0, generation: int = -1) -> None:
        """Queue one message for the worker (tests may call it directly)."""
        self._enqueue(((topic, payload, qos, mid, generation),))

    def _enqueue(self, items: Sequence[Inbound]) -> None:
        with self._cond:
            self.counters.received += len(items)
        put = self._queue.put
        for item in items:
            put(item)

    # -- the worker --------------------------------------------------------------------------------------

    def _run(self) -> None:
        stop = False
        limit = self._settings.ingest_batch_max
        linger = self._settings.ingest_batch_linger_s
        sweep_every = self._settings.site_sweep_interval_s
        next_sweep = time.monotonic() + sweep_every
        while not stop:
            if time.monotonic() >= next_sweep:
                self._sweep()
                next_sweep = time.monotonic() + sweep_every
            try:
                first = self._queue.get(timeout=max(0.0, next_sweep - time.monotonic()))
            except queue.Empty:
                continue
            if first is _STOP:
                break
            batch: list[Inbound] = [first]  # type: ignore[list-item]
            deadline = time.monotonic() + linger
            while len(batch) < limit:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        item = self._queue.get(timeout=remaining)
                    except queue.Empty:
                        break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)  # type: ignore[arg-type]
            self._handle(batch)

    def _handle(self, batch: list[Inbound]) -> None:
        outcome = self._commit(batch)
        if outcome is not None:
            self._acknowledge(batch)
            if outcome.alerts is not None:
                self._alerts.publish(outcome.alerts.changes)
            self._write_telemetry(outcome)
        with self._cond:
            self.counters.processed += len(batch)
            self.counters.batches += 1
            if outcome is not None:
                self._count(outcome)
            self._cond.notify_all()

    def _sweep(self) -> None:
        """Time-driven rules: sites offline past the grace period get their hub_offline alerts."""
        try:
            result = self.processor.sweep_offline_sites(utc_from_timestamp(self._clock.now()))
        except Exception:  # the next sweep tries again; events must keep flowing meanwhile
            log.exception("hub ingest: offline-site sweep failed")
            self.processor.forget_state()
            return
        if result is None:
            return
        self._alerts.publish(result.changes)
        with self._cond:
            self.counters.alerts_opened += result.opened
            self.counters.alerts_updated += result.updated
            self.counters.sweeps_alerting += 1
            self._cond.notify_all()

    def _commit(self, batch: list[Inbound]) -> BatchOutcome | None:
        """Commit the batch, retrying while the database is unavailable; None if the hub is stopping."""
        delay = 0.05
        attempts = 0
        while True:
            try:
                return self.processor.process(
                    [(i[0], i[1]) for i in batch], utc_from_timestamp(self._clock.now())
                )
            except StaleAlertError:  # an officer changed an alert meanwhile: re-read and redo the batch
                self.processor.forget_state()
                with self._cond:
                    self.counters.db_retries += 1
                    self._cond.notify_all()
                continue
            except (OperationalError, DBAPIError) as exc:
                attempts += 1
                self.processor.forget_state()
                with self._cond:
                    self.counters.db_retries += 1
                    self._cond.notify_all()
                if isinstance(exc, OperationalError) or exc.connection_invalidated or attempts < 3:
                    if self._stopping and attempts >= 3:
                        return None  # not acknowledged: the broker re-delivers to the next hub
                    log.warning("hub ingest: database error, retrying in %.2fs: %s", delay, exc)
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                return self._commit_one_by_one(batch, exc)
            except Exception as exc:  # a bug must not stop ingest: isolate the message that causes it
                log.exception("hub ingest: batch failed")
                self.processor.forget_state()
                return self._commit_one_by_one(batch, exc)

    def _commit_one_by_one(self, batch: list[Inbound], cause: Exception) -> BatchOutcome | None:
        if len(batch) == 1:
            return self._dead_letter(batch[0], cause)
        merged = BatchOutcome()
        for item in batch:
            one = self._commit([item])
            if one is None:
                return None
            merged.add(one)
        return merged

    def _dead_letter(self, item: Inbound, cause: Exception) -> BatchOutcome | None:
        now = utc_from_timestamp(self._clock.now())
        reason = f"processing_error: {type(cause).__name__}: {cause}"[:500]
        try:
            with self._repo.write() as conn:
                self._repo.dead_letters.add_many(
                    conn,
                    [
                        {
                            "received_at": now,
                            "topic": item[0][:512],
                            "payload": _dead_letter_payload(item[0], item[1]),
                            "reason": reason,
                        }
                    ],
                )
        except Exception:
            log.exception("hub ingest: could not store a dead letter; the message stays unacknowledged")
            return None
        outcome = BatchOutcome()
        outcome.rejected["processing_error"] += 1
        return outcome

    def _acknowledge(self, batch: list[Inbound]) -> None:
        """Acknowledge the committed QoS 1 messages (only on the connection they arrived on)."""
        receiver = self._receiver
        if receiver is None:
            return
        sent = receiver.acknowledge(batch)
        with self._cond:
            self.counters.acked += sent

    def _write_telemetry(self, outcome: BatchOutcome) -> None:
        if self._telemetry is None or not outcome.points:
            return
        try:
            self._telemetry.write(outcome.points)
        except Exception as exc:  # telemetry is QoS 0 and best effort: never stall events for it
            dropped = getattr(exc, "dropped", len(outcome.points))
            with self._cond:
                self.counters.telemetry_failures += 1
                self.counters.telemetry_dropped += dropped
            if not self._telemetry_failing:  # once per outage, not once per batch
                log.exception("hub ingest: telemetry write failed; %d points dropped", dropped)
            self._telemetry_failing = True
            return
        if self._telemetry_failing:
            log.warning("hub ingest: telemetry writes succeed again")
            self._telemetry_failing = False
        with self._cond:
            self.counters.telemetry_points += len(outcome.points)

    def _count(self, outcome: BatchOutcome) -> None:
        c = self.counters
        c.stored += outcome.stored
        c.duplicates += outcome.duplicates
        c.rejected.update(outcome.rejected)
        c.flagged.update(outcome.flagged)
        c.statuses += outcome.statuses
        c.readings += outcome.readings
        c.snapshots += outcome.snapshots
        if outcome.alerts is not None:
            c.alerts_opened += outcome.alerts.opened
            c.alerts_updated += outcome.alerts.updated

    # -- observation ---------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of the counters."""
        receiver = self._receiver
        with self._cond:
            if receiver is not None:
                self.counters.connects = receiver.connects
            return self.counters.as_dict()

    def wait_until(self, predicate: Callable[[IngestCounters], bool], timeout: float = 10.0) -> bool:
        """Block until `predicate(counters)` holds after a batch (or the timeout); True if it did."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.counters), timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until everything received so far has been processed."""
        return self.wait_until(lambda c: c.processed >= c.received, timeout)


def _dead_letter_payload(topic: str, payload: bytes) -> bytes:
    """What a dead letter keeps: a snapshot only up to its head (it may hold a picture), the rest whole."""
    if topic.endswith(f"/{Channel.SNAPSHOTS.value}"):
        return payload[:MAX_SNAPSHOT_DEAD_LETTER_BYTES]
    return payload
