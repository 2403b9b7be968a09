"""`qmon demo`: the whole system on embedded defaults, in one process, printing what happens as it happens.

An embedded MQTT broker (amqtt, loopback, free port, per-account ACL), the hub (FastAPI on SQLite), a
simulated neighbourhood of home-quarantine households on a virtual radio, one edge agent reading them
through bleak's API, an isolation facility whose edge box watches two rooms through simulated cameras
(firmware_sim/camera, analysed by the real camera pipeline), and the ward officers following their own
ward's alerts live over SSE. The facility's parts are in qmon/demo_facility.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cloud.app import HubServer
from cloud.auth import Passwords, create_officer
from cloud.certificates.keys import self_signed_certificate
from cloud.settings import HubSettings
from edge.agent import AgentStats, run_edge
from edge.decision import Decision, RoomDecision
from edge.settings import EdgeSettings
from firmware_sim.camera import load_scenes
from firmware_sim.households import Household, demo_households_path, load_households
from firmware_sim.radio import RadioModel
from firmware_sim.runner import running_world
from firmware_sim.world import Happening, HappeningKind, World
from gateway.acl import MqttRole
from qmon.clock import ScaledClock
from qmon.demo_facility import (
    FACILITY_SITE_ID,
    MAX_ANALYSIS_FPS,
    MAX_FRAME_GAP_S,
    SHOWN_EVIDENCE,
    FacilityOptions,
    analysis_fps,
    facility_settings,
    place_room_orders,
    scene_opener,
)
from qmon.embedded_broker import BrokerAccount, EmbeddedBroker
from qmon.hub_client import AlertChange, HubClient
from qmon.settings import set_dotted

SITE_ID = "demo-site"
HUB_MQTT_USER = "hub"

# The demo's people (fictional) and wards: three households in one ward, one in another, so that each
# officer sees only their own ward's alerts.
PEOPLE = {
    "hh-stay": ("Nguyễn Văn An", "phuc-xa", "12 Phó Đức Chính, Phúc Xá"),
    "hh-walker": ("Trần Thị Bình", "phuc-xa", "4 ngõ 25 Nghĩa Dũng, Phúc Xá"),
    "hh-strap": ("Lê Văn Cường", "phuc-xa", "31 Tân Ấp, Phúc Xá"),
    "hh-battery": ("Phạm Thị Dung", "truc-bach", "7 Ngũ Xã, Trúc Bạch"),
}
DEFAULT_WARD = ("Resident", "phuc-xa", "Phúc Xá")
# GATT maintenance sessions (time sync, configuration) come and go every few minutes; not worth a line.
QUIET_HAPPENINGS = frozenset({HappeningKind.LINK_UP, HappeningKind.LINK_CLOSED})

FEED_CONNECT_TIMEOUT_S = 10.0


@dataclass
class DemoOptions:
    """What the user (or a test) may choose."""

    speed: float = 2.0
    duration_s: float | None = None
    http_port: int = 0
    data_dir: Path | None = None
    households: Path | None = None
    seed: int = 7
    # A running broker (e.g. Mosquitto) instead of the embedded one, with the accounts it knows.
    mqtt_url: str | None = None
    mqtt_accounts: dict[str, str] = field(default_factory=dict)
    # Household id -> (person's name, ward, address); households not listed go to DEFAULT_WARD.
    people: dict[str, tuple[str, str, str]] = field(default_factory=lambda: dict(PEOPLE))
    # Dotted edge-settings overrides (e.g. {"vitals.fever_sustain_s": 60}).
    edge_overrides: dict[str, object] = field(default_factory=dict)
    facility: FacilityOptions = field(default_factory=FacilityOptions)


@dataclass
class DemoReport:
    """What the demo saw: by officer, the alert changes their feed delivered and, at the end, the rooms the
    API listed for them; the edges' decisions; the bracelets' happenings. While it runs, also the hub's
    address and the accounts' passwords (as printed), so that a caller can act as an officer meanwhile."""

    hub_url: str | None = None
    passwords: dict[str, str] = field(default_factory=dict)
    feeds: dict[str, list[AlertChange]] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    room_decisions: list[RoomDecision] = field(default_factory=list)
    happenings: list[Happening] = field(default_factory=list)
    rooms: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _edge_settings(
    world: World, radio: str, mqtt_url: str, password: str, workdir: Path, overrides: dict[str, object]
) -> EdgeSettings:
    """The demo's edge agent: every household's bracelet, a short calibration so it shows in minutes."""
    settings: dict[str, Any] = {
        "site_id": SITE_ID,
        "mqtt": {
            "url": mqtt_url,
            "username": SITE_ID,
            "password": password,
            "client_id": f"qmon-edge-{SITE_ID}",
        },
        "ble": {"backend": "virtual", "radio": radio, "receivers": sorted(world.receivers)},
        "bracelets": [
            {"device_id": device_id, "key": key.hex(), "home_id": _household_of(world, device_id).id}
            for device_id, key in sorted(world.keys().items())
        ],
        "presence": {"calibration": {"duration_s": 60, "min_samples": 40, "sample_interval_s": 1}},
        "telemetry_interval_s": 10,
        "gatt": {"interval_s": 120},
        "outbox_path": str(workdir / "edge-outbox.db"),
        "state_path": str(workdir / "edge-state.json"),
    }
    set_dotted(settings, overrides)
    return EdgeSettings.model_validate(settings)


def _household_of(world: World, device_id: str) -> Household:
    return next(h for h in world.households if any(b.device_id == device_id for b in h.bracelets))


class Printer:
    """One line per happening, prefixed with the simulated time since the demo started."""

    def __init__(self, clock: ScaledClock, write: Callable[[str], None]) -> None:
        self._clock = clock
        self._start = clock.now()
        self._write = write

    def __call__(self, source: str, text: str) -> None:
        """Print `text` from `source` (bracelet, edge, officer...)."""
        self._write(f"[{self._clock.now() - self._start:7.1f}s] {source:<9} {text}")


async def _follow(
    client: HubClient,
    officer: str,
    ward: str,
    names: dict[int, str],
    report: DemoReport,
    out: Printer,
    connected: asyncio.Event,
) -> None:
    feed = report.feeds.setdefault(officer, [])
    async for change in client.follow(connected=connected):
        feed.append(change)
        alert = change.alert
        who = names.get(alert["order_id"], f"order {alert['order_id']}")
        where = f"bracelet {alert['device_id']}" if alert["device_id"] else f"room {alert['room_id']}"
        state = "still active" if alert["active"] else "condition cleared"
        out(
            "officer",
            f"{ward}: {change.kind.upper()} {alert['severity']} {alert['type']} #{alert['id']} "
            f"({who}, {where}): {alert['summary']} [{alert['status']}, {state}]",
        )


async def run_demo(
    options: DemoOptions,
    write: Callable[[str], None] = click.echo,
    stop: asyncio.Event | None = None,
    report: DemoReport | None = None,
) -> DemoReport:
    """Run the demo until `stop` is set or the duration (real seconds) passes; return what was seen.

    `report`, when given, is filled as things happen (a caller may watch it and set `stop`).
    """
    stop = stop or asyncio.Event()
    report = report if report is not None else DemoReport()
    with contextlib.ExitStack() as stack:
        if options.data_dir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qmon-demo-")))
        else:
            workdir = options.data_dir
            workdir.mkdir(parents=True, exist_ok=True)
        await _run(options, workdir, write, stop, report)
    return report


def platform_keys(workdir: Path) -> dict[str, Any]:
    """Hub settings that switch the public-health platforms on for this run: a fresh identity-hash key, a
    venue/health QR key and an EU DCC document signer (self-signed), written to `workdir` (demo only: in
    production these come from the operator and the country's signing CA, never from the program)."""
    now = datetime.now(UTC)
    qr_key = ec.generate_private_key(ec.SECP256R1())
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer = self_signed_certificate(
        signer_key,
        country="VN",
        common_name="qmon demo document signer",
        valid_from=now - timedelta(days=1),
        valid_until=now + timedelta(days=365),
    )
    files = {
        "venue-qr.pem": _pem(qr_key),
        "dsc-key.pem": _pem(signer_key),
        "dsc.pem": signer.public_bytes(serialization.Encoding.PEM),
    }
    for name, data in files.items():
        path = workdir / name
        path.write_bytes(data)
        path.chmod(0o600)
    return {
        "identity_hash_key": secrets.token_urlsafe(32),
        "venue_qr_key_file": str(workdir / "venue-qr.pem"),
        "certificates": {
            "signing_key_file": str(workdir / "dsc-key.pem"),
            "signer_certificate_file": str(workdir / "dsc.pem"),
        },
    }


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def demo_accounts() -> dict[str, str]:
    """Fresh MQTT passwords for the hub's and the demo sites' (households, facility) accounts."""
    return {user: secrets.token_urlsafe(24) for user in (HUB_MQTT_USER, SITE_ID, FACILITY_SITE_ID)}


async def _run(
    options: DemoOptions, workdir: Path, write: Callable[[str], None], stop: asyncio.Event, report: DemoReport
) -> None:
    accounts = options.mqtt_accounts or demo_accounts()
    hub_password = accounts[HUB_MQTT_USER]
    broker = None
    if options.mqtt_url is None:
        broker = EmbeddedBroker(
            accounts=[
                BrokerAccount(HUB_MQTT_USER, hub_password, MqttRole.HUB),
                BrokerAccount(SITE_ID, accounts[SITE_ID], MqttRole.SITE),
                BrokerAccount(FACILITY_SITE_ID, accounts[FACILITY_SITE_ID], MqttRole.SITE),
            ]
        )
        await broker.start()
    mqtt_url = options.mqtt_url or broker.url  # type: ignore[union-attr]
    try:
        hub_settings = HubSettings.model_validate(
            {
                "mqtt": {
                    "url": mqtt_url,
                    "username": HUB_MQTT_USER,
                    "password": hub_password,
                    "client_id": "qmon-hub-demo",
                },
                "database_url": f"sqlite:///{workdir / 'hub.db'}",
                "http_port": options.http_port,
                "jwt_secret": secrets.token_urlsafe(48),
                **platform_keys(workdir),
            }
        )
        async with HubServer(hub_settings) as server:
            await _with_hub(options, workdir, write, stop, report, mqtt_url, accounts, server)
    finally:
        if broker is not None:
            await broker.stop()


async def _with_hub(
    options: DemoOptions,
    workdir: Path,
    write: Callable[[str], None],
    stop: asyncio.Event,
    report: DemoReport,
    mqtt_url: str,
    mqtt_accounts: dict[str, str],
    server: HubServer,
) -> None:
    facility = options.facility
    accounts = _create_accounts(server, options.people, facility.ward)
    clock = ScaledClock(options.speed)
    world = World(
        load_households(options.households or demo_households_path()), RadioModel(), clock, options.seed
    )
    scenes = facility.scenes if facility.scenes is not None else load_scenes()
    out = Printer(clock, write)
    _announce(write, options, mqtt_url, server.url, len(world.households), len(scenes), accounts)
    write(
        "  public-health platforms on (citizens, venues, labs, tracing, vaccination, certificates, "
        "health QR); "
        f"this run's keys are in {workdir}"
    )
    report.hub_url, report.passwords = server.url, {name: pw for name, (pw, _) in accounts.items()}
    admin = await HubClient.sign_in(server.url, "admin", accounts["admin"][0])
    try:
        names = await _place_orders(admin, world, options.people)
        names |= await place_room_orders(admin, scenes, facility)
    finally:
        await admin.close()
    officers = {
        name: await HubClient.sign_in(server.url, name, pw) for name, (pw, ward) in accounts.items() if ward
    }
    connected = {name: asyncio.Event() for name in officers}
    feeds = [
        asyncio.create_task(
            _follow(client, name, accounts[name][1] or "", names, report, out, connected[name])
        )
        for name, client in officers.items()
    ]

    def on_happening(happening: Happening) -> None:
        report.happenings.append(happening)
        if happening.kind not in QUIET_HAPPENINGS:
            detail = f" ({happening.detail})" if happening.detail else ""
            out(
                "bracelet", f"{happening.device_id} [{happening.household_id}] {happening.kind.value}{detail}"
            )

    unsubscribe = world.subscribe_happenings(on_happening)

    def on_decision(decision: Decision) -> None:
        report.decisions.append(decision)
        out("edge", f"{decision.device_id} {decision.type.value}")

    def on_room_decision(decision: RoomDecision) -> None:
        report.room_decisions.append(decision)
        shown = ", ".join(f"{k} {decision.data[k]}" for k in SHOWN_EVIDENCE if k in decision.data)
        detail = f" ({shown})" if shown else ""
        out("edge", f"{FACILITY_SITE_ID} {decision.room_id} {decision.type.value}{detail}")

    loop = asyncio.get_running_loop()

    def on_scene(text: str) -> None:
        # Called from the rooms' worker threads (they read the cameras): printed from the event loop.
        loop.call_soon_threadsafe(out, "camera", text)

    opener = scene_opener(scenes, on_scene)
    facility_edge = facility_settings(
        scenes, mqtt_url, mqtt_accounts[FACILITY_SITE_ID], workdir, options.speed, facility
    )
    try:
        # The officers watch before anything happens: an alert raised before a feed subscribed is not in it.
        watching = asyncio.gather(*(event.wait() for event in connected.values()))
        await asyncio.wait_for(watching, FEED_CONNECT_TIMEOUT_S)
        async with running_world(world, "demo") as radio:
            settings = _edge_settings(
                world, radio, mqtt_url, mqtt_accounts[SITE_ID], workdir, options.edge_overrides
            )
            edge_stop = asyncio.Event()
            edges = [
                asyncio.create_task(run_edge(settings, clock, stop=edge_stop, on_decision=on_decision)),
                asyncio.create_task(
                    run_edge(
                        facility_edge,
                        clock,
                        stop=edge_stop,
                        on_room_decision=on_room_decision,
                        source_opener=opener,
                    )
                ),
            ]
            waiter = asyncio.create_task(stop.wait())
            await asyncio.wait(
                {*edges, waiter}, timeout=options.duration_s, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            await _stop_feeds(feeds)  # before the edges say goodbye: their `offline` would alert every order
            edge_stop.set()
            results = await asyncio.gather(*edges, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            homes, rooms = cast(list[AgentStats], results)
            write(
                f"qmon demo: stopping (edge: {homes.adverts_accepted} adverts accepted, "
                f"{sum(homes.decisions.values())} decisions, rejected {dict(homes.rejected) or 'none'}; "
                f"facility: {rooms.frames_analysed} frames analysed, "
                f"{sum(rooms.room_decisions.values())} room decisions)"
            )
        for name, client in officers.items():
            report.rooms[name] = await client.rooms()
    finally:
        unsubscribe()
        await _stop_feeds(feeds)
        for client in officers.values():
            await client.close()
    _summarise(write, report)


def _announce(
    write: Callable[[str], None],
    options: DemoOptions,
    mqtt_url: str,
    hub_url: str,
    households: int,
    rooms: int,
    accounts: dict[str, tuple[str, str | None]],
) -> None:
    """The demo's first lines: what runs where, how fast, and how to sign in."""
    broker_kind = "MQTT broker" if options.mqtt_url else "embedded MQTT broker"
    write(
        f"qmon demo: {broker_kind} {mqtt_url}, hub API {hub_url}, {households} households and an isolation "
        f"facility with {rooms} camera rooms, simulated time x{options.speed:g} (Ctrl-C to stop)"
    )
    fps = analysis_fps(options.speed)
    write(
        f"  facility {FACILITY_SITE_ID} (ward {options.facility.ward}): simulated cameras play their scenes "
        f"at the simulated clock's speed; {fps:g} frames analysed per real second per room "
        f"(one every {options.speed / fps:.2g} simulated s)"
    )
    if options.speed / fps > MAX_FRAME_GAP_S:
        write(
            f"  note: above x{MAX_ANALYSIS_FPS * MAX_FRAME_GAP_S:g} the rooms are analysed too seldom for "
            "their occupancy checks (a face must be seen at least every 2 simulated s): camera faults still "
            "show, but person_absent/present and occupancy decisions come late or not at all"
        )
    write(f"  ward officer's console: open {hub_url}/console/ in a browser and sign in with an account below")
    for username, (password, ward) in accounts.items():
        write(f"  sign in as {username!r} (ward {ward or 'all'}) with password {password!r}")


def _summarise(write: Callable[[str], None], report: DemoReport) -> None:
    """The demo's last lines: what each officer received, and their rooms as the API lists them."""
    for officer, changes in report.feeds.items():
        opened = sorted({c.alert["type"] for c in changes})
        write(f"  {officer}: {len(changes)} alert changes, alert types {', '.join(opened) or 'none'}")
        for room in report.rooms.get(officer, []):
            write(
                f"    room {room['room_id']}: {room['faces']} faces ({room['allowed']} allowed), "
                f"camera {room['camera']}, orders {room['order_ids']}"
            )


async def _stop_feeds(feeds: list[asyncio.Task[None]]) -> None:
    await asyncio.sleep(0.3)  # let alert changes already committed reach the officers' screens
    for task in feeds:
        task.cancel()
    await asyncio.gather(*feeds, return_exceptions=True)


def _create_accounts(
    server: HubServer, people: dict[str, tuple[str, str, str]], facility_ward: str
) -> dict[str, tuple[str, str | None]]:
    """An administrator and one officer per ward, with random passwords (printed for the user)."""
    hub = server.hub
    accounts: dict[str, tuple[str, str | None]] = {"admin": (secrets.token_urlsafe(12), None)}
    for officer_ward in sorted({w for _, w, _ in people.values()} | {DEFAULT_WARD[1], facility_ward}):
        accounts[f"officer-{officer_ward}"] = (secrets.token_urlsafe(12), officer_ward)
    for username, (password, ward) in accounts.items():
        create_officer(
            hub.repository,
            Passwords(),
            hub.clock,
            username=username,
            password=password,
            role="admin" if ward is None else "ward_officer",
            wards=[ward] if ward else [],
        )
    return accounts


async def _place_orders(
    admin: HubClient, world: World, people: dict[str, tuple[str, str, str]]
) -> dict[int, str]:
    """Register every bracelet and put its wearer under a 14-day home-quarantine order; names by order."""
    now = datetime.now(UTC)
    names = {}
    for household in world.households:
        name, ward, address = people.get(household.id, DEFAULT_WARD)
        for bracelet in household.bracelets:
            await admin.register_device(bracelet.device_id)
            order = await admin.create_order(
                full_name=name,
                ward_id=ward,
                address=address,
                site_id=household.site_id,
                device_id=bracelet.device_id,
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(days=14),
            )
            names[order["id"]] = name
    return names


@click.command(name="demo")
@click.option(
    "--speed",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0.1, 50),
    help="Simulated seconds per real second.",
)
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(min=1),
    default=None,
    help="Stop after this many real seconds (default: run until Ctrl-C).",
)
@click.option(
    "--http-port", default=0, show_default=True, help="Port of the hub's API on 127.0.0.1 (0: a free one)."
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the hub database, edge outbox and state here (default: a temporary directory).",
)
@click.option(
    "--households",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Households file (YAML/JSON) instead of the built-in four.",
)
@click.option(
    "--scenes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Facility rooms' scene file (YAML/JSON, see firmware_sim/camera) instead of the built-in two.",
)
@click.option("--seed", default=7, show_default=True, help="Seed of the simulated radio noise.")
@click.option(
    "--mqtt-url",
    default=None,
    help="Use this running broker (anonymous, e.g. a local Mosquitto) instead of the embedded one.",
)
def demo_command(
    speed: float,
    duration_s: float | None,
    http_port: int,
    data_dir: Path | None,
    households: Path | None,
    scenes: Path | None,
    seed: int,
    mqtt_url: str | None,
) -> None:
    """Run the whole system on embedded defaults and watch alerts reach the ward officers."""
    facility = FacilityOptions(scenes=load_scenes(scenes) if scenes is not None else None)
    options = DemoOptions(
        speed, duration_s, http_port, data_dir, households, seed, mqtt_url, facility=facility
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await run_demo(options, stop=stop)

    asyncio.run(main())
    sys.stdout.flush()
