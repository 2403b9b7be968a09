"""`qmon bench e2e`: simulated bracelets -> edge agent -> broker -> hub -> officer feed, with ground truth.

Each part runs as it would in the field: the simulator (`qmon sim`, a generated population with violations
scripted at known times, served over its TCP radio) and the edge agent (`qmon edge`, virtual BLE backend)
in their own processes, the broker in its own (embedded amqtt, or the Mosquitto given by --mqtt-url), and
the hub in this process with an administrator following the live alert feed over SSE.

Alert latency is measured from the moment the edge decided the violation (the event's `time`, stamped by
the edge with the same system clock) to the alert's arrival on the officer's feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import yaml

from cloud.app import HubServer
from cloud.auth import Passwords, create_officer
from cloud.settings import HubSettings
from firmware_sim.population import Population, ViolationMix, generate_population
from gateway.protocol import EventType
from qmon.bench.ingest import seed_orders
from qmon.bench.workload import Assignment
from qmon.embedded_broker import free_port
from qmon.hub_client import HubClient
from qmon.mosquitto import wait_for_port

# Which alert each scripted violation must raise at the hub.
EXPECTED_ALERT = {
    EventType.LEFT_HOME: "left_home",
    EventType.STRAP_OPENED: "tamper",
    EventType.BRACELET_REMOVED: "tamper",
    EventType.BATTERY_LOW: "battery_low",
    EventType.SIGNAL_LOST: "battery_depleted",  # the population's only scripted loss is a dead battery
    EventType.FEVER: "fever",
}
WARDS = 10


@dataclass
class Feed:
    """What the officer's live feed delivered: alert id -> (arrival time, alert), in arrival order."""

    opened: dict[int, tuple[float, dict[str, Any]]] = field(default_factory=dict)


# The slowest detection with the edge's production settings: a fever must last 5 minutes (plus the rise of
# the temperature); a battery dies 2 minutes after running low and is reported 30 s later.
DETECTION_MARGIN_S = 360.0


def _violations(duration_s: float) -> ViolationMix:
    # Violations start after a minute of normal life and leave time for the slowest detection.
    if duration_s < DETECTION_MARGIN_S + 120.0:
        raise ValueError(f"the run must last at least {DETECTION_MARGIN_S + 120.0:.0f} s")
    return ViolationMix(earliest_s=60.0, margin_s=DETECTION_MARGIN_S)


def _population(count: int, seed: int, duration_s: float) -> Population:
    return generate_population(count, seed, duration_s, _violations(duration_s))


def _sim_settings(count: int, seed: int, duration_s: float, port: int) -> dict[str, Any]:
    return {
        "seed": seed,
        "population": {
            "count": count,
            "seed": seed,
            "duration_s": duration_s,
            "sites": 1,
            "violations": _violations(duration_s).model_dump(),
        },
        "listen": {"host": "127.0.0.1", "port": port},
    }


def _edge_settings(
    population: Population, keys: dict[str, str], radio_port: int, mqtt_url: str, workdir: Path
) -> dict[str, Any]:
    (site_id,) = population.receivers_by_site()
    return {
        "site_id": site_id,
        "mqtt": {"url": mqtt_url, "client_id": f"qmon-edge-{site_id}"},
        "ble": {"backend": "virtual", "radio": f"tcp://127.0.0.1:{radio_port}"},
        "bracelets": [
            {"device_id": b.device_id, "key": keys[b.device_id], "home_id": h.id}
            for h in population.households
            for b in h.bracelets
        ],
        # Everything else is the edge's production default: within a 10-minute run the homes are still
        # on their default thresholds (calibration takes 6 hours), as on the first day of an order.
        "outbox_path": str(workdir / "edge-outbox.db"),
        "state_path": str(workdir / "edge-state.json"),
    }


async def _spawn(args: list[str], log: Path) -> asyncio.subprocess.Process:
    with open(log, "wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "qmon.cli", *args, stdout=out, stderr=asyncio.subprocess.STDOUT
        )


async def _stop(proc: asyncio.subprocess.Process | None, timeout: float = 20.0) -> None:
    if proc is None or proc.returncode is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def _wait_file(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() or path.stat().st_size == 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        await asyncio.sleep(0.1)


async def _follow(client: HubClient, feed: Feed) -> None:
    async for change in client.follow():
        if change.kind == "opened":
            feed.opened.setdefault(change.alert["id"], (time.time(), change.alert))


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def bench_e2e(bracelets: int, duration_s: float, mqtt_url: str | None, seed: int) -> dict[str, Any]:
    """Run the whole chain for `duration_s` seconds of the population's script; return the figures."""
    with tempfile.TemporaryDirectory(prefix="qmon-bench-e2e-") as tmp:
        return await _bench(Path(tmp), bracelets, duration_s, mqtt_url, seed)


async def _bench(
    workdir: Path, count: int, duration_s: float, mqtt_url: str | None, seed: int
) -> dict[str, Any]:
    population = _population(count, seed, duration_s)
    radio_port = free_port()
    broker = sim = edge = None
    try:
        if mqtt_url is None:
            broker_port = free_port()
            broker = await _spawn(["broker", "run", "--port", str(broker_port)], workdir / "broker.log")
            await asyncio.to_thread(wait_for_port, "127.0.0.1", broker_port, 30)
            mqtt_url = f"mqtt://127.0.0.1:{broker_port}"
        (workdir / "sim.yaml").write_text(yaml.safe_dump(_sim_settings(count, seed, duration_s, radio_port)))
        keys_path = workdir / "keys.json"
        sim = await _spawn(
            ["sim", "--config", str(workdir / "sim.yaml"), "--keys-out", str(keys_path)], workdir / "sim.log"
        )
        sim_started = time.monotonic()
        await asyncio.to_thread(wait_for_port, "127.0.0.1", radio_port, 60)
        await _wait_file(keys_path)
        keys: dict[str, str] = json.loads(keys_path.read_text())

        db_url = f"sqlite:///{workdir / 'hub.db'}"
        (site_id,) = population.receivers_by_site()
        assignments = [
            Assignment(site_id, b.device_id, f"ward-{i % WARDS:02d}")
            for i, h in enumerate(population.households)
            for b in h.bracelets
        ]
        await asyncio.to_thread(seed_orders, db_url, assignments)
        settings = HubSettings.model_validate(
            {
                "mqtt": {"url": mqtt_url, "client_id": f"qmon-bench-hub-{secrets.token_hex(3)}"},
                "database_url": db_url,
                "http_port": 0,
                "jwt_secret": secrets.token_urlsafe(48),
            }
        )
        async with HubServer(settings) as server:
            password = secrets.token_urlsafe(16)
            create_officer(
                server.hub.repository,
                Passwords(),
                server.hub.clock,
                username="bench-admin",
                password=password,
                role="admin",
                wards=[],
            )
            officer = await HubClient.sign_in(server.url, "bench-admin", password)
            feed = Feed()
            follower = asyncio.create_task(_follow(officer, feed))
            edge_config = workdir / "edge.yaml"
            edge_config.write_text(
                yaml.safe_dump(_edge_settings(population, keys, radio_port, mqtt_url, workdir))
            )
            edge = await _spawn(
                ["edge", "--config", str(edge_config), "--stats-out", str(workdir / "edge.json")],
                workdir / "edge.log",
            )
            edge_started = time.monotonic()
            process = psutil.Process(edge.pid)
            await asyncio.sleep(30.0)  # start-up and the first calibration samples are not steady state
            cpu0, wall0 = sum(process.cpu_times()[:2]), time.monotonic()
            await asyncio.sleep(max(0.0, duration_s - (time.monotonic() - sim_started)))
            cpu1, wall1 = sum(process.cpu_times()[:2]), time.monotonic()
            await asyncio.sleep(1.0)  # alerts in flight reach the feed
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
            await officer.close()
            ingest = server.hub.ingest.snapshot() if server.hub.ingest else {}
            await _stop(edge)
            edge_runtime = time.monotonic() - edge_started
    finally:
        for proc in (edge, sim, broker):
            await _stop(proc)
    stats = json.loads((workdir / "edge.json").read_text()) if (workdir / "edge.json").exists() else {}
    return _figures(
        population,
        feed,
        stats,
        ingest,
        count,
        duration_s,
        (cpu1 - cpu0) / (wall1 - wall0),
        edge_runtime,
        mqtt_url if broker is None else "embedded amqtt",
    )


def _figures(
    population: Population,
    feed: Feed,
    stats: dict[str, Any],
    ingest: dict[str, Any],
    count: int,
    duration_s: float,
    cpu_share: float,
    edge_runtime: float,
    broker: str,
) -> dict[str, Any]:
    expected = {
        (e.device_id, EXPECTED_ALERT[e.kind]) for e in population.expectations if e.kind in EXPECTED_ALERT
    }
    raised = {(a["device_id"], a["type"]): (t, a) for t, a in feed.opened.values()}
    hits = expected & raised.keys()
    latencies = [
        (t - datetime.fromisoformat(a["first_event_at"]).timestamp()) * 1000.0
        for key, (t, a) in raised.items()
        if key in hits
    ]
    p50, p99 = _percentile(latencies, 50), _percentile(latencies, 99)
    false_alerts = sorted(f"{d}:{kind}" for d, kind in raised.keys() - expected)
    return {
        "bracelets": count,
        "duration_s": duration_s,
        "broker": broker,
        "adverts_per_s": round(stats.get("adverts_accepted", 0) / edge_runtime, 1) if stats else None,
        "adverts_rejected": sum(stats.get("rejected", {}).values()) if stats else None,
        "events_published": sum(stats.get("decisions", {}).values()) if stats else None,
        "events_stored_by_hub": ingest.get("stored"),
        "alerts_expected": len(expected),
        "alerts_raised": len(hits),
        "alerts_missed": sorted(f"{d}:{kind}" for d, kind in expected - hits),
        "false_alerts": len(false_alerts),
        "false_alert_list": false_alerts[:20],
        "alert_latency_ms_p50": None if p50 is None else round(p50, 1),
        "alert_latency_ms_p99": None if p99 is None else round(p99, 1),
        "edge_cpu_percent": round(cpu_share * 100.0, 1),
    }


def run(bracelets: int, duration_s: float, mqtt_url: str | None, seed: int) -> dict[str, Any]:
    """Synchronous entry point for the CLI."""
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(bench_e2e(bracelets, duration_s, mqtt_url, seed))
    raise SystemExit(130)
