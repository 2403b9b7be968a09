"""Turning a batch of raw MQTT messages into records: validate, dead-letter, de-duplicate, apply rules,
and store the edges' answers to snapshot requests.

Everything of one batch is written in one transaction with a constant number of statements (plus one per
snapshot answer: rare, an officer's request each); the caller acknowledges the QoS 1 messages only after
`process` returned (i.e. after the commit).
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from pydantic import ValidationError
from sqlalchemy.engine import Connection

from cloud.alerts import AlertBatch, AlertFields, AlertService, BatchResult, OpenAlerts
from cloud.cache import LruCache
from cloud.rules import (
    Condition,
    ConditionState,
    OrderContext,
    Policy,
    RuleEvent,
    SiteStatus,
    evaluate,
    evaluate_site_status,
    offline_overdue,
    room_subject,
    site_actions,
)
from cloud.storage.records import RoomStatus, SiteStatusRecord, SnapshotAnswer
from cloud.storage.repository import Repository
from cloud.storage.telemetry import AnyTelemetryPoint, RoomTelemetryPoint, TelemetryPoint
from gateway.protocol import (
    EVENT_ADAPTER,
    SNAPSHOT_ADAPTER,
    STATUS_ADAPTER,
    TELEMETRY_ADAPTER,
    Channel,
    SiteState,
    SnapshotMessage,
    StatusMessage,
    TelemetryMessage,
    parse_topic,
)

log = logging.getLogger(__name__)

MAX_DEAD_LETTER_BYTES = 256 * 1024
# A refused snapshot may still hold a picture: its dead letter keeps only the head, which names the request
# (SnapshotMessage puts the JPEG last).
MAX_SNAPSHOT_DEAD_LETTER_BYTES = 2048
# What the hub ingests: the site-to-hub channels (a message on a commands topic is dead-lettered).
_ADAPTERS: dict[Channel, Any] = {
    Channel.EVENTS: EVENT_ADAPTER,
    Channel.TELEMETRY: TELEMETRY_ADAPTER,
    Channel.STATUS: STATUS_ADAPTER,
    Channel.SNAPSHOTS: SNAPSHOT_ADAPTER,
}
_READING_FIELDS = (
    "presence",
    "rssi",
    "distance_m",
    "battery",
    "heart_rate",
    "skin_temp_c",
    "strap_closed",
    "skin_contact",
    "charging",
    "adverts",
)
_ROOM_FIELDS = ("faces", "allowed", "person_present", "brightness", "fps", "detections")
Conditions = Mapping[Condition, ConditionState]
# Topics repeat (one per site and channel): parse each once. Invalid topics raise and are not cached.
_parse_topic = functools.lru_cache(maxsize=4096)(parse_topic)
K = TypeVar("K")
V = TypeVar("V")


class RawMessage(NamedTuple):
    """One MQTT message as received.

    `process` takes any (topic, payload) pairs: ingest passes plain tuples, which the garbage collector stops
    tracking, so that a backlog of received messages costs the collector nothing.
    """

    topic: str
    payload: bytes


@dataclass(slots=True)
class BatchOutcome:
    """What one batch did, for the counters, the live feed and the telemetry store."""

    stored: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)
    statuses: int = 0
    readings: int = 0
    snapshots: int = 0  # answers stored against their pending request
    alerts: BatchResult | None = None
    points: list[AnyTelemetryPoint] = field(default_factory=list)

    def add(self, other: BatchOutcome) -> None:
        """Fold another outcome into this one (ingest retries a failed batch message by message)."""
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.rejected.update(other.rejected)
        self.flagged.update(other.flagged)
        self.statuses += other.statuses
        self.readings += other.readings
        self.snapshots += other.snapshots
        self.points.extend(other.points)
        if other.alerts is not None:
            mine = self.alerts
            self.alerts = (
                other.alerts
                if mine is None
                else BatchResult(
                    mine.opened + other.alerts.opened,
                    mine.updated + other.alerts.updated,
                    mine.changes + other.alerts.changes,
                )
            )


@dataclass(slots=True)
class _Parsed:
    dead: list[dict[str, Any]] = field(default_factory=list)
    events: list[RuleEvent] = field(default_factory=list)
    statuses: list[StatusMessage] = field(default_factory=list)
    telemetry: list[TelemetryMessage] = field(default_factory=list)
    snapshots: list[SnapshotMessage] = field(default_factory=list)


class BatchProcessor:
    """Applies batches; caches orders, device conditions, site statuses and open alerts between them."""

    def __init__(
        self,
        repository: Repository,
        alerts: AlertService,
        policy: Policy,
        *,
        cache_size: int = 50_000,
        order_ttl_s: float = 30.0,
        trust_state_cache: bool = True,
        snapshot_timeout_s: float = 30.0,
    ) -> None:
        self._repo = repository
        self._alerts = alerts
        self._policy = policy
        self._snapshot_timeout = timedelta(seconds=snapshot_timeout_s)
        self._trust_state = trust_state_cache  # False when other hub replicas write the same state
        self.orders: LruCache[str, OrderContext | None] = LruCache(cache_size, order_ttl_s)
        self.room_orders: LruCache[str, tuple[OrderContext, ...]] = LruCache(cache_size, order_ttl_s)
        self.conditions: LruCache[str, Conditions] = LruCache(cache_size)
        self.sites: LruCache[str, SiteStatus | None] = LruCache(cache_size)
        self.open_alerts: LruCache[int, dict[str, AlertFields]] = LruCache(cache_size)
        self._unsubscribe = (
            repository.orders.on_change(self.orders.invalidate),
            repository.orders.on_change(self.room_orders.invalidate),
            alerts.on_transition(self.open_alerts.invalidate),
        )

    def close(self) -> None:
        """Stop listening for order and alert changes."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    def forget_state(self) -> None:
        """Drop every cache (after a failed transaction, or when the database changed under us)."""
        self.orders.invalidate()
        self.room_orders.invalidate()
        self.conditions.invalidate()
        self.sites.invalidate()
        self.open_alerts.invalidate()

    def process(self, messages: Sequence[tuple[str, bytes]], now: datetime) -> BatchOutcome:
        """Validate, store and apply one batch in one transaction; raise if the transaction failed."""
        outcome = BatchOutcome()
        parsed = self._parse(messages, now, outcome)
        new_conditions: dict[str, Conditions] = {}
        new_sites: dict[str, SiteStatus] = {}
        with self._repo.write() as conn:
            self._repo.dead_letters.add_many(conn, parsed.dead)
            events = self._store_events(conn, parsed.events, now, outcome)
            batch = self._alerts.batch(conn, lambda ids: self._load_open_alerts(conn, ids))
            if events:
                self._apply_events(conn, events, batch, new_conditions, outcome)
            if parsed.statuses:
                self._apply_statuses(conn, parsed.statuses, batch, new_sites, now, outcome)
            if parsed.telemetry:
                self._record_readings(conn, parsed.telemetry, now, outcome)
            if parsed.snapshots:
                self._store_snapshots(conn, parsed.snapshots, now, outcome)
            outcome.alerts = batch.flush()
        # Only committed state enters the caches.
        if self._trust_state:
            self.conditions.put_many(new_conditions.items())
            self.sites.put_many(new_sites.items())
            self.open_alerts.put_many(outcome.alerts.open_alerts.items())
        return outcome

    def sweep_offline_sites(self, now: datetime) -> BatchResult | None:
        """Open hub_offline alerts for the sites offline longer than the grace period (one transaction).

        Ingest calls it every few seconds; each offline spell is alerted once (the site's `alerted_at`).
        Returns None when no site was due.
        """
        grace = timedelta(seconds=self._policy.hub_offline_grace_s)
        with self._repo.write() as conn:
            candidates = self._repo.sites.offline_unalerted(conn, now - grace)
            due = [
                r
                for r in candidates
                if offline_overdue(SiteStatus(SiteState(r.state), r.since), False, now, self._policy)
            ]
            if not due:
                return None
            batch = self._alerts.batch(conn, lambda ids: self._load_open_alerts(conn, ids))
            for record in due:
                status = SiteStatus(SiteState.OFFLINE, record.since)
                orders = self._repo.orders.contexts_for_site(record.site_id, conn=conn)
                for order, action in site_actions(status, orders, self._policy):
                    batch.add(order, action, None, record.since)
            self._repo.sites.mark_alerted(conn, [r.site_id for r in due], now)
            result = batch.flush()
        if self._trust_state:
            self.open_alerts.put_many(result.open_alerts.items())
        return result

    def _parse(self, messages: Sequence[tuple[str, bytes]], now: datetime, outcome: BatchOutcome) -> _Parsed:
        parsed = _Parsed()
        seen: set[str] = set()
        events = parsed.events
        for topic, payload in messages:
            try:
                site_id, channel = _parse_topic(topic)
            except ValueError as exc:
                reason = "unknown_channel" if "unknown channel" in str(exc) else "bad_topic"
                _reject(parsed, outcome, topic, payload, now, reason, str(exc))
                continue
            adapter = _ADAPTERS.get(channel)
            if adapter is None:
                detail = f"the hub does not ingest {channel.value} (it publishes them)"
                _reject(parsed, outcome, topic, payload, now, "unknown_channel", detail)
                continue
            keep = MAX_SNAPSHOT_DEAD_LETTER_BYTES if channel is Channel.SNAPSHOTS else MAX_DEAD_LETTER_BYTES
            try:
                message = adapter.validate_json(payload)
            except ValidationError as exc:
                first = exc.errors()[0]
                reason = "invalid_json" if first["type"] == "json_invalid" else "invalid_payload"
                where = ".".join(str(p) for p in first["loc"]) or "payload"
                detail = f"{where}: {first['msg']} ({exc.error_count()} errors)"
                _reject(parsed, outcome, topic, payload[:keep], now, reason, detail)
                continue
            if message.site_id != site_id:
                detail = f"payload site {message.site_id!r} on the topic of {site_id!r}"
                _reject(parsed, outcome, topic, payload[:keep], now, "site_mismatch", detail)
                continue
            if channel is Channel.EVENTS:
                event_id = str(message.event_id)
                if event_id in seen:
                    outcome.duplicates += 1
                    continue
                seen.add(event_id)
                events.append(
                    RuleEvent(
                        event_id,
                        site_id,
                        message.device_id,
                        message.seq,
                        message.type,
                        message.time,
                        message.data,
                        message.room_id,
                    )
                )
            elif channel is Channel.STATUS:
                parsed.statuses.append(message)
            elif channel is Channel.SNAPSHOTS:
                parsed.snapshots.append(message)
            else:
                parsed.telemetry.append(message)
        return parsed

    def _store_events(
        self, conn: Connection, events: list[RuleEvent], now: datetime, outcome: BatchOutcome
    ) -> list[RuleEvent]:
        if not events:
            return []
        inserted = self._repo.events.insert_new(conn, events, now)
        outcome.stored += len(inserted)
        outcome.duplicates += len(events) - len(inserted)
        if len(inserted) == len(events):
            return events
        return [e for e in events if e.event_id in inserted]

    def _apply_events(
        self,
        conn: Connection,
        events: list[RuleEvent],
        batch: AlertBatch,
        new_conditions: dict[str, Conditions],
        outcome: BatchOutcome,
    ) -> None:
        devices = {e.device_id for e in events if e.device_id is not None}
        orders = self._load_orders(conn, devices)
        rooms = self._load_room_orders(conn, {e.subject for e in events if e.device_id is None})
        subjects = devices | rooms.keys()
        conditions = self._load_conditions(conn, subjects)
        sites = self._load_sites(conn, {o.site_id for o in orders.values() if o is not None})
        batch.preload(o.order_id for o in orders.values() if o is not None)
        batch.preload(o.order_id for room in rooms.values() for o in room)
        changed: dict[tuple[str, Condition], ConditionState] = {}
        flags: list[tuple[str, str]] = []
        for event in events:
            if event.device_id is not None:
                subject = event.device_id
                order = orders.get(subject)
                serving: tuple[OrderContext, ...] = () if order is None else (order,)
                site = sites.get(order.site_id) if order is not None else None
            else:
                subject = event.subject
                serving = rooms[subject]
                # A room may serve several orders: the rules judge the event against one that covers it.
                order = next((o for o in serving if o.covers(event.time)), serving[0] if serving else None)
                site = None  # a camera's events carry their own evidence; hub status does not reclassify
            result = evaluate(event, order, conditions[subject], site, self._policy)
            if result.changed is not None:
                conditions[subject] = new_conditions[subject] = result.conditions
                changed[(subject, result.changed)] = result.conditions[result.changed]
            if result.flag is not None:
                flags.append((event.event_id, result.flag))
                outcome.flagged[result.flag] += 1
            for action in result.actions:
                for target in serving:
                    if target is order or target.covers(event.time):
                        batch.add(target, action, event.event_id, event.time)
        self._repo.conditions.save(conn, [(d, c, s) for (d, c), s in changed.items()])
        self._repo.events.set_flags(conn, flags)

    def _apply_statuses(
        self,
        conn: Connection,
        statuses: list[StatusMessage],
        batch: AlertBatch,
        new_sites: dict[str, SiteStatus],
        now: datetime,
        outcome: BatchOutcome,
    ) -> None:
        known = self._load_sites(conn, {s.site_id for s in statuses})
        records: dict[str, SiteStatusRecord] = {}
        for message in sorted(statuses, key=lambda s: s.time):
            status = SiteStatus(SiteState(message.state), message.time)
            previous = known.get(message.site_id)
            if previous is not None and (status.since < previous.since or status == previous):
                continue  # retained copies come back on every (re)subscription
            orders = self._repo.orders.contexts_for_site(message.site_id, conn=conn)
            _, actions = evaluate_site_status(status, previous, orders, self._policy)
            for order, action in actions:
                batch.add(order, action, None, message.time)
            known[message.site_id] = new_sites[message.site_id] = status
            alerted = now if status.state is SiteState.OFFLINE and actions else None
            records[message.site_id] = SiteStatusRecord(
                message.site_id, status.state.value, status.since, message.reason, now, alerted
            )
            outcome.statuses += 1
        self._repo.sites.save(conn, list(records.values()))

    def _record_readings(
        self, conn: Connection, batches: list[TelemetryMessage], now: datetime, outcome: BatchOutcome
    ) -> None:
        latest: dict[str, dict[str, Any]] = {}
        for message in batches:
            for r in message.readings:
                values = {k: v for k in _READING_FIELDS if (v := getattr(r, k)) is not None}
                outcome.points.append(TelemetryPoint(message.site_id, r.device_id, r.time, values))
                current = latest.get(r.device_id)
                if current is None or current["time"] <= r.time:
                    latest[r.device_id] = {
                        "device_id": r.device_id,
                        "time": r.time,
                        "site_id": message.site_id,
                        "battery": r.battery,
                        "rssi": r.rssi,
                        "presence": r.presence.value,
                    }
        outcome.readings += len(outcome.points)
        self._repo.devices.record_readings(conn, list(latest.values()))
        rooms: dict[tuple[str, str], RoomStatus] = {}
        for message in batches:
            for room in message.rooms:
                values = {k: v for k in _ROOM_FIELDS if (v := getattr(room, k)) is not None}
                values["camera"] = room.camera.value
                outcome.points.append(RoomTelemetryPoint(message.site_id, room.room_id, room.time, values))
                key = (message.site_id, room.room_id)
                current_room = rooms.get(key)
                if current_room is None or current_room.time <= room.time:
                    rooms[key] = RoomStatus(
                        message.site_id,
                        room.room_id,
                        room.time,
                        room.faces,
                        room.allowed,
                        room.person_present,
                        room.camera.value,
                        room.brightness,
                        now,
                    )
        outcome.readings += len(rooms)
        self._repo.rooms.save(conn, list(rooms.values()))

    def _store_snapshots(
        self, conn: Connection, messages: list[SnapshotMessage], now: datetime, outcome: BatchOutcome
    ) -> None:
        answers = [
            SnapshotAnswer(
                str(m.command_id),
                m.site_id,
                m.room_id,
                "failed" if m.error is not None else "ready",
                m.time,
                m.faces_blurred,
                None if m.error is None else m.error.value,
                m.image,
            )
            for m in messages
        ]
        matched = self._repo.snapshots.complete(conn, answers, now, now - self._snapshot_timeout)
        outcome.snapshots += len(matched)
        if len(matched) < len(answers):
            # Too late, answered already (a re-delivery), or for no request of this room: not stored.
            outcome.flagged["unmatched_snapshot"] += len(answers) - len(matched)

    def _load_orders(self, conn: Connection, devices: set[str]) -> dict[str, OrderContext | None]:
        load = functools.partial(self._repo.orders.contexts_for_devices, conn=conn)
        return _through_cache(self.orders, devices, load, lambda: None, True)

    def _load_room_orders(self, conn: Connection, subjects: set[str]) -> dict[str, tuple[OrderContext, ...]]:
        def load(keys: set[str]) -> dict[str, tuple[OrderContext, ...]]:
            pairs = {tuple(k.split("/", 1)) for k in keys}
            found = self._repo.orders.contexts_for_rooms(pairs, conn=conn)  # type: ignore[arg-type]
            return {room_subject(s, r): tuple(contexts) for (s, r), contexts in found.items()}

        return _through_cache(self.room_orders, subjects, load, tuple, True)

    def _load_conditions(self, conn: Connection, subjects: set[str]) -> dict[str, Conditions]:
        load = functools.partial(self._repo.conditions.load, conn)
        return _through_cache(self.conditions, subjects, load, dict, self._trust_state)

    def _load_open_alerts(self, conn: Connection, order_ids: set[int]) -> OpenAlerts:
        load = functools.partial(self._alerts.load_open, conn)
        return _through_cache(self.open_alerts, order_ids, load, dict, self._trust_state)

    def _load_sites(self, conn: Connection, site_ids: set[str]) -> dict[str, SiteStatus | None]:
        def load(keys: set[str]) -> dict[str, SiteStatus | None]:
            records = self._repo.sites.get_many(conn, keys)
            return {k: SiteStatus(SiteState(r.state), r.since) for k, r in records.items()}

        return _through_cache(self.sites, site_ids, load, lambda: None, self._trust_state)


def _reject(
    parsed: _Parsed,
    outcome: BatchOutcome,
    topic: str,
    payload: bytes,
    now: datetime,
    reason: str,
    detail: str,
) -> None:
    outcome.rejected[reason] += 1
    parsed.dead.append(
        {
            "received_at": now,
            "topic": topic[:512],
            "payload": payload[:MAX_DEAD_LETTER_BYTES],
            "reason": f"{reason}: {detail}"[:500],
        }
    )


def _through_cache(
    cache: LruCache[K, V],
    keys: set[K],
    load: Callable[[set[K]], Mapping[K, V]],
    default: Callable[[], V],
    use_cache: bool,
) -> dict[K, V]:
    """Values for `keys` from the cache; the missing ones are loaded with one query (and cached if asked).

    Cached values are shared: callers replace them, never mutate them.
    """
    if use_cache:
        found, missing = cache.get_many(keys)
    else:
        found, missing = {}, set(keys)
    if missing:
        generation = cache.generation
        loaded = load(missing)
        fresh = {}
        for key in missing:
            value = loaded.get(key)
            fresh[key] = default() if value is None else value
        found.update(fresh)
        if use_cache:
            cache.put_many(fresh.items(), generation)
    return found
