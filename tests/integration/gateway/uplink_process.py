"""A stand-alone edge uplink, for tests that kill a whole process: prints 'connected' once online."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from gateway.mqtt_uplink import MqttUplink
from gateway.outbox import Outbox
from gateway.settings import MqttSettings
from qmon.clock import SystemClock


async def main() -> None:
    """Run an uplink until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--site", required=True)
    parser.add_argument("--outbox", required=True, type=Path)
    args = parser.parse_args()
    settings = MqttSettings(url=args.url, keepalive_s=5, reconnect_min_s=1, reconnect_max_s=2)
    uplink = MqttUplink(settings, args.site, Outbox(args.outbox, SystemClock()), SystemClock())
    await uplink.start()
    if not await uplink.wait_connected(10):
        raise SystemExit("not connected")
    print("connected", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
