"""A ward at a glance: each home-quarantined person's state now, facility rooms, orders ending soon.

`classify_state` is pure: it turns a bracelet's condition states, its hub's online state and its last
reported presence into the one word an officer reads first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cloud.access import Actor
from cloud.rules import Condition, ConditionState
from cloud.sites import RoomView, SiteService
from cloud.storage.records import Device, Order
from cloud.storage.repository import Repository
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock

MAX_PEOPLE = 5000


class PersonState(StrEnum):
    """What a home-quarantined person's bracelet says now, worst first."""

    HUB_OFFLINE = "hub_offline"
    BRACELET_OFF = "bracelet_off"
    STRAP_OPEN = "strap_open"
    SIGNAL_LOST = "signal_lost"
    OUT = "out"
    AT_HOME = "at_home"
    UNKNOWN = "unknown"


# The conditions that decide the state, in the order they take precedence (a removed bracelet also loses
# skin contact and may look away: the cause comes first).
_PRECEDENCE = (
    (Condition.REMOVED, PersonState.BRACELET_OFF),
    (Condition.STRAP_OPEN, PersonState.STRAP_OPEN),
    (Condition.SIGNAL_LOST, PersonState.SIGNAL_LOST),
    (Condition.AWAY, PersonState.OUT),
)


def classify_state(
    conditions: Mapping[Condition, ConditionState], site_state: str | None, last_presence: str | None
) -> PersonState:
    """The person's state now from their bracelet's conditions, their hub's state and the last presence."""
    if site_state == "offline":
        return PersonState.HUB_OFFLINE
    for condition, state in _PRECEDENCE:
        held = conditions.get(condition)
        if held is not None and held.active:
            return state
    if last_presence == "away":
        return PersonState.OUT
    if last_presence == "home":
        return PersonState.AT_HOME
    return PersonState.UNKNOWN


@dataclass(frozen=True, slots=True)
class PersonView:
    """One active home-quarantine order with its bracelet's state now."""

    order: Order
    state: PersonState
    conditions: list[str]
    device: Device | None
    site_state: str | None


@dataclass(frozen=True, slots=True)
class WardOverview:
    """Everything the console's first page shows."""

    generated_at: datetime
    people: list[PersonView]
    rooms: list[RoomView]
    ending_soon: list[Order]
    pending: list[Order]


class OverviewService:
    """Builds a ward overview from the orders, device conditions and readings, site and room status."""

    def __init__(self, repository: Repository, clock: Clock) -> None:
        self._repo = repository
        self._clock = clock

    def build(self, actor: Actor, *, ward: str | None = None, ending_within: timedelta) -> WardOverview:
        """The overview of the actor's wards (or one of them; another ward's is empty, never an error)."""
        wards = actor.ward_filter
        if ward is not None:
            wards = frozenset({ward}) if actor.sees(ward) else frozenset()
        now = utc_from_timestamp(self._clock.now())
        repo = self._repo
        active = repo.orders.list(wards=wards, status="active", limit=MAX_PEOPLE)
        pending = repo.orders.list(wards=wards, status="pending", limit=MAX_PEOPLE)
        home = [o for o in active if o.device_id is not None]
        devices = {d.device_id: d for d in repo.devices.overview(wards=wards, limit=MAX_PEOPLE)}
        sites = {s.site_id: s.state for s in repo.sites.list(sorted({o.site_id for o in home}))}
        with repo.read() as conn:
            conditions = repo.conditions.load(conn, [o.subject for o in home])
        people = []
        for order in home:
            held = conditions.get(order.subject, {})
            device = devices.get(order.device_id or "")
            site_state = sites.get(order.site_id)
            people.append(
                PersonView(
                    order=order,
                    state=classify_state(held, site_state, device.last_presence if device else None),
                    conditions=sorted(c.value for c, s in held.items() if s.active),
                    device=device,
                    site_state=site_state,
                )
            )
        people.sort(key=lambda p: (list(PersonState).index(p.state), p.order.person.full_name))
        # Rooms of the actor's wards; with `ward`, only those holding one of that ward's active orders.
        active_ids = {o.id for o in active}
        rooms = [r for r in SiteService(repo).rooms(actor) if active_ids.intersection(r.order_ids)]
        horizon = now + ending_within
        ending = sorted((o for o in active if o.ends_at <= horizon), key=lambda o: o.ends_at)
        return WardOverview(now, people, rooms, ending, pending)
