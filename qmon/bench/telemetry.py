"""The telemetry half of `qmon bench console`: the hub's telemetry writer against plain line protocol.

One run starts a private VictoriaMetrics (qmon/victoria.py) on a free loopback port with a temporary data
directory, then:

1. Builds `points` bracelet readings (`devices` bracelets, one reading each per second, the values ingest
   produces from a telemetry message: 10 fields) ending now, and writes one reading of every bracelet first
   (untimed), so that both timed runs find every series already created.
2. `telemetry_points_per_s`: the readings go through `InfluxTelemetryStore.write` (encoding to line
   protocol and influxdb-client's synchronous write_api, requests of `request_lines` lines, the settings'
   default) in calls of `batch` points, as ingest hands a committed batch over. The clock covers encoding
   and writing.
3. `raw_line_protocol_points_per_s`: the same readings, pre-encoded as line-protocol text before the clock
   starts, POSTed with httpx to `/write?precision=ms` in bodies of the same `request_lines` lines, one
   after the other (the server's own ingestion rate seen by one client). Their timestamps are one
   millisecond later, so the server stores them as new samples rather than duplicates.
4. Steps 2 and 3 alternate for `rounds` rounds (3), each round's copies shifted by two more milliseconds;
   the rates are from the median times (a single pair varied the ratio from 0.42 to 0.56 between runs).
5. `ratio` = 2 / 3. The store's points are then read back (`stored_points_checked`) to prove they landed.

A point is one reading (one line); `samples_per_point` says how many samples (fields) it carries.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from cloud.settings import TelemetrySettings
from cloud.storage.telemetry import TelemetryPoint
from cloud.telemetry.influx import InfluxTelemetryStore
from cloud.telemetry.lines import encode_points
from qmon.victoria import start_victoria

SITES = 50
TARGET_POINTS_PER_S = 50_000
TARGET_RATIO = 0.5
ROUNDS = 3  # store and raw runs alternate; the rates are the medians (one pair was too noisy)


def make_points(points: int, devices: int, end: datetime) -> list[TelemetryPoint]:
    """`points` readings of `devices` bracelets, one per bracelet per second, the last ones at `end`."""
    rounds = -(-points // devices)
    out: list[TelemetryPoint] = []
    for r in range(rounds):
        at = end - timedelta(seconds=rounds - 1 - r)
        for d in range(devices):
            if len(out) == points:
                return out
            values: dict[str, Any] = {
                "presence": "home" if (d + r) % 17 else "away",
                "rssi": -50.0 - (d % 40) - (r % 7) * 0.5,
                "distance_m": round(1.0 + (d % 40) * 0.25, 2),
                "battery": 100 - d % 90,
                "heart_rate": 60 + (d + r) % 40,
                "skin_temp_c": 36.0 + ((d + r) % 20) / 10,
                "strap_closed": True,
                "skin_contact": (d + r) % 50 != 0,
                "charging": False,
                "adverts": 3 + r % 3,
            }
            out.append(TelemetryPoint(f"home-{d % SITES:04d}", f"{d:08x}", at, values))
    return out


def _shifted(points: list[TelemetryPoint], delta: timedelta) -> list[TelemetryPoint]:
    return [TelemetryPoint(p.site_id, p.device_id, p.time + delta, p.values) for p in points]


def bench_telemetry(
    points: int = 200_000,
    *,
    devices: int = 2_000,
    batch: int = 5_000,
    request_lines: int | None = None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Measure the telemetry writer and plain line protocol into a fresh VictoriaMetrics; return the JSON."""
    if points < devices:
        devices = max(1, points)
    if request_lines is None:
        request_lines = TelemetrySettings.model_validate({}).batch_lines
    with tempfile.TemporaryDirectory(prefix="qmon-bench-vm-", dir=workdir) as tmp:
        server = start_victoria(Path(tmp), retention="7d")
        try:
            return _run(server.url, server.flush, points, devices, batch, request_lines)
        finally:
            server.stop()


def _run(
    url: str, flush: Any, points: int, devices: int, batch: int, request_lines: int, rounds: int = ROUNDS
) -> dict[str, Any]:
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    readings = make_points(points, devices, end)
    # Round r writes the store's copy 2r ms and the raw copy 2r + 1 ms after the readings' times, so that
    # every write stores new samples rather than duplicates; the raw bodies are encoded before any clock runs.
    store_rounds = [_shifted(readings, timedelta(milliseconds=2 * r)) for r in range(rounds)]
    raw_rounds = []
    for r in range(rounds):
        lines = encode_points(_shifted(readings, timedelta(milliseconds=2 * r + 1)))
        raw_rounds.append(
            ["\n".join(lines[i : i + request_lines]).encode() for i in range(0, len(lines), request_lines)]
        )
    warm = encode_points(_shifted(readings[:devices], -timedelta(hours=1)))
    store_times: list[float] = []
    raw_times: list[float] = []
    with httpx.Client(base_url=url, timeout=60) as http:
        http.post("/write", params={"precision": "ms"}, content="\n".join(warm)).raise_for_status()
        store = InfluxTelemetryStore(url, batch_lines=request_lines, timeout_s=60)
        try:
            for store_points, raw_bodies in zip(store_rounds, raw_rounds, strict=True):
                started = time.perf_counter()
                for i in range(0, len(store_points), batch):
                    store.write(store_points[i : i + batch])
                store_times.append(time.perf_counter() - started)

                started = time.perf_counter()
                for body in raw_bodies:
                    http.post("/write", params={"precision": "ms"}, content=body).raise_for_status()
                raw_times.append(time.perf_counter() - started)

            flush()
            last = readings[-1]
            found = store.query(last.device_id, readings[0].time, end, limit=points)
            checked = sum(1 for p in found if p.time.microsecond == 0)  # the first round's store points
        finally:
            store.close()
    store_s = statistics.median(store_times)
    raw_s = statistics.median(raw_times)
    store_rate = points / store_s
    raw_rate = points / raw_s
    ratio = store_rate / raw_rate
    return {
        "telemetry_points_per_s": round(store_rate),
        "raw_line_protocol_points_per_s": round(raw_rate),
        "ratio": round(ratio, 3),
        "telemetry_points": points,
        "telemetry_devices": devices,
        "telemetry_batch_points": batch,
        "telemetry_request_lines": request_lines,
        "samples_per_point": len(readings[0].values),
        "telemetry_write_s": round(store_s, 3),
        "raw_line_protocol_write_s": round(raw_s, 3),
        "rounds": rounds,
        "telemetry_write_s_each": [round(t, 3) for t in store_times],
        "raw_line_protocol_write_s_each": [round(t, 3) for t in raw_times],
        "stored_points_checked": checked,
        "expected_points_per_device": -(-points // devices),
        "telemetry_server": "victoria-metrics (private, 127.0.0.1, free port)",
        "telemetry_targets_met": store_rate >= TARGET_POINTS_PER_S and ratio >= TARGET_RATIO,
    }


if __name__ == "__main__":  # pragma: no cover - `python -m qmon.bench.telemetry` for a quick look
    import json
    import sys

    print(json.dumps(bench_telemetry(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000), indent=2))
