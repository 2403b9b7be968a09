"""The site's durable outbox: events and telemetry wait here (SQLite, WAL) until the broker took them.

Two lanes share one file:

* events: every row is written with `synchronous=FULL` before `enqueue_event` returns, so an event the
  edge agent was told about survives a crash or a power cut. Rows leave only through `mark_sent`, which
  the uplink calls after the broker's PUBACK. The event id (random UUID) and the device's next sequence
  number are assigned in the same transaction as the insert; the per-device counter lives in its own
  table, so sequence numbers survive restarts and deletions and are never reused.
* telemetry: a bounded lane of the latest batches; beyond `max_telemetry_rows` the oldest are dropped and
  counted. Telemetry is a snapshot, so losing an old batch (even to a power cut, as these commits are not
  forced to disk) costs little.

One connection guarded by a lock: the asyncio side and the paho network thread may both call in.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.protocol import (
    EVENT_ADAPTER,
    EventMessage,
    EventType,
    TelemetryMessage,
    encode_message,
    utc_from_timestamp,
)
from qmon.clock import Clock

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids never reused, so id order is enqueue order
    event_id TEXT NOT NULL UNIQUE,
    site_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload BLOB NOT NULL,
    enqueued_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS device_seq (
    device_id TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS telemetry (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    enqueued_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
_TABLES = frozenset({"events", "device_seq", "telemetry", "counters"})


class OutboxError(RuntimeError):
    """The outbox file cannot be used (unreadable, corrupt, or not an outbox); the message names the file."""


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event waiting for the broker's acknowledgement."""

    id: int
    event_id: uuid.UUID
    site_id: str
    device_id: str
    seq: int
    payload: bytes

    def message(self) -> EventMessage:
        """Decode the stored payload."""
        return EVENT_ADAPTER.validate_json(self.payload)


@dataclass(frozen=True, slots=True)
class PendingTelemetry:
    """A telemetry batch waiting for a connection."""

    id: int
    site_id: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """What the outbox holds and what it had to give up."""

    pending_events: int
    pending_telemetry: int
    telemetry_dropped: int


class Outbox:
    """Durable, ordered queue of a site's events plus a bounded lane of telemetry batches."""

    def __init__(self, path: Path, clock: Clock, *, max_telemetry_rows: int = 720) -> None:
        if max_telemetry_rows < 1:
            raise ValueError("max_telemetry_rows must be at least 1")
        self.path = Path(path)
        self._clock = clock
        self._max_telemetry = max_telemetry_rows
        self._lock = threading.Lock()
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open outbox file {self.path}: {exc}") from exc
        try:
            # Any damage shows up here (header, pages, indexes) rather than halfway through sending.
            problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise OutboxError(f"outbox file {self.path} is corrupt: {'; '.join(problems[:3])}")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise OutboxError(f"outbox file {self.path}: cannot switch to WAL mode (got {mode})")
            self._check_schema(conn)
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except OutboxError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise OutboxError(f"outbox file {self.path} is unreadable or corrupt: {exc}") from exc
        return conn

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        tables.discard("sqlite_sequence")
        if version == 0 and not tables:
            return  # a new, empty file
        if version != SCHEMA_VERSION or not tables >= _TABLES:
            raise OutboxError(
                f"{self.path} is not a qmon outbox of schema version {SCHEMA_VERSION} "
                f"(user_version={version}, tables={sorted(tables)}); refusing to use it"
            )

    @contextmanager
    def _transaction(self, *, durable: bool) -> Iterator[sqlite3.Connection]:
        """A write transaction; `durable` commits with an fsync (synchronous=FULL)."""
        with self._lock:
            conn = self._conn
            # In WAL mode NORMAL keeps the file consistent but may lose the last commits on power loss;
            # that is acceptable for deletions (a resend) and telemetry, never for a new event.
            conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def enqueue_event(
        self,
        site_id: str,
        device_id: str | None,
        type: EventType | str,
        time: float | datetime,
        data: Mapping[str, Any] | None = None,
        *,
        room_id: str | None = None,
    ) -> EventMessage:
        """Persist a new event with a fresh event id and its subject's next seq; on disk when it returns.

        The subject is a bracelet (`device_id`) or a facility room (`room_id`); each has its own sequence.
        """
        when = utc_from_timestamp(time) if isinstance(time, int | float) else time
        # The device_seq and events tables key sequences by subject: a device id, or "room:<room id>".
        subject = device_id if device_id is not None else f"room:{room_id}"
        with self._transaction(durable=True) as conn:
            seq = conn.execute(
                "INSERT INTO device_seq(device_id, last_seq) VALUES (?, 1) "
                "ON CONFLICT(device_id) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
                (subject,),
            ).fetchone()[0]
            # Validation failures raise inside the transaction, so the sequence number is not consumed.
            message = EventMessage(
                v=1,
                event_id=uuid.uuid4(),
                site_id=site_id,
                device_id=device_id,
                room_id=room_id,
                seq=seq,
                type=EventType(type),
                time=when,
                data=dict(data or {}),
            )
            conn.execute(
                "INSERT INTO events(event_id, site_id, device_id, seq, payload, enqueued_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (str(message.event_id), site_id, subject, seq, encode_message(message), self._clock.now()),
            )
        return message

    def enqueue_telemetry(self, message: TelemetryMessage) -> int:
        """Keep a telemetry batch; drop and count the oldest beyond the bound; return the number dropped."""
        payload = encode_message(message)
        with self._transaction(durable=False) as conn:
            conn.execute(
                "INSERT INTO telemetry(site_id, payload, enqueued_at) VALUES (?, ?, ?)",
                (message.site_id, payload, self._clock.now()),
            )
            dropped = conn.execute(
                "DELETE FROM telemetry WHERE id NOT IN (SELECT id FROM telemetry ORDER BY id DESC LIMIT ?)",
                (self._max_telemetry,),
            ).rowcount
            if dropped:
                conn.execute(
                    "INSERT INTO counters(name, value) VALUES ('telemetry_dropped', ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                    (dropped,),
                )
        return dropped

    def pending_events(self, limit: int = 100, *, after: int = 0) -> list[PendingEvent]:
        """Unacknowledged events in enqueue order, starting after row id `after`."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, event_id, site_id, device_id, seq, payload FROM events"
                " WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit),
            ).fetchall()
        return [PendingEvent(r[0], uuid.UUID(r[1]), r[2], r[3], r[4], bytes(r[5])) for r in rows]

    def pending_telemetry(self, limit: int = 100) -> list[PendingTelemetry]:
        """Kept telemetry batches, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, site_id, payload FROM telemetry ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [PendingTelemetry(r[0], r[1], bytes(r[2])) for r in rows]

    def mark_sent(self, ids: Iterable[int]) -> int:
        """Delete acknowledged events by row id; returns how many rows were removed."""
        return self._delete("events", ids)

    def mark_telemetry_sent(self, ids: Iterable[int]) -> int:
        """Delete published telemetry batches by row id."""
        return self._delete("telemetry", ids)

    def _delete(self, table: str, ids: Iterable[int]) -> int:
        batch = [(int(i),) for i in ids]
        if not batch:
            return 0
        with self._transaction(durable=False) as conn:
            before = conn.total_changes
            conn.executemany(f"DELETE FROM {table} WHERE id = ?", batch)
            return conn.total_changes - before

    def last_seq(self, device_id: str) -> int:
        """The last sequence number given to a device (0 if none yet)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT last_seq FROM device_seq WHERE device_id = ?", (device_id,)
            ).fetchone()
        return int(row[0]) if row else 0

    def stats(self) -> OutboxStats:
        """Pending counts and the number of telemetry batches dropped so far (kept across restarts)."""
        with self._lock:
            events = self._conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            telemetry = self._conn.execute("SELECT COUNT(*) FROM telemetry").fetchone()[0]
            row = self._conn.execute("SELECT value FROM counters WHERE name = 'telemetry_dropped'").fetchone()
        return OutboxStats(int(events), int(telemetry), int(row[0]) if row else 0)

    def close(self) -> None:
        """Checkpoint and close the file."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
