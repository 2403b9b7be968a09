"""The simulated world: every bracelet over one clock, advertising through the radio model to receivers.

Each bracelet advertises at its own interval plus BLE's random 0-10 ms delay; its wearer moves along the
household's path and its timeline events apply when due. An advertisement's RSSI is computed from the
bracelet's position to its OWN household's hub only: neighbours' hubs are not modelled (a hub never hears
the bracelets next door, and a bracelet can only be connected from its own hub).

Scheduling is a heap of (due time, bracelet) for advertisements, a sorted list for timeline events and a
small heap for link upkeep, so that the cost per advertisement does not grow with the number of bracelets.
`advance_to(t)` processes everything due up to clock time t synchronously (tests with ManualClock);
`run()` is the same over the clock's sleep.
"""

from __future__ import annotations

import functools
import heapq
import logging
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from firmware_sim.bracelet import AttError, NotifyCallback, SimBracelet
from firmware_sim.faults import apply_to_bracelet
from firmware_sim.gatt_layout import DEFAULT_MTU
from firmware_sim.households import (
    BatteryEvent,
    BraceletSpec,
    ChargingEvent,
    ClockDriftEvent,
    DropoutEvent,
    FeverEvent,
    Household,
    InterferenceEvent,
    RadioEvent,
    SkinContactEvent,
    StrapEvent,
    TimelineEvent,
    bracelet_keys,
    check_unique_ids,
    load_households,
)
from firmware_sim.radio import Channel, RadioModel
from qmon.bracelet.advert import COMPANY_ID
from qmon.bracelet.gatt import QUARANTINE_SERVICE, BraceletConfig
from qmon.clock import Clock

log = logging.getLogger(__name__)

ADV_JITTER_S = 0.010  # BLE's advDelay: 0-10 ms added to every advertising interval
LINK_TICK_S = 1.0  # link upkeep (supervision, periodic notifications) once a simulated second
ADDRESS_PREFIX = "C5:1A"  # top bits 11: a static random address; the rest carries the device id

AdvertCallback = Callable[["AdvertReport"], None]
HappeningCallback = Callable[["Happening"], None]
LinkLostCallback = Callable[[str], None]


def ble_address(device_id: int) -> str:
    """The bracelet's static random BLE address, derived from (and readable as) its device id."""
    return ADDRESS_PREFIX + "".join(f":{b:02X}" for b in device_id.to_bytes(4, "big"))


def device_id_from_address(address: str) -> int | None:
    """The device id inside a simulated bracelet's address, or None for any other address."""
    parts = address.upper().split(":")
    if len(parts) != 6 or ":".join(parts[:2]) != ADDRESS_PREFIX:
        return None
    try:
        return int("".join(parts[2:]), 16)
    except ValueError:
        return None


class AdvertReport(NamedTuple):
    """One advertisement as one receiver heard it (active scanning: scan-response fields included).

    Immutable like the frozen dataclasses elsewhere, but a NamedTuple: the world builds one for every
    advert heard (10,000 a second), and a frozen dataclass's __init__ costs three times as much.
    """

    address: str
    rssi: int
    manufacturer_data: dict[int, bytes]
    local_name: str | None
    service_uuids: tuple[str, ...]
    receiver: str
    time: float


# AdvertReport(...) without the generated __new__'s Python frame, for the world's hot path: the fields
# in declaration order, as one tuple.
_new_report: Callable[[tuple[object, ...]], AdvertReport] = functools.partial(tuple.__new__, AdvertReport)


class HappeningKind(StrEnum):
    """Notable things that happen in the world (the CLI prints them; tests and demos may watch them)."""

    STRAP_OPENED = "strap opened"
    STRAP_CLOSED = "strap closed"
    SKIN_CONTACT_LOST = "skin contact lost"
    SKIN_CONTACT_RESTORED = "skin contact restored"
    LEFT_HOME = "wearer left home footprint"
    RETURNED_HOME = "wearer returned home"
    BATTERY_LOW = "battery low"
    BATTERY_DEAD = "battery dead"
    BATTERY_REVIVED = "bracelet powered up"
    BATTERY_SET = "battery set"
    CHARGING_STARTED = "charging started"
    CHARGING_STOPPED = "charging stopped"
    FEVER_STARTED = "fever started"
    FEVER_ENDED = "fever ended"
    RADIO_OFF = "radio off"
    RADIO_ON = "radio on"
    DROPOUT_STARTED = "radio dropout started"
    DROPOUT_ENDED = "radio dropout ended"
    INTERFERENCE_STARTED = "radio interference started"
    INTERFERENCE_ENDED = "radio interference ended"
    CLOCK_DRIFT_SET = "clock drift set"
    LINK_UP = "GATT link up"
    LINK_CLOSED = "GATT link closed"
    LINK_LOST = "GATT link lost"


@dataclass(frozen=True, slots=True)
class Happening:
    """Something notable that happened to one bracelet at a given clock time."""

    time: float
    elapsed: float
    device_id: str
    household_id: str
    kind: HappeningKind
    detail: str = ""

    def describe(self) -> str:
        """One human-readable line."""
        extra = f" ({self.detail})" if self.detail else ""
        return f"t=+{self.elapsed:8.1f}s {self.device_id} [{self.household_id}] {self.kind.value}{extra}"


@functools.lru_cache(maxsize=64)
def _shared_config(adv_interval_ms: int) -> BraceletConfig:
    """One (frozen) config object for every bracelet with these settings: fewer objects on the hot path."""
    return BraceletConfig(adv_interval_ms=adv_interval_ms)


def _happenings(bracelet: SimBracelet, event: TimelineEvent) -> list[tuple[HappeningKind, str]]:
    """What `event` changes that is worth reporting, judged before it is applied to `bracelet`."""
    if isinstance(event, StrapEvent):
        closed = event.strap == "closed"
        changed = closed != bracelet.strap_closed
        return [(HappeningKind.STRAP_CLOSED if closed else HappeningKind.STRAP_OPENED, "")] if changed else []
    if isinstance(event, SkinContactEvent):
        if event.skin_contact == bracelet.skin_contact:
            return []
        kind = HappeningKind.SKIN_CONTACT_RESTORED if event.skin_contact else HappeningKind.SKIN_CONTACT_LOST
        return [(kind, "")]
    if isinstance(event, BatteryEvent):
        return [(HappeningKind.BATTERY_SET, f"{event.battery:g}%")]
    if isinstance(event, ChargingEvent):
        if event.charging == bracelet.charging:
            return []
        return [(HappeningKind.CHARGING_STARTED if event.charging else HappeningKind.CHARGING_STOPPED, "")]
    if isinstance(event, FeverEvent):
        if event.fever == bracelet.fever:
            return []
        return [(HappeningKind.FEVER_STARTED if event.fever else HappeningKind.FEVER_ENDED, "")]
    if isinstance(event, RadioEvent):
        on = event.radio == "on"
        return (
            [(HappeningKind.RADIO_ON if on else HappeningKind.RADIO_OFF, "")]
            if on != bracelet.radio_on
            else []
        )
    if isinstance(event, DropoutEvent):
        return [(HappeningKind.DROPOUT_STARTED, f"{event.dropout_s:g} s")]
    if isinstance(event, InterferenceEvent):
        return [(HappeningKind.INTERFERENCE_STARTED, f"{event.interference_db:g} dB for {event.for_s:g} s")]
    if isinstance(event, ClockDriftEvent):
        return [(HappeningKind.CLOCK_DRIFT_SET, f"{event.clock_drift_ppm:g} ppm")]
    return []


class LinkError(ConnectionError):
    """A GATT link could not be made or is gone."""


class _Node:
    """Per-bracelet world state: the bracelet, where its wearer walks and which hub hears it."""

    __slots__ = (
        "address",
        "bracelet",
        "cursor",
        "cx",
        "cy",
        "dead",
        "device_hex",
        "dropout_until",
        "household",
        "hub_id",
        "hx",
        "hy",
        "index",
        "inside",
        "interference_db",
        "interference_until",
        "link",
        "low",
        "name",
        "path_t",
        "path_x",
        "path_y",
        "r2",
        "segment",
        "targets",
        "weak_since",
    )

    def __init__(self, index: int, household: Household, spec: BraceletSpec, bracelet: SimBracelet) -> None:
        self.index = index
        self.household = household
        self.bracelet = bracelet
        self.device_hex = spec.device_id
        self.address = ble_address(bracelet.device_id)
        self.name = bracelet.name
        self.hub_id = household.hub.id
        self.hx = household.hub.x
        self.hy = household.hub.y
        self.cx = household.home.x
        self.cy = household.home.y
        self.r2 = household.home.radius_m**2
        points = spec.path or []
        self.path_t = [p.t for p in points] or [0.0]
        self.path_x = [p.x for p in points] or [self.cx]
        self.path_y = [p.y for p in points] or [self.cy]
        self.cursor = 0
        self.segment = self._segment(0)
        x, y = self.path_x[0], self.path_y[0]
        self.inside = (x - self.cx) ** 2 + (y - self.cy) ** 2 <= self.r2
        self.dropout_until = -math.inf
        self.interference_db = 0.0  # extra attenuation while interference lasts (until interference_until)
        self.interference_until = -math.inf
        self.link: GattLink | None = None
        self.targets: tuple[AdvertCallback, ...] | None = None  # who hears this hub (World._rebuild_targets)
        self.weak_since: float | None = None
        self.dead = not bracelet.alive
        self.low = bracelet.low_battery

    def _segment(self, c: int) -> tuple[float, float, float, float, float, float, float]:
        """(t0, t1, t1 - t0, x0, x1 - x0, y0, y1 - y0) of the path segment from point c (t1 -inf: none)."""
        pt, px, py = self.path_t, self.path_x, self.path_y
        if c == len(pt) - 1:  # no segment: position() never takes the fast path past the end
            return pt[c], -math.inf, 0.0, px[c], 0.0, py[c], 0.0
        return pt[c], pt[c + 1], pt[c + 1] - pt[c], px[c], px[c + 1] - px[c], py[c], py[c + 1] - py[c]

    def position(self, t: float) -> tuple[float, float]:
        """The wearer's position at simulation time t (linear interpolation, holding the ends)."""
        # Fast path, once per advert: inside the current segment, from its cached differences (the
        # same arithmetic as below, so the same floats).
        t0, t1, span, x0, dx, y0, dy = self.segment
        if t0 < t < t1:
            f = (t - t0) / span
            return x0 + f * dx, y0 + f * dy
        pt = self.path_t
        c = self.cursor
        last = len(pt) - 1
        if c == last and t >= pt[c]:  # past the end of the path: the common case for a still wearer
            return self.path_x[c], self.path_y[c]
        if t < pt[c]:  # an out-of-order query (a connect between two processed events): walk back
            while c > 0 and pt[c] > t:
                c -= 1
        while c < last and pt[c + 1] <= t:
            c += 1
        if c != self.cursor:
            self.cursor = c
            self.segment = self._segment(c)
        if c < last and t > pt[c]:
            f = (t - pt[c]) / (pt[c + 1] - pt[c])
            return self.path_x[c] + f * (self.path_x[c + 1] - self.path_x[c]), self.path_y[c] + f * (
                self.path_y[c + 1] - self.path_y[c]
            )
        return self.path_x[c], self.path_y[c]


class GattLink:
    """A GATT connection from a receiver to one bracelet; requests reach the SimBracelet directly."""

    def __init__(self, world: World, node: _Node, receiver: str, on_lost: LinkLostCallback | None) -> None:
        self._world = world
        self._node = node
        self.address = node.address
        self.name = node.name
        self.receiver = receiver
        self.mtu = DEFAULT_MTU
        self._on_lost = on_lost
        self._unsubscribes: dict[str, Callable[[], None]] = {}
        self.connected = True
        self.lost_reason: str | None = None

    def read(self, uuid: str) -> bytes:
        """Read a characteristic; raises AttError (refused) or LinkError (link gone)."""
        now = self._world._check_link(self)
        return self._node.bracelet.gatt_read(uuid, now)

    def write(self, uuid: str, data: bytes, *, response: bool = True) -> None:
        """Write a characteristic; without response an ATT error is silently lost, as on the air."""
        now = self._world._check_link(self)
        try:
            self._node.bracelet.gatt_write(uuid, bytes(data), now)
        except AttError:
            if response:
                raise

    def subscribe(self, uuid: str, callback: NotifyCallback) -> Callable[[], None]:
        """Enable notifications of `uuid` to `callback`, replacing an earlier one; returns the unsubscribe."""
        self._world._check_link(self)
        self.unsubscribe(uuid)
        unsubscribe = self._node.bracelet.subscribe(uuid, callback)
        self._unsubscribes[uuid.lower()] = unsubscribe
        return lambda: self.unsubscribe(uuid)

    def unsubscribe(self, uuid: str) -> None:
        """Stop notifications of `uuid` on this link (no-op if none)."""
        unsubscribe = self._unsubscribes.pop(uuid.lower(), None)
        if unsubscribe is not None:
            unsubscribe()

    def subscribed(self, uuid: str) -> bool:
        """Whether this link receives notifications of `uuid`."""
        return uuid.lower() in self._unsubscribes

    def disconnect(self) -> None:
        """Close the link from the receiver's side (no lost callback)."""
        if self.connected:
            self._world._release_link(self, None)

    def _close(self, reason: str | None) -> None:
        self.connected = False
        self.lost_reason = reason
        for unsubscribe in list(self._unsubscribes.values()):
            unsubscribe()
        self._unsubscribes.clear()
        if reason is not None and self._on_lost is not None:
            try:
                self._on_lost(reason)
            except Exception:
                log.exception("link-lost callback failed for %s", self.address)


class World:
    """Drives every bracelet of `households` over `clock`, delivering adverts through `radio_model`."""

    def __init__(
        self,
        households: Sequence[Household],
        radio_model: RadioModel,
        clock: Clock,
        seed: int = 0,
        *,
        start: float | None = None,
        tick_s: float = 0.05,
    ) -> None:
        check_unique_ids(households)
        self.households = list(households)
        self.radio_model = radio_model
        self.clock = clock
        self.seed = seed
        self.start = clock.now() if start is None else start
        self.tick_s = tick_s
        self._rng = random.Random(seed)  # radio: noise, loss, jitter
        sensor_rng = random.Random(f"{seed}/sensors")  # bracelets: heart rate and temperature walks
        self._channel = Channel(radio_model, self._rng)
        self._uuids = (QUARANTINE_SERVICE,)
        self._nodes: list[_Node] = []
        self._by_address: dict[str, _Node] = {}
        self._by_device: dict[str, _Node] = {}
        self._timeline: list[tuple[float, int, int, TimelineEvent]] = []
        for household in self.households:
            for spec in household.bracelets:
                index = len(self._nodes)
                node = _Node(index, household, spec, self._make_bracelet(spec, sensor_rng))
                self._nodes.append(node)
                self._by_address[node.address] = node
                self._by_device[spec.device_id] = node
                for event in spec.timeline:
                    self._timeline.append((event.t, len(self._timeline), index, event))
        self._timeline.sort(key=lambda e: (e[0], e[1]))
        self._timeline_pos = 0
        # Bracelets are not synchronised: each one's first advert falls somewhere in its first interval.
        rand = self._rng.random
        self._adverts = [
            (rand() * n.bracelet.config.adv_interval_ms / 1000.0, i) for i, n in enumerate(self._nodes)
        ]
        heapq.heapify(self._adverts)
        self._tasks: list[tuple[float, int, int, str]] = []  # (t, seq, node index, what)
        self._task_seq = 0
        self._t = 0.0
        self._targets: dict[str, tuple[AdvertCallback, ...]] = {}
        self._subscribers: list[tuple[frozenset[str] | None, AdvertCallback]] = []
        self._happening_subs: list[HappeningCallback] = []
        self.adverts_sent = 0
        self.adverts_delivered = 0

    @classmethod
    def from_file(cls, path: Path, radio_model: RadioModel, clock: Clock, seed: int = 0) -> World:
        """Build a world from a households file (YAML or JSON)."""
        return cls(load_households(path), radio_model, clock, seed)

    def _make_bracelet(self, spec: BraceletSpec, rng: random.Random) -> SimBracelet:
        device_id = int(spec.device_id, 16)
        return SimBracelet(
            device_id,
            spec.key_bytes(self.seed),
            now=self.start,
            battery_pct=spec.battery_pct,
            drain_pct_per_hour=spec.drain_pct_per_hour,
            link_drain_pct_per_hour=spec.link_drain_pct_per_hour,
            charge_pct_per_hour=spec.charge_pct_per_hour,
            heart_rate_bpm=spec.heart_rate_bpm,
            body_temp_c=spec.body_temp_c,
            measured_power_dbm=spec.measured_power_dbm,
            config=_shared_config(spec.adv_interval_ms),
            strap_closed=spec.strap_closed,
            skin_contact=spec.skin_contact,
            charging=spec.charging,
            fever=spec.fever,
            clock_offset_s=spec.clock_offset_s,
            clock_drift_ppm=spec.clock_drift_ppm,
            clock_synced=spec.clock_synced,
            rng=rng,
        )

    # ---- lookups ---------------------------------------------------------------------------------------

    @property
    def receivers(self) -> list[str]:
        """Every receiver (hub) id in the world."""
        return [h.hub.id for h in self.households]

    @property
    def elapsed(self) -> float:
        """Simulated seconds processed so far."""
        return self._t

    def keys(self) -> dict[str, bytes]:
        """Every bracelet's key by device id (hex), for the edge agents' key registries."""
        return bracelet_keys(self.households, self.seed)

    def bracelet(self, device_id: str) -> SimBracelet:
        """The SimBracelet with this device id (8 hex digits)."""
        return self._by_device[device_id].bracelet

    def address_of(self, device_id: str) -> str:
        """The BLE address of the bracelet with this device id."""
        return self._by_device[device_id].address

    def position_of(self, device_id: str, t: float | None = None) -> tuple[float, float]:
        """Where the wearer of `device_id` is at simulation time t (default: now)."""
        node = self._by_device[device_id]
        return node.position(self._t if t is None else t)

    def is_connected(self, device_id: str) -> bool:
        """Whether the bracelet has a GATT link up."""
        return self._by_device[device_id].link is not None

    # ---- subscriptions ---------------------------------------------------------------------------------

    def subscribe(self, receivers: Iterable[str] | None, callback: AdvertCallback) -> Callable[[], None]:
        """Receive the adverts heard by `receivers` (hub ids; None: all); returns the unsubscribe callable."""
        wanted = None if receivers is None else frozenset(receivers)
        if wanted is not None:
            unknown = wanted - set(self.receivers)
            if unknown:
                raise ValueError(f"unknown receivers: {', '.join(sorted(unknown))}")
        entry = (wanted, callback)
        self._subscribers.append(entry)
        self._rebuild_targets()

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)
                self._rebuild_targets()

        return unsubscribe

    def subscribe_happenings(self, callback: HappeningCallback) -> Callable[[], None]:
        """Receive every Happening; returns the unsubscribe callable."""
        self._happening_subs.append(callback)

        def unsubscribe() -> None:
            if callback in self._happening_subs:
                self._happening_subs.remove(callback)

        return unsubscribe

    def _rebuild_targets(self) -> None:
        # Precomputed per receiver, and kept on each node, so that delivering an advert reads one slot.
        targets: dict[str, tuple[AdvertCallback, ...]] = {}
        for hub in self.receivers:
            callbacks = tuple(cb for wanted, cb in self._subscribers if wanted is None or hub in wanted)
            if callbacks:
                targets[hub] = callbacks
        self._targets = targets
        for node in self._nodes:
            node.targets = targets.get(node.hub_id)

    # ---- GATT links --------------------------------------------------------------------------------------

    def connect(self, address: str, receiver: str, *, on_lost: LinkLostCallback | None = None) -> GattLink:
        """Open a GATT link from `receiver` to the bracelet at `address`; `on_lost(reason)` fires if lost."""
        node = self._by_address.get(address.upper())
        if node is None:
            raise LinkError(f"no bracelet with address {address}")
        if receiver != node.hub_id:
            raise LinkError(
                f"{address} is not in range of receiver {receiver}"
            )  # neighbours are not modelled
        now = self.clock.now()
        t = max(self._t, now - self.start)
        bracelet = node.bracelet
        bracelet.update(now)
        self._check_power(node, t)
        if not bracelet.advertising:
            raise LinkError(f"{address} is not advertising")
        if node.link is not None:
            raise LinkError(f"{address} is already connected (one link at a time)")
        x, y = node.position(t)
        outside = (x - node.cx) ** 2 + (y - node.cy) ** 2 > node.r2
        distance = math.hypot(x - node.hx, y - node.hy)
        if not self._channel.link_holds(
            bracelet.advertised_power_dbm - node.interference_db, distance, outside, t < node.dropout_until
        ):
            raise LinkError(f"{address} did not answer the connection request (out of range)")
        link = GattLink(self, node, receiver, on_lost)
        node.link = link
        node.weak_since = None
        bracelet.links = 1
        self._schedule(t + LINK_TICK_S, node, "link")
        self._emit(node, t, HappeningKind.LINK_UP, f"from {receiver}")
        return link

    def _check_link(self, link: GattLink) -> float:
        """Bring the linked bracelet up to now; raise LinkError if the link is down. Returns now."""
        if not link.connected:
            raise LinkError(f"link to {link.address} is down ({link.lost_reason or 'disconnected'})")
        node = link._node
        now = self.clock.now()
        node.bracelet.update(now)
        self._check_power(node, max(self._t, now - self.start))
        if not link.connected:
            raise LinkError(f"link to {link.address} is down ({link.lost_reason})")
        return now

    def _release_link(self, link: GattLink, reason: str | None) -> None:
        node = link._node
        if node.link is link:
            node.link = None
            node.bracelet.links = 0
        kind = HappeningKind.LINK_CLOSED if reason is None else HappeningKind.LINK_LOST
        self._emit(node, self._t, kind, reason or "")
        link._close(reason)

    def _link_tick(self, node: _Node, t: float) -> None:
        link = node.link
        if link is None:
            return
        bracelet = node.bracelet
        bracelet.tick(self.start + t)  # periodic notifications; may also drain the battery to zero
        self._check_power(node, t)
        if node.link is not link:
            return
        x, y = node.position(t)
        outside = (x - node.cx) ** 2 + (y - node.cy) ** 2 > node.r2
        distance = math.hypot(x - node.hx, y - node.hy)
        power = bracelet.advertised_power_dbm - node.interference_db
        if self._channel.link_holds(power, distance, outside, t < node.dropout_until):
            node.weak_since = None
        elif node.weak_since is None:
            node.weak_since = t
        if node.weak_since is not None and t - node.weak_since >= self.radio_model.link_timeout_s:
            self._release_link(link, "out of range")
            return
        self._schedule(t + LINK_TICK_S, node, "link")

    # ---- time ------------------------------------------------------------------------------------------

    def next_due(self) -> float:
        """Simulation time of the next thing to process."""
        due = self._adverts[0][0] if self._adverts else math.inf
        if self._timeline_pos < len(self._timeline):
            due = min(due, self._timeline[self._timeline_pos][0])
        if self._tasks:
            due = min(due, self._tasks[0][0])
        return due

    def step(self) -> None:
        """Process everything due up to the clock's current time."""
        self.advance_to(self.clock.now())

    def advance_to(self, now: float) -> None:
        """Process, in time order, every advert, timeline event and link upkeep due up to clock time `now`."""
        t_end = now - self.start
        adverts = self._adverts
        timeline = self._timeline
        tasks = self._tasks
        nodes = self._nodes
        advertise = self._advertise
        heapreplace = heapq.heapreplace
        jitter = self._rng.random
        inf = math.inf
        while True:
            pos = self._timeline_pos
            te = timeline[pos][0] if pos < len(timeline) else inf
            tk = tasks[0][0] if tasks else inf
            # Adverts are nearly all of the work: run them in a tight loop up to the next other event.
            limit = min(te, tk, t_end)
            while adverts and adverts[0][0] <= limit:
                ta, index = adverts[0]
                node = nodes[index]
                heapreplace(
                    adverts,
                    (ta + node.bracelet.config.adv_interval_ms * 0.001 + jitter() * ADV_JITTER_S, index),
                )
                self._t = ta
                advertise(node, ta)
                if tasks and tasks[0][0] < limit:  # a subscriber connected: its link upkeep may come first
                    break
            if te <= t_end and te <= tk and (not adverts or te <= adverts[0][0]):
                self._timeline_pos = pos + 1
                _, _, index, event = timeline[pos]
                self._t = te
                self._apply(nodes[index], te, event)
            elif tasks and tasks[0][0] <= t_end and (not adverts or tasks[0][0] <= adverts[0][0]):
                tk, _, index, what = heapq.heappop(tasks)
                self._t = tk
                self._run_task(nodes[index], tk, what)
            elif not adverts or adverts[0][0] > t_end:
                break
        if t_end > self._t:
            self._t = t_end

    async def run(self) -> None:
        """Run forever over the clock (cancel the task to stop)."""
        while True:
            now = self.clock.now()
            self.advance_to(now)
            wait = self.start + self.next_due() - self.clock.now()
            await self.clock.sleep(min(1.0, max(self.tick_s, wait)))

    # ---- per-event work --------------------------------------------------------------------------------

    def _advertise(self, node: _Node, t: float) -> None:
        # The hot path (10,000 bracelets at 1 Hz is 10,000 calls a second): locals, no properties.
        bracelet = node.bracelet
        now = self.start + t
        bracelet.update(now)
        battery = bracelet.battery
        if (battery <= 0.0) != node.dead or (battery <= bracelet.config.low_battery_pct) != node.low:
            self._check_power(node, t)
        if battery <= 0.0 or not bracelet.radio_on:
            return
        x, y = node.position(t)
        dx = x - node.cx
        dy = y - node.cy
        inside = dx * dx + dy * dy <= node.r2
        if inside != node.inside:
            node.inside = inside
            self._emit(node, t, HappeningKind.RETURNED_HOME if inside else HappeningKind.LEFT_HOME)
        self.adverts_sent += 1
        targets = node.targets
        if targets is None:  # nobody listens to this hub: only the random draws, so the seed's sequence holds
            self._channel.skip()
            bracelet.skip_advertisement()
            return
        rssi = self._channel.sample(
            bracelet.measured_power_dbm + bracelet.config.tx_power_dbm - node.interference_db,
            math.hypot(x - node.hx, y - node.hy),
            not inside,
            t < node.dropout_until,
        )
        if rssi is None:
            bracelet.skip_advertisement()
            return
        report = _new_report(
            (
                node.address,
                rssi,
                {COMPANY_ID: bracelet.next_advertisement()},
                node.name,
                self._uuids,
                node.hub_id,
                now,
            )
        )
        self.adverts_delivered += 1
        for callback in targets:
            try:
                callback(report)
            except Exception:
                log.exception("advert subscriber failed")

    def inject(self, device_id: str, event: TimelineEvent) -> None:
        """Apply `event` to the bracelet now, as if scripted for this moment (a fault typed at its serial
        console): what happened before it is processed first, and it is reported like any happening."""
        node = self._by_device[device_id]
        self.advance_to(self.clock.now())
        self._apply(node, self._t, event)

    def _apply(self, node: _Node, t: float, event: TimelineEvent) -> None:
        bracelet = node.bracelet
        for kind, detail in _happenings(bracelet, event):
            self._emit(node, t, kind, detail)
        if isinstance(event, RadioEvent) and event.radio == "off" and node.link is not None:
            self._release_link(node.link, "radio off")
        apply_to_bracelet(bracelet, event, self.start + t)
        if isinstance(event, DropoutEvent):
            node.dropout_until = max(node.dropout_until, t + event.dropout_s)
            self._schedule(node.dropout_until, node, "dropout_end")
        elif isinstance(event, InterferenceEvent):
            node.interference_db = event.interference_db
            node.interference_until = t + event.for_s
            self._schedule(node.interference_until, node, "interference_end")
        self._check_power(node, t)

    def _run_task(self, node: _Node, t: float, what: str) -> None:
        if what == "link":
            self._link_tick(node, t)
        elif what == "dropout_end" and t >= node.dropout_until:
            self._emit(node, t, HappeningKind.DROPOUT_ENDED)
        elif what == "interference_end" and t >= node.interference_until and node.interference_db:
            node.interference_db = 0.0
            self._emit(node, t, HappeningKind.INTERFERENCE_ENDED)

    def _check_power(self, node: _Node, t: float) -> None:
        """Notice battery death, revival and the low-battery threshold; a dead bracelet drops its link."""
        bracelet = node.bracelet
        dead = not bracelet.alive
        if dead != node.dead:
            node.dead = dead
            self._emit(node, t, HappeningKind.BATTERY_DEAD if dead else HappeningKind.BATTERY_REVIVED)
        low = bracelet.low_battery
        if low != node.low:
            node.low = low
            if low and not dead:
                self._emit(node, t, HappeningKind.BATTERY_LOW, f"{bracelet.battery_level}%")
        if node.link is not None and not bracelet.advertising:
            self._release_link(node.link, "battery dead" if dead else "radio off")

    def _schedule(self, t: float, node: _Node, what: str) -> None:
        self._task_seq += 1
        heapq.heappush(self._tasks, (t, self._task_seq, node.index, what))

    def _emit(self, node: _Node, t: float, kind: HappeningKind, detail: str = "") -> None:
        if not self._happening_subs:
            return
        happening = Happening(self.start + t, t, node.device_hex, node.household.id, kind, detail)
        for callback in list(self._happening_subs):
            try:
                callback(happening)
            except Exception:
                log.exception("happening subscriber failed")
