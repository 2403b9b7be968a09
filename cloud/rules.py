"""Violation rules: turn one edge event, or one site status, into alert actions. Pure: no I/O.

Each event type is the onset or the clearance of a *condition* of its subject: a bracelet (away, strap
open, bracelet removed, signal lost, battery low, fever) or a facility room watched by a camera (person
absent, over occupancy, camera blind, unknown face). Each condition feeds one *alert type*; an alert type
is active while any condition feeding it is active. A condition follows the newest event by (time, seq): a
late event (older than the condition's state) still reaches its alert's timeline but never overrides state.
A bracelet serves one order; a room may serve several (a family isolated together): the room's alert
actions apply to each of its orders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from gateway.protocol import ROOM_EVENT_TYPES, EventType, SiteState


class AlertType(StrEnum):
    """Incidents an officer handles; several event types can feed one."""

    LEFT_HOME = "left_home"
    TAMPER = "tamper"
    SIGNAL_LOST = "signal_lost"
    BATTERY_DEPLETED = "battery_depleted"
    BATTERY_LOW = "battery_low"
    FEVER = "fever"
    HUB_OFFLINE = "hub_offline"
    PERSON_ABSENT = "person_absent"
    OCCUPANCY_EXCEEDED = "occupancy_exceeded"
    CAMERA_FAULT = "camera_fault"
    UNKNOWN_FACE = "unknown_face"


class Severity(StrEnum):
    """How urgent an alert is, lowest first."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}

DEFAULT_SEVERITIES: dict[AlertType, Severity] = {
    AlertType.LEFT_HOME: Severity.CRITICAL,
    AlertType.TAMPER: Severity.CRITICAL,
    AlertType.SIGNAL_LOST: Severity.HIGH,
    AlertType.BATTERY_DEPLETED: Severity.MEDIUM,
    AlertType.BATTERY_LOW: Severity.LOW,
    AlertType.FEVER: Severity.HIGH,
    AlertType.HUB_OFFLINE: Severity.HIGH,
    AlertType.PERSON_ABSENT: Severity.CRITICAL,
    AlertType.OCCUPANCY_EXCEEDED: Severity.HIGH,
    AlertType.CAMERA_FAULT: Severity.HIGH,
    AlertType.UNKNOWN_FACE: Severity.HIGH,
}

TITLES: dict[AlertType, str] = {
    AlertType.LEFT_HOME: "Left home",
    AlertType.TAMPER: "Bracelet tampered with",
    AlertType.SIGNAL_LOST: "Bracelet signal lost",
    AlertType.BATTERY_DEPLETED: "Bracelet battery depleted",
    AlertType.BATTERY_LOW: "Bracelet battery low",
    AlertType.FEVER: "Fever",
    AlertType.HUB_OFFLINE: "Edge site offline",
    AlertType.PERSON_ABSENT: "Person absent from the room",
    AlertType.OCCUPANCY_EXCEEDED: "Too many people in the room",
    AlertType.CAMERA_FAULT: "Room camera cannot see",
    AlertType.UNKNOWN_FACE: "Unknown face in the room",
}


class Condition(StrEnum):
    """A per-subject state that an onset event sets and a clearing event resets."""

    AWAY = "away"
    STRAP_OPEN = "strap_open"
    REMOVED = "removed"
    SIGNAL_LOST = "signal_lost"
    BATTERY_LOW = "battery_low"
    FEVER = "fever"
    ABSENT = "absent"
    CROWDED = "crowded"
    CAMERA_BLIND = "camera_blind"
    UNKNOWN_FACE = "unknown_face"


# event type -> (condition, True for an onset / False for a clearance)
EVENT_CONDITIONS: dict[EventType, tuple[Condition, bool]] = {
    EventType.LEFT_HOME: (Condition.AWAY, True),
    EventType.RETURNED_HOME: (Condition.AWAY, False),
    EventType.STRAP_OPENED: (Condition.STRAP_OPEN, True),
    EventType.STRAP_CLOSED: (Condition.STRAP_OPEN, False),
    EventType.BRACELET_REMOVED: (Condition.REMOVED, True),
    EventType.BRACELET_WORN: (Condition.REMOVED, False),
    EventType.SIGNAL_LOST: (Condition.SIGNAL_LOST, True),
    EventType.SIGNAL_RESTORED: (Condition.SIGNAL_LOST, False),
    EventType.BATTERY_LOW: (Condition.BATTERY_LOW, True),
    EventType.BATTERY_OK: (Condition.BATTERY_LOW, False),
    EventType.FEVER: (Condition.FEVER, True),
    EventType.FEVER_CLEARED: (Condition.FEVER, False),
    EventType.PERSON_ABSENT: (Condition.ABSENT, True),
    EventType.PERSON_PRESENT: (Condition.ABSENT, False),
    EventType.OCCUPANCY_EXCEEDED: (Condition.CROWDED, True),
    EventType.OCCUPANCY_NORMAL: (Condition.CROWDED, False),
    # Covered, dark and frozen are three onsets of one condition: one incident while the camera is blind.
    EventType.CAMERA_COVERED: (Condition.CAMERA_BLIND, True),
    EventType.CAMERA_DARK: (Condition.CAMERA_BLIND, True),
    EventType.CAMERA_FROZEN: (Condition.CAMERA_BLIND, True),
    EventType.CAMERA_OK: (Condition.CAMERA_BLIND, False),
    EventType.UNKNOWN_FACE: (Condition.UNKNOWN_FACE, True),
    EventType.UNKNOWN_FACE_CLEARED: (Condition.UNKNOWN_FACE, False),
}

# The alert type a condition feeds; signal loss is classified per event from its evidence instead.
CONDITION_ALERTS: dict[Condition, AlertType] = {
    Condition.AWAY: AlertType.LEFT_HOME,
    Condition.STRAP_OPEN: AlertType.TAMPER,
    Condition.REMOVED: AlertType.TAMPER,
    Condition.SIGNAL_LOST: AlertType.SIGNAL_LOST,
    Condition.BATTERY_LOW: AlertType.BATTERY_LOW,
    Condition.FEVER: AlertType.FEVER,
    Condition.ABSENT: AlertType.PERSON_ABSENT,
    Condition.CROWDED: AlertType.OCCUPANCY_EXCEEDED,
    Condition.CAMERA_BLIND: AlertType.CAMERA_FAULT,
    Condition.UNKNOWN_FACE: AlertType.UNKNOWN_FACE,
}

# Each event type as words ("left home"): summaries are built per event, so this is worked out once.
EVENT_TEXT: dict[EventType, str] = {t: t.value.replace("_", " ") for t in EventType}

FLAG_WRONG_SITE = "wrong_site"
FLAG_NO_ORDER = "no_active_order"
FLAG_OUTSIDE_WINDOW = "outside_order_window"


def room_subject(site_id: str, room_id: str) -> str:
    """The key of a room's conditions and orders: room ids are unique per site only."""
    return f"{site_id}/{room_id}"


@dataclass(frozen=True, slots=True)
class RuleEvent:
    """The part of an edge event the rules read; it is about a bracelet (device_id) or a room (room_id)."""

    event_id: str
    site_id: str
    device_id: str | None
    seq: int
    type: EventType
    time: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    room_id: str | None = None

    @property
    def subject(self) -> str:
        """The device id, or the room's key (`site/room`)."""
        if self.device_id is not None:
            return self.device_id
        assert self.room_id is not None
        return room_subject(self.site_id, self.room_id)


@dataclass(frozen=True, slots=True)
class OrderContext:
    """An active quarantine order: monitored by a bracelet (device_id) or by a facility room (room_id)."""

    order_id: int
    ward_id: str
    site_id: str
    device_id: str | None
    starts_at: datetime
    ends_at: datetime
    room_id: str | None = None

    @property
    def subject(self) -> str:
        """The device id, or the room's key (`site/room`)."""
        if self.device_id is not None:
            return self.device_id
        assert self.room_id is not None
        return room_subject(self.site_id, self.room_id)

    def covers(self, when: datetime) -> bool:
        """True if `when` falls inside the order's window."""
        return self.starts_at <= when <= self.ends_at


@dataclass(frozen=True, slots=True)
class ConditionState:
    """One condition of one subject: whether it holds, since which event, and the alert type it feeds."""

    active: bool
    time: datetime
    seq: int
    alert_type: AlertType


@dataclass(frozen=True, slots=True)
class SiteStatus:
    """A site's last announced connection state."""

    state: SiteState
    since: datetime


@dataclass(frozen=True, slots=True)
class Policy:
    """Thresholds and severities of the rules."""

    battery_critical_pct: float = 5
    rssi_fade_trend_db_per_min: float = -3.0
    # A site offline for less than this opens no alert (a broker restart or a router reboot is not an
    # incident); 0 alerts at once.
    hub_offline_grace_s: float = 90.0
    severities: Mapping[AlertType, Severity] = field(default_factory=lambda: dict(DEFAULT_SEVERITIES))


@dataclass(frozen=True, slots=True)
class AlertAction:
    """What one event means for the alert of one type: an onset or a clearance, and the resulting state."""

    alert_type: AlertType
    onset: bool
    active: bool
    severity: Severity
    title: str
    summary: str
    late: bool = False


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """The device's conditions after the event, the alert actions, and a flag when no alert may open."""

    conditions: Mapping[Condition, ConditionState]
    changed: Condition | None
    actions: tuple[AlertAction, ...] = ()
    flag: str | None = None


def evaluate(
    event: RuleEvent,
    order: OrderContext | None,
    conditions: Mapping[Condition, ConditionState],
    site_status: SiteStatus | None,
    policy: Policy,
) -> RuleOutcome:
    """Apply one event to its device's conditions and say which alert it opens, updates or clears."""
    condition, onset = EVENT_CONDITIONS[event.type]
    if order is not None and order.site_id != event.site_id:
        # Not the device's home hub: do not let another site move this device's state.
        return RuleOutcome(conditions, None, flag=FLAG_WRONG_SITE)
    previous = conditions.get(condition)
    late = previous is not None and (event.time, event.seq) < (previous.time, previous.seq)
    if onset:
        alert_type, summary = _classify_onset(event, condition, site_status, policy)
    else:
        alert_type = previous.alert_type if previous is not None else CONDITION_ALERTS[condition]
        summary = EVENT_TEXT[event.type]
    updated = dict(conditions)
    changed: Condition | None = None
    if not late:
        updated[condition] = ConditionState(onset, event.time, event.seq, alert_type)
        changed = condition
    if order is None:
        return RuleOutcome(updated, changed, flag=FLAG_NO_ORDER)
    if not order.covers(event.time):
        return RuleOutcome(updated, changed, flag=FLAG_OUTSIDE_WINDOW)
    if late:
        summary += f" (late: condition already set by seq {previous.seq})" if previous else ""
    action = _action(alert_type, onset, is_active(alert_type, updated), summary, policy, late)
    if changed and previous is not None and previous.active and previous.alert_type is not alert_type:
        # The condition now feeds another alert type (a new classification): the old one may have cleared.
        old = previous.alert_type
        cleared = _action(old, False, is_active(old, updated), "reclassified as " + alert_type.value, policy)
        return RuleOutcome(updated, changed, (action, cleared))
    return RuleOutcome(updated, changed, (action,))


def is_active(alert_type: AlertType, conditions: Mapping[Condition, ConditionState]) -> bool:
    """An alert type is active while any condition feeding it is."""
    return any(c.active and c.alert_type is alert_type for c in conditions.values())


def classify_signal_loss(data: Mapping[str, Any], policy: Policy) -> tuple[AlertType, str]:
    """Tell a dead battery and a probable exit from a plain radio dropout, from the loss's evidence."""
    battery = _number(data.get("last_battery"))
    if battery is not None and battery <= policy.battery_critical_pct:
        return (
            AlertType.BATTERY_DEPLETED,
            f"signal lost with battery at {battery:g} %: battery probably depleted",
        )
    trend = _number(data.get("rssi_trend_db_per_min"))
    rssi = _number(data.get("last_rssi"))
    exit_rssi = _number(data.get("exit_rssi"))
    fading = trend is not None and trend <= policy.rssi_fade_trend_db_per_min
    beyond_exit = rssi is not None and exit_rssi is not None and rssi < exit_rssi
    if fading or beyond_exit:
        detail = f"trend {trend:g} dB/min" if fading and trend is not None else f"last RSSI {rssi:g} dBm"
        return AlertType.LEFT_HOME, f"signal faded then lost: probable exit ({detail})"
    return AlertType.SIGNAL_LOST, "signal lost without fading or low battery" + _strap_evidence(data)


def evaluate_site_status(
    status: SiteStatus, previous: SiteStatus | None, orders: Sequence[OrderContext], policy: Policy
) -> tuple[bool, list[tuple[OrderContext, AlertAction]]]:
    """A site's status change: (apply it?, hub_offline actions for the site's orders covering its time).

    Going offline opens alerts at once only without a grace period; otherwise `offline_overdue` says when.
    Coming back online clears them (a no-op if the grace period never ran out).
    """
    if previous is not None and (status.since < previous.since or status == previous):
        return False, []  # a stale or repeated (retained) status
    onset = status.state is SiteState.OFFLINE
    if onset and policy.hub_offline_grace_s > 0:
        return True, []
    return True, site_actions(status, orders, policy)


def offline_overdue(status: SiteStatus, alerted: bool, now: datetime, policy: Policy) -> bool:
    """True once a site has been offline for the grace period and its orders were not alerted yet."""
    if status.state is not SiteState.OFFLINE or alerted:
        return False
    return (now - status.since).total_seconds() >= policy.hub_offline_grace_s


def site_actions(
    status: SiteStatus, orders: Sequence[OrderContext], policy: Policy
) -> list[tuple[OrderContext, AlertAction]]:
    """The hub_offline onset (offline) or clearance (online) for each order the site serves at the time."""
    onset = status.state is SiteState.OFFLINE
    change = "went offline" if onset else "back online"
    home = _action(AlertType.HUB_OFFLINE, onset, onset, f"home hub {change}", policy)
    facility = _action(AlertType.HUB_OFFLINE, onset, onset, f"facility edge box {change}", policy)
    return [
        (order, home if order.device_id is not None else facility)
        for order in orders
        if order.covers(status.since)
    ]


# Every event yields an action, and most are equal to an earlier one (same type, state and summary): they
# are immutable, so equal ones are shared instead of built again. Bounded: summaries carry measurements.
_ACTIONS: dict[tuple[AlertType, bool, bool, Severity, str, bool], AlertAction] = {}
_ACTIONS_MAX = 4096


def _action(
    alert_type: AlertType, onset: bool, active: bool, summary: str, policy: Policy, late: bool = False
) -> AlertAction:
    severity = policy.severities.get(alert_type) or DEFAULT_SEVERITIES[alert_type]
    key = (alert_type, onset, active, severity, summary, late)
    action = _ACTIONS.get(key)
    if action is None:
        if len(_ACTIONS) >= _ACTIONS_MAX:
            _ACTIONS.clear()
        action = _ACTIONS[key] = AlertAction(
            alert_type, onset, active, severity, TITLES[alert_type], summary, late
        )
    return action


def _classify_onset(
    event: RuleEvent, condition: Condition, site_status: SiteStatus | None, policy: Policy
) -> tuple[AlertType, str]:
    if condition is Condition.SIGNAL_LOST:
        alert_type, summary = classify_signal_loss(event.data, policy)
        if site_status is not None and site_status.state is SiteState.OFFLINE:
            summary += "; home hub offline since " + site_status.since.isoformat()
        return alert_type, summary
    alert_type = CONDITION_ALERTS[condition]
    return alert_type, _onset_summary(event)


def _onset_summary(event: RuleEvent) -> str:
    data = event.data
    text = EVENT_TEXT[event.type]
    if event.type is EventType.LEFT_HOME and _number(data.get("rssi")) is not None:
        text += f" (RSSI {_number(data.get('rssi')):g} dBm"
        exit_rssi = _number(data.get("exit_rssi"))
        text += f", exit threshold {exit_rssi:g} dBm)" if exit_rssi is not None else ")"
    elif event.type is EventType.FEVER and _number(data.get("skin_temp_c")) is not None:
        text += f" ({_number(data.get('skin_temp_c')):g} °C)"
    elif event.type is EventType.BATTERY_LOW and _number(data.get("battery")) is not None:
        text += f" ({_number(data.get('battery')):g} %)"
    elif event.type in ROOM_EVENT_TYPES:
        text = _room_summary(event.type, data, text)
    return text


def _room_summary(kind: EventType, data: Mapping[str, Any], text: str) -> str:
    """A room onset with its evidence: how long unseen, how many faces, what the camera saw."""
    if kind is EventType.PERSON_ABSENT and (unseen := _number(data.get("unseen_s"))) is not None:
        return f"{text} (no face for {unseen:.0f} s)"
    if kind is EventType.OCCUPANCY_EXCEEDED:
        faces, allowed = _number(data.get("max_faces") or data.get("faces")), _number(data.get("allowed"))
        if faces is not None and allowed is not None:
            return f"{text} ({faces:g} faces, {allowed:g} allowed)"
    if kind in (EventType.CAMERA_COVERED, EventType.CAMERA_DARK, EventType.CAMERA_FROZEN):
        brightness = _number(data.get("brightness"))
        return f"{text} (brightness {brightness:.0f}/255)" if brightness is not None else text
    if kind is EventType.UNKNOWN_FACE and (similarity := _number(data.get("similarity"))) is not None:
        threshold = _number(data.get("threshold"))
        limit = f" < {threshold:.2f}" if threshold is not None else ""
        return f"{text} (best match {similarity:.2f}{limit})"
    return text


def _strap_evidence(data: Mapping[str, Any]) -> str:
    notes = []
    if data.get("strap_closed") is False:
        notes.append("strap was open")
    if data.get("skin_contact") is False:
        notes.append("no skin contact")
    return f"; {', '.join(notes)}" if notes else ""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
