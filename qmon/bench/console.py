"""`qmon bench console`: what the officers' consoles get from the hub, and how fast telemetry is stored.

- Fan-out: CLIENTS officers follow the live alert feed (SSE) from a process of their own
  (qmon.bench.console_clients) while ALERTS bracelet violations are published to the broker, one every
  INTERVAL. The latency of an alert at a console is from the moment its event was published to the broker
  (time.time(), same machine) to the moment that console parsed the alert: broker, ingest (validation,
  de-duplication, rules, the alert's transaction), the broadcaster and the SSE stream, all real. Each
  violation is a different bracelet, so each opens a new alert that every console must receive.
- Telemetry: qmon.bench.telemetry writes points through the hub's InfluxDB-protocol store into a real
  VictoriaMetrics and, in the same run, the same points as plain line protocol.

The hub runs in this process on SQLite, with a private Mosquitto when one is installed (else the
embedded broker); everything binds 127.0.0.1 and is stopped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from cloud.app import HubServer
from cloud.auth import Passwords, create_officer
from cloud.settings import HubSettings
from gateway.mqtt_client import build_client
from gateway.protocol import Channel, EventMessage, EventType, encode_message, topic_for
from gateway.settings import MqttSettings
from qmon.bench.ingest import seed_orders
from qmon.bench.workload import Assignment
from qmon.embedded_broker import EmbeddedBroker
from qmon.mosquitto import mosquitto_binary, start_mosquitto

TARGET_CLIENTS = 200
TARGET_FANOUT_P99_MS = 100.0
WARD = "ward-bench"
SITE = "bench-console"


def _percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def _token(url: str, username: str, password: str) -> str:
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token


def _publish(url: str, devices: list[str], interval_s: float) -> dict[str, float]:
    """Publish one left_home event per device, `interval_s` apart; when each was handed to the broker."""
    settings = MqttSettings(url=url)
    client = build_client(settings, f"qmon-bench-console-{secrets.token_hex(3)}")
    client.connect(settings.host, settings.port, 30)
    client.loop_start()
    sent: dict[str, float] = {}
    try:
        for seq, device in enumerate(devices, 1):
            message = EventMessage(
                event_id=uuid.uuid4(),
                site_id=SITE,
                device_id=device,
                seq=seq,
                type=EventType.LEFT_HOME,
                time=datetime.now(UTC),
                data={"bench": True},
            )
            payload = encode_message(message)
            sent[device] = time.time()
            client.publish(topic_for(SITE, Channel.EVENTS), payload, qos=1).wait_for_publish(10)
            time.sleep(interval_s)
    finally:
        client.loop_stop()
        client.disconnect()
    return sent


async def bench_fanout(clients: int, alerts: int, interval_s: float) -> dict[str, Any]:
    """Connect `clients` consoles, raise `alerts` alerts; the latency figures of their arrivals."""
    with tempfile.TemporaryDirectory(prefix="qmon-bench-console-") as tmp:
        workdir = Path(tmp)
        async with contextlib.AsyncExitStack() as stack:
            if mosquitto_binary() is not None:
                broker = start_mosquitto(workdir)
                stack.callback(broker.stop)
                mqtt_url, broker_name = broker.url, "mosquitto (private)"
            else:
                embedded = EmbeddedBroker()
                await embedded.start()
                stack.push_async_callback(embedded.stop)
                mqtt_url, broker_name = embedded.url, "embedded amqtt"
            db_url = f"sqlite:///{workdir / 'hub.db'}"
            devices = [f"{0xC0000000 + i:08x}" for i in range(alerts)]
            await asyncio.to_thread(seed_orders, db_url, [Assignment(SITE, d, WARD) for d in devices])
            settings = HubSettings.model_validate(
                {
                    "mqtt": {"url": mqtt_url, "client_id": f"qmon-bench-console-hub-{secrets.token_hex(3)}"},
                    "database_url": db_url,
                    "http_port": 0,
                    "jwt_secret": secrets.token_urlsafe(48),
                    "sse_queue_size": max(1000, alerts * 4),
                }
            )
            server = await stack.enter_async_context(HubServer(settings))
            password = secrets.token_urlsafe(16)
            create_officer(
                server.hub.repository,
                Passwords(),
                server.hub.clock,
                username="bench-officer",
                password=password,
                role="ward_officer",
                wards=[WARD],
            )
            token = await _token(server.url, "bench-officer", password)
            follow_s = alerts * interval_s + 10.0
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "qmon.bench.console_clients",
                server.url,
                token,
                str(clients),
                str(follow_s),
                stdout=asyncio.subprocess.PIPE,
            )
            assert child.stdout is not None
            try:
                ready = json.loads(await asyncio.wait_for(child.stdout.readline(), 90))
                assert ready == {"ready": clients}, ready
                await asyncio.sleep(1.0)  # every stream is subscribed and idle
                sent = await asyncio.to_thread(_publish, mqtt_url, devices, interval_s)
                out, _ = await asyncio.wait_for(child.communicate(), follow_s + 60)
            finally:
                if child.returncode is None:
                    child.kill()
                    await child.wait()
    arrivals: list[dict[str, float]] = json.loads(out.decode().strip().splitlines()[-1])["arrivals"]
    latencies = [
        (seen[device] - sent[device]) * 1000.0 for seen in arrivals for device in sent if device in seen
    ]
    missing = len(sent) * clients - len(latencies)
    # The first console to get each alert: the pipeline's share (broker, ingest, commit), before fan-out.
    first = [
        min(seen[device] for seen in arrivals if device in seen) - sent[device]
        for device in sent
        if any(device in seen for seen in arrivals)
    ]
    return {
        "broker": broker_name,
        "sse_clients": clients,
        "alerts_raised": len(sent),
        "alert_deliveries": len(latencies),
        "alert_deliveries_missing": missing,
        "alert_fanout_ms_p50": round(_percentile(latencies, 50), 1) if latencies else None,
        "alert_fanout_ms_p99": round(_percentile(latencies, 99), 1) if latencies else None,
        "alert_fanout_ms_max": round(max(latencies), 1) if latencies else None,
        "alert_first_console_ms_p50": round(_percentile(first, 50) * 1000.0, 1) if first else None,
    }


async def bench_console(clients: int, alerts: int, interval_s: float, points: int) -> dict[str, Any]:
    """Both parts, and whether the issue's targets are met."""
    from qmon.bench.telemetry import bench_telemetry  # the VictoriaMetrics part

    fanout = await bench_fanout(clients, alerts, interval_s)
    telemetry = await asyncio.to_thread(bench_telemetry, points)
    p99 = fanout["alert_fanout_ms_p99"]
    return {
        **fanout,
        **telemetry,
        "targets": {
            "sse_clients": TARGET_CLIENTS,
            "alert_fanout_ms_p99_at_most": TARGET_FANOUT_P99_MS,
            "telemetry_points_per_s_at_least": 50_000,
            "ratio_at_least": 0.5,
        },
        "targets_met": {
            "fanout": clients >= TARGET_CLIENTS
            and p99 is not None
            and p99 <= TARGET_FANOUT_P99_MS
            and fanout["alert_deliveries_missing"] == 0,
            "telemetry_rate": telemetry["telemetry_points_per_s"] >= 50_000,
            "telemetry_ratio": telemetry["ratio"] >= 0.5,
        },
    }


def run(clients: int, alerts: int, interval_s: float, points: int) -> dict[str, Any]:
    """Synchronous entry point for the CLI."""
    return asyncio.run(bench_console(clients, alerts, interval_s, points))
