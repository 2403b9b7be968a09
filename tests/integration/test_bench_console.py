"""`qmon bench console`'s fan-out part at a small scale: every alert reaches every console, and the
latency figures come from real arrivals (a private Mosquitto, the hub, SSE clients in a child process)."""

from __future__ import annotations

import asyncio

import pytest

from qmon.bench.console import bench_fanout
from qmon.mosquitto import mosquitto_binary
from tests.support.services import require

pytestmark = pytest.mark.slow


def test_every_alert_reaches_every_console() -> None:
    require(mosquitto_binary() is not None, "mosquitto")
    figures = asyncio.run(bench_fanout(clients=12, alerts=3, interval_s=0.1))
    assert figures["broker"] == "mosquitto (private)"
    assert figures["sse_clients"] == 12 and figures["alerts_raised"] == 3
    assert figures["alert_deliveries"] == 36 and figures["alert_deliveries_missing"] == 0
    p50, p99, worst = (
        figures[k] for k in ("alert_fanout_ms_p50", "alert_fanout_ms_p99", "alert_fanout_ms_max")
    )
    assert 0 < figures["alert_first_console_ms_p50"] <= p50 <= p99 <= worst < 10_000
