"""Builders with defaults for the hub's pure logic: events, orders, conditions."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cloud.rules import Condition, ConditionState, OrderContext, Policy, RuleEvent, RuleOutcome, evaluate
from gateway.protocol import ROOM_EVENT_TYPES, EventType

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
SITE = "home-0001"
DEVICE = "0a1b2c3d"
ROOM = "room-101"


def at(seconds: float) -> datetime:
    """T0 plus some seconds."""
    return T0 + timedelta(seconds=seconds)


def make_event(
    type: EventType | str = EventType.LEFT_HOME,
    seq: int = 1,
    time: datetime | None = None,
    data: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> RuleEvent:
    """An edge event about DEVICE at SITE (about ROOM for a room event type)."""
    room_event = EventType(type) in ROOM_EVENT_TYPES
    values: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "site_id": SITE,
        "device_id": None if room_event else DEVICE,
        "room_id": ROOM if room_event else None,
        "seq": seq,
        "type": EventType(type),
        "time": time or at(seq),
        "data": dict(data or {}),
    }
    values.update(overrides)
    return RuleEvent(**values)


def make_order(**overrides: Any) -> OrderContext:
    """An active order for DEVICE at SITE, from an hour before T0 to two weeks after."""
    values: dict[str, Any] = {
        "order_id": 1,
        "ward_id": "ward-a",
        "site_id": SITE,
        "device_id": DEVICE,
        "starts_at": T0 - timedelta(hours=1),
        "ends_at": T0 + timedelta(days=14),
    }
    values.update(overrides)
    return OrderContext(**values)


class Device:
    """Feeds events through evaluate() and keeps the device's conditions, as ingest does."""

    def __init__(self, order: OrderContext | None = None, policy: Policy | None = None) -> None:
        self.order = order if order is not None else make_order()
        self.policy = policy or Policy()
        self.conditions: Mapping[Condition, ConditionState] = {}

    def send(self, event: RuleEvent) -> RuleOutcome:
        """Evaluate one event and keep the resulting conditions."""
        outcome = evaluate(event, self.order, self.conditions, None, self.policy)
        self.conditions = outcome.conditions
        return outcome
