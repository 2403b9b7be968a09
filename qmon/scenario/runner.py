"""Playing a scenario through the real parts: simulated world, edge agents, MQTT broker, hub, officer's feed.

Each scenario gets its own everything: an embedded broker with per-account passwords and the topic ACL (or
the anonymous broker given by `mqtt_url`), a hub on its own SQLite file, the world of its households on a
scaled clock that every part shares, one edge agent per site reading the world through bleak's API with
production settings (plus the scenario's overrides), and an administrator following the live alert feed.
Orders are placed through the hub's API before the world starts. An outage stops a site's edge agent (it
publishes `offline`, as its last will would) and starts it again later on the same outbox and state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cloud.app import HubServer
from cloud.auth import Passwords, create_officer
from cloud.settings import HubSettings
from edge.agent import run_edge
from edge.decision import Decision
from edge.settings import EdgeSettings
from firmware_sim.households import households_by_site
from firmware_sim.runner import running_world
from firmware_sim.world import World
from gateway.acl import MqttRole
from qmon.clock import ScaledClock
from qmon.embedded_broker import BrokerAccount, EmbeddedBroker
from qmon.hub_client import HubClient
from qmon.scenario.evaluate import SeenAlert, SeenEvent, Verdict, judge
from qmon.scenario.model import Scenario
from qmon.settings import set_dotted

log = logging.getLogger(__name__)

HUB_USER = "hub"
ADMIN = "scenario-admin"
FEED_CONNECT_TIMEOUT_S = 10.0
SETTLE_S = 0.5  # real seconds for changes already committed to reach the feed before it closes
# Everything shares one event loop and one scaled clock: if the loop stalls, the world's adverts arrive late
# in a lump while the edge's timers have already fired, and a stall of a second at x30 looks like 30 s of
# silence. A run whose loop stalled longer than this many simulated seconds is not judged.
MAX_STALL_SIM_S = 5.0
STALL_PROBE_S = 0.02


@dataclass(frozen=True)
class RunOptions:
    """Choices of the caller that override the scenario's own."""

    speed: float | None = None
    seed: int | None = None
    mqtt_url: str | None = None  # an anonymous broker (e.g. a local Mosquitto) instead of the embedded one
    workdir: Path | None = None  # keep each scenario's hub database, edge outbox and log here


@dataclass
class ScenarioResult:
    """What a run of one scenario showed and how it was judged."""

    scenario: Scenario
    verdicts: list[Verdict] = field(default_factory=list)
    alerts: list[SeenAlert] = field(default_factory=list)
    events: list[SeenEvent] = field(default_factory=list)
    wall_s: float = 0.0
    worst_stall_s: float = 0.0  # the event loop's longest stall while the world ran, real seconds
    error: str | None = None  # the run itself failed (a part did not start, or crashed)

    def timing_unreliable(self, speed: float) -> bool:
        """Whether the event loop stalled for longer than MAX_STALL_SIM_S simulated seconds at `speed`."""
        return self.worst_stall_s * speed > MAX_STALL_SIM_S

    @property
    def passed(self) -> bool:
        """Whether the run completed and every verdict passed."""
        return self.error is None and all(v.passed for v in self.verdicts)


async def run_scenario(scenario: Scenario, options: RunOptions = RunOptions()) -> ScenarioResult:
    """Play `scenario` in real time scaled by its speed; judge it. Errors of the run end up in the result.

    One scenario per process at a time (qmon.scenario.isolated runs several side by side): the hub migrates
    its database as it starts, and Alembic's migration context is process-global.
    """
    result = ScenarioResult(scenario)
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        if options.workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qmon-scenario-")))
        else:
            workdir = options.workdir / scenario.name
            workdir.mkdir(parents=True, exist_ok=True)
        try:
            await _play(scenario, options, workdir, result)
        except Exception as exc:
            log.exception("scenario %s: the run failed", scenario.name)
            result.error = f"{type(exc).__name__}: {exc}"
    result.wall_s = time.monotonic() - started
    speed = options.speed or scenario.speed
    if result.error is None and result.timing_unreliable(speed):
        result.error = (
            f"timing unreliable: the event loop stalled for {result.worst_stall_s:.2f} s "
            f"({result.worst_stall_s * speed:.0f} simulated s); run it slower (--speed)"
        )
    if result.error is None:
        result.verdicts = judge(scenario, result.alerts, result.events)
    return result


async def _play(scenario: Scenario, options: RunOptions, workdir: Path, result: ScenarioResult) -> None:
    sites = households_by_site(scenario.households)
    accounts = {user: secrets.token_urlsafe(18) for user in (HUB_USER, *sites)}
    broker = None
    if options.mqtt_url is None:
        broker = EmbeddedBroker(
            accounts=[BrokerAccount(HUB_USER, accounts[HUB_USER], MqttRole.HUB)]
            + [BrokerAccount(site, accounts[site], MqttRole.SITE) for site in sites]
        )
        await broker.start()
    try:
        clock = ScaledClock(options.speed or scenario.speed)
        url = options.mqtt_url if broker is None else broker.url
        assert url is not None

        def mqtt(user: str) -> dict[str, Any]:
            # The embedded broker knows an account per part; a given broker is used anonymously.
            if broker is None:
                return {"url": url}
            return {"url": url, "username": user, "password": accounts[user]}

        hub_settings: dict[str, Any] = {
            "mqtt": {**mqtt(HUB_USER), "client_id": f"qmon-scenario-hub-{secrets.token_hex(3)}"},
            "database_url": f"sqlite:///{workdir / 'hub.db'}",
            "http_port": 0,
            "jwt_secret": secrets.token_urlsafe(48),
            # Ingest's offline-site sweep counts real seconds: as often in simulated time as in production.
            "site_sweep_interval_s": HubSettings.model_fields["site_sweep_interval_s"].default / clock.speed,
        }
        set_dotted(hub_settings, scenario.hub)
        async with HubServer(HubSettings.model_validate(hub_settings), clock=clock) as server:
            await _with_hub(scenario, options, workdir, result, server, clock, mqtt)
    finally:
        if broker is not None:
            await broker.stop()


async def _with_hub(
    scenario: Scenario,
    options: RunOptions,
    workdir: Path,
    result: ScenarioResult,
    server: HubServer,
    clock: ScaledClock,
    mqtt: Callable[[str], dict[str, Any]],
) -> None:
    password = secrets.token_urlsafe(16)
    create_officer(
        server.hub.repository,
        Passwords(),
        server.hub.clock,
        username=ADMIN,
        password=password,
        role="admin",
        wards=[],
    )
    admin = await HubClient.sign_in(server.url, ADMIN, password)
    feed: asyncio.Task[None] | None = None
    try:
        await _place_orders(admin, scenario)
        connected = asyncio.Event()
        start_box: list[float] = []  # the world's start, once it exists (alerts cannot come before)
        feed = asyncio.create_task(_follow(admin, clock, start_box, result, connected))
        await asyncio.wait_for(connected.wait(), FEED_CONNECT_TIMEOUT_S)
        seed = scenario.seed if options.seed is None else options.seed
        world = World(scenario.households, scenario.radio, clock, seed)
        start_box.append(world.start)

        def on_decision(decision: Decision) -> None:
            result.events.append(
                SeenEvent(decision.time - world.start, decision.device_id, decision.type.value)
            )

        watchdog = asyncio.create_task(_watch_stalls(result))
        async with running_world(world, f"scenario-{scenario.name}-{secrets.token_hex(3)}") as radio:
            edges = {
                site: _EdgeProcess(
                    _edge_settings(scenario, world, site, radio, mqtt(site), workdir), clock, on_decision
                )
                for site in households_by_site(scenario.households)
            }
            for edge in edges.values():
                edge.start()
            outages = [
                asyncio.create_task(_outage(edges[o.site], o.t, o.for_s, world, clock))
                for o in scenario.outages
            ]
            try:
                await _sleep_until(clock, world.start + scenario.duration_s, edges)
            finally:
                for task in outages:
                    task.cancel()
                await asyncio.gather(*outages, return_exceptions=True)
                await asyncio.sleep(SETTLE_S)
                feed.cancel()  # before the edges say goodbye: their `offline` is not part of the scenario
                await asyncio.gather(feed, return_exceptions=True)
                watchdog.cancel()
                for edge in edges.values():
                    await edge.stop()
    finally:
        if feed is not None and not feed.done():
            feed.cancel()
            await asyncio.gather(feed, return_exceptions=True)
        await admin.close()


async def _watch_stalls(result: ScenarioResult) -> None:
    """Record the event loop's longest stall (how late a short sleep wakes up)."""
    while True:
        before = time.monotonic()
        await asyncio.sleep(STALL_PROBE_S)
        result.worst_stall_s = max(result.worst_stall_s, time.monotonic() - before - STALL_PROBE_S)


async def _sleep_until(clock: ScaledClock, deadline: float, edges: dict[str, _EdgeProcess]) -> None:
    """Wait for the scenario's end; an edge agent that crashes ends the run with its error."""
    while (left := deadline - clock.now()) > 0:
        await clock.sleep(min(left, 1.0 * clock.speed))
        for site, edge in edges.items():
            edge.raise_if_crashed(site)


async def _place_orders(admin: HubClient, scenario: Scenario) -> None:
    """Register every bracelet and put its wearer under a home-quarantine order in the household's ward."""
    now = datetime.now(UTC)
    for household in scenario.households:
        for n, bracelet in enumerate(household.bracelets, 1):
            await admin.register_device(bracelet.device_id)
            await admin.create_order(
                full_name=f"{household.id} wearer {n}",
                ward_id=scenario.ward_of(household.id),
                address=f"{household.id} (scenario {scenario.name})",
                site_id=household.site_id,
                device_id=bracelet.device_id,
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(days=14),
            )


async def _follow(
    client: HubClient,
    clock: ScaledClock,
    start: list[float],
    result: ScenarioResult,
    connected: asyncio.Event,
) -> None:
    async for change in client.follow(connected=connected):
        alert = change.alert
        t = clock.now() - (start[0] if start else clock.now())
        result.alerts.append(
            SeenAlert(t, int(alert["id"]), alert["type"], alert.get("device_id"), bool(alert["active"]))
        )


def _edge_settings(
    scenario: Scenario,
    world: World,
    site: str,
    radio: str,
    mqtt: dict[str, Any],
    workdir: Path,
) -> EdgeSettings:
    households = households_by_site(scenario.households)[site]
    keys = world.keys()
    settings: dict[str, Any] = {
        "site_id": site,
        "mqtt": {**mqtt, "client_id": f"qmon-edge-{site}-{secrets.token_hex(3)}"},
        "ble": {"backend": "virtual", "radio": radio, "receivers": sorted(h.hub.id for h in households)},
        "bracelets": [
            {"device_id": b.device_id, "key": keys[b.device_id].hex(), "home_id": h.id}
            for h in households
            for b in h.bracelets
        ],
        "outbox_path": str(workdir / f"edge-{site}-outbox.db"),
        "state_path": str(workdir / f"edge-{site}-state.json"),
    }
    set_dotted(settings, scenario.edge)
    return EdgeSettings.model_validate(settings)


class _EdgeProcess:
    """One site's edge agent, which an outage stops and starts again."""

    def __init__(
        self, settings: EdgeSettings, clock: ScaledClock, on_decision: Callable[[Decision], None]
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._on_decision = on_decision
        self._stop = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None

    def start(self) -> None:
        """Start the agent (again)."""
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(
            run_edge(self.settings, self._clock, stop=self._stop, on_decision=self._on_decision)
        )

    async def stop(self) -> None:
        """Stop the agent cleanly and wait for it; re-raise what it died of."""
        if self._task is None:
            return
        self._stop.set()
        task, self._task = self._task, None
        await task

    def raise_if_crashed(self, site: str) -> None:
        """Raise the agent's error if it ended on its own."""
        if self._task is not None and self._task.done():
            error = self._task.exception()
            raise RuntimeError(f"the edge agent of site {site} stopped: {error!r}")


async def _outage(edge: _EdgeProcess, t: float, for_s: float, world: World, clock: ScaledClock) -> None:
    await clock.sleep(world.start + t - clock.now())
    log.info("outage: site %s goes down", edge.settings.site_id)
    await edge.stop()
    await clock.sleep(world.start + t + for_s - clock.now())
    log.info("outage: site %s comes back", edge.settings.site_id)
    edge.start()
