"""`qmon bench ingest`: the hub's sustained event ingest rate beside a raw paho subscriber, same broker.

Both consumers drain the same pre-encoded QoS 1 event stream that a publisher in another process queued at
the broker for their persistent sessions while they were away (so the rate is the consumer's, not the
publisher's); each rate is messages over the time from the first message received to the last one handled
(for the hub: validated, de-duplicated, stored, run through the rules and alerts, committed and
acknowledged). The broker must queue that many messages per session: the private Mosquitto is configured
for it; a broker given with --mqtt-url needs `max_queued_messages` at least --messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Literal

import paho.mqtt.client as mqtt

from cloud.app import HubServer
from cloud.settings import HubSettings
from cloud.storage.migrate import upgrade
from cloud.storage.repository import Repository
from gateway.mqtt_client import build_client, connect_properties
from gateway.protocol import Channel, subscription_for
from gateway.settings import MqttSettings
from qmon.bench.publisher import write_messages
from qmon.bench.workload import Assignment, make_assignments, make_event_stream, order_window, utc_now
from qmon.mosquitto import start_mosquitto

RECEIVE_MAXIMUM = 65_535


SESSION_EXPIRY_S = 3_600


Protocol = Literal["3.1.1", "5"]


def persistent_client(url: str, client_id: str, protocol: Protocol) -> tuple[mqtt.Client, MqttSettings]:
    """A paho client whose session outlives its connection (MQTT 5 expiry, or 3.1.1 clean_session=False)."""
    settings = MqttSettings(url=url, protocol=protocol, client_id=client_id)
    return build_client(settings, client_id, clean_session=False), settings


def connect_persistent(client: mqtt.Client, settings: MqttSettings, expiry_s: int) -> None:
    """Connect, resuming the session if the broker has one."""
    props = connect_properties(settings, expiry_s)
    if props is None:
        client.connect(settings.host, settings.port, 30)
    else:
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        client.connect(settings.host, settings.port, 30, clean_start=False, properties=props)


def prepare_session(url: str, client_id: str, protocol: Protocol) -> None:
    """Create a persistent session subscribed to every site's events, then leave (the broker queues)."""
    subscribed = threading.Event()
    client, settings = persistent_client(url, client_id, protocol)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_connect = lambda c, *_: c.subscribe(subscription_for(Channel.EVENTS), 1)
    connect_persistent(client, settings, SESSION_EXPIRY_S)
    client.loop_start()
    try:
        if not subscribed.wait(10):
            raise RuntimeError("no SUBACK while preparing the session")
    finally:
        client.disconnect()
        client.loop_stop()


class RawCounter:
    """A plain paho subscriber that only counts: the baseline."""

    def __init__(self, url: str, client_id: str, protocol: Protocol) -> None:
        self.client, self.settings = persistent_client(url, client_id, protocol)
        self.count = 0
        self.first: float | None = None
        self.last: float | None = None
        self.client.on_message = self._on_message

    def _on_message(self, _c: mqtt.Client, _u: Any, _msg: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.last = now
        self.count += 1

    def start(self) -> None:
        """Resume the prepared session; the queued messages start flowing at once."""
        connect_persistent(self.client, self.settings, 0)
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


async def run_publisher(url: str, path: Path) -> dict[str, Any]:
    """Publish the file's messages from a separate process; its JSON result."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "qmon.bench.publisher", url, str(path), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"publisher failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def measure_raw(url: str, path: Path, count: int, timeout: float, protocol: Protocol) -> float:
    """Messages per second through a raw paho subscriber."""
    client_id = f"qmon-bench-raw-{secrets.token_hex(3)}"
    await asyncio.to_thread(prepare_session, url, client_id, protocol)
    await run_publisher(url, path)
    counter = RawCounter(url, client_id, protocol)
    await asyncio.to_thread(counter.start)
    try:
        deadline = time.monotonic() + timeout
        while counter.count < count and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    finally:
        await asyncio.to_thread(counter.stop)
    if counter.count < count or counter.first is None or counter.last is None:
        raise RuntimeError(f"raw subscriber received {counter.count} of {count} messages")
    return count / (counter.last - counter.first)


def seed_orders(database_url: str, assignments: list[Assignment]) -> None:
    """Register every bracelet and give it an active order, directly through the repository."""
    upgrade(database_url)
    repo = Repository.from_url(database_url)
    try:
        now = utc_now()
        starts, ends = order_window(now)
        for a in assignments:
            repo.devices.register(a.device_id, "bracelet", now)
            repo.orders.create(
                full_name=f"Bench person {a.device_id}",
                phone=None,
                ward_id=a.ward_id,
                address="bench",
                site_id=a.site_id,
                device_id=a.device_id,
                starts_at=starts,
                ends_at=ends,
                created_by="bench",
                now=now,
            )
    finally:
        repo.close()


async def measure_hub(
    url: str, database_url: str, path: Path, count: int, timeout: float, protocol: Protocol
) -> dict[str, Any]:
    """Events per second through the hub's ingest, with its counters at the end."""
    client_id = f"qmon-bench-hub-{secrets.token_hex(3)}"
    await asyncio.to_thread(prepare_session, url, client_id, protocol)
    await run_publisher(url, path)
    settings = HubSettings.model_validate(
        {
            "mqtt": {"url": url, "protocol": protocol, "client_id": client_id},
            "database_url": database_url,
            "http_port": 0,
            "jwt_secret": secrets.token_urlsafe(48),
            "mqtt_receive_maximum": RECEIVE_MAXIMUM,
        }
    )
    async with HubServer(settings) as server:
        ingest = server.hub.ingest
        assert ingest is not None
        first: float | None = None
        deadline = time.monotonic() + timeout
        done = 0
        while time.monotonic() < deadline:
            snap = ingest.snapshot()
            if first is None and snap["received"]:
                first = time.perf_counter()
            done = snap["stored"] + snap["duplicates"] + sum(snap["rejected"].values())
            if done >= count:
                break
            await asyncio.sleep(0.005)
        last = time.perf_counter()
        snap = ingest.snapshot()
    if done < count or first is None:
        raise RuntimeError(f"hub handled {done} of {count} events before the timeout")
    return {"rate": count / (last - first), "counters": snap}


async def measure_once(
    mqtt_url: str,
    database_url: str,
    messages: int,
    devices: int,
    sites: int,
    timeout: float,
    protocol: Protocol,
    workdir: Path,
) -> dict[str, Any]:
    """One run: a fresh stream for new bracelets, drained by the raw subscriber, then by the hub."""
    assignments = make_assignments(devices, sites, wards=10)
    path = workdir / "events.tsv"
    write_messages(path, make_event_stream(assignments, messages, utc_now()))
    raw = await measure_raw(mqtt_url, path, messages, timeout, protocol)
    await asyncio.to_thread(seed_orders, database_url, assignments)
    hub = await measure_hub(mqtt_url, database_url, path, messages, timeout, protocol)
    return {"raw": raw, "hub": hub["rate"], "counters": hub["counters"]}


async def bench_ingest(
    mqtt_url: str | None,
    database_url: str | None,
    messages: int,
    devices: int,
    sites: int,
    timeout: float,
    protocol: Protocol,
    repeat: int = 1,
) -> dict[str, Any]:
    """Run both phases `repeat` times on the same broker and return the JSON-ready result (medians).

    Each run pairs the raw subscriber and the hub back to back on the same stream, so its ratio is not
    skewed by the machine getting busier or quieter between runs; `ratio` is the median of the runs' ratios.
    """
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="qmon-bench-ingest-") as tmp:
        workdir = Path(tmp)
        broker = None
        if mqtt_url is None:
            broker = start_mosquitto(workdir)
            mqtt_url = broker.url
        try:
            for index in range(repeat):
                # SQLite: a fresh database per run, so that every run starts from the same state.
                db_url = database_url or f"sqlite:///{workdir / f'hub-{index}.db'}"
                runs.append(
                    await measure_once(mqtt_url, db_url, messages, devices, sites, timeout, protocol, workdir)
                )
        finally:
            if broker is not None:
                broker.stop()
    counters = [r["counters"] for r in runs]
    return {
        "broker": "mosquitto (private)" if broker is not None else mqtt_url,
        "database": "postgresql" if database_url and database_url.startswith("postgresql") else "sqlite",
        "mqtt_protocol": protocol,
        "messages": messages,
        "devices": devices,
        "repeat": repeat,
        "raw_msgs_per_s": round(statistics.median(r["raw"] for r in runs)),
        "hub_events_per_s": round(statistics.median(r["hub"] for r in runs)),
        "ratio": round(statistics.median(r["hub"] / r["raw"] for r in runs), 3),
        "alerts_opened": round(statistics.median(c["alerts_opened"] for c in counters)),
        "alerts_updated": round(statistics.median(c["alerts_updated"] for c in counters)),
        "duplicates": sum(c["duplicates"] for c in counters),
        "rejected": sum(sum(c["rejected"].values()) for c in counters),
        "runs": [
            {
                "raw_msgs_per_s": round(r["raw"]),
                "hub_events_per_s": round(r["hub"]),
                "ratio": round(r["hub"] / r["raw"], 3),
                "alerts_updated": r["counters"]["alerts_updated"],
            }
            for r in runs
        ],
    }


def run(
    mqtt_url: str | None,
    database_url: str | None,
    messages: int,
    devices: int,
    sites: int,
    timeout: float,
    protocol: Protocol,
    repeat: int = 1,
) -> dict[str, Any]:
    """Synchronous entry point for the CLI."""
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(
            bench_ingest(mqtt_url, database_url, messages, devices, sites, timeout, protocol, repeat)
        )
    raise SystemExit(130)
