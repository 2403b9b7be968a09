"""A load publisher in its own process: reads `topic<TAB>payload` lines and publishes them at QoS 1.

Run as `python -m qmon.bench.publisher MQTT_URL FILE`; prints one JSON line with its own rate when done.
Kept apart from the process under test so the two do not share an interpreter lock.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from gateway.mqtt_client import build_client
from gateway.settings import MqttSettings


def load_messages(path: Path) -> list[tuple[str, bytes]]:
    """Read the message file written by write_messages()."""
    out = []
    for line in path.read_bytes().splitlines():
        topic, _, payload = line.partition(b"\t")
        out.append((topic.decode(), payload))
    return out


def write_messages(path: Path, messages: list[tuple[str, bytes]]) -> None:
    """Write messages as `topic<TAB>payload` lines (payloads are single-line JSON)."""
    path.write_bytes(b"".join(t.encode() + b"\t" + p + b"\n" for t, p in messages))


def publish_all(url: str, messages: list[tuple[str, bytes]], inflight: int = 1000) -> dict[str, float]:
    """Publish every message at QoS 1 and wait for all PUBACKs; return count, seconds and rate."""
    settings = MqttSettings(url=url, protocol="5")
    client = build_client(settings, f"qmon-bench-pub-{time.monotonic_ns() % 10**8}")
    client.max_inflight_messages_set(inflight)
    client.max_queued_messages_set(0)
    client.connect(settings.host, settings.port, 30)
    client.loop_start()
    started = time.perf_counter()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(120)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return {"published": len(infos), "seconds": elapsed, "per_s": len(infos) / elapsed if elapsed else 0.0}


def main() -> None:
    """Entry point for the subprocess."""
    url, path = sys.argv[1], Path(sys.argv[2])
    result = publish_all(url, load_messages(path))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
