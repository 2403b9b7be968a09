"""MqttUplink without a broker: emitting is durable before any connection, start and stop never hang."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.mqtt_uplink import MqttUplink
from gateway.outbox import Outbox
from gateway.protocol import EventType, PresenceState, Reading, TelemetryMessage
from gateway.settings import MqttSettings
from gateway.uplink import Uplink
from qmon.clock import ManualClock
from qmon.embedded_broker import free_port

DEVICE = "0000000a"


def make_uplink(tmp_path: Path, site_id: str = "site-a") -> tuple[MqttUplink, Outbox]:
    clock = ManualClock()
    box = Outbox(tmp_path / "outbox.db", clock)
    settings = MqttSettings(url=f"mqtt://127.0.0.1:{free_port()}", reconnect_min_s=1, reconnect_max_s=2)
    return MqttUplink(settings, site_id, box, clock), box


def test_it_is_an_uplink(tmp_path: Path) -> None:
    uplink, box = make_uplink(tmp_path)
    port: Uplink = uplink  # the Protocol is satisfied structurally
    assert port is uplink
    box.close()


def test_invalid_site_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_uplink(tmp_path, site_id="Site A")


async def test_emit_persists_without_broker_and_stop_is_prompt(tmp_path: Path) -> None:
    uplink, box = make_uplink(tmp_path)
    first = uplink.emit_event(DEVICE, EventType.LEFT_HOME, 1_800_000_000.0, {"rssi": -90})  # before start()
    await uplink.start()
    second = uplink.emit_event(DEVICE, EventType.RETURNED_HOME, 1_800_000_060.0, {})
    assert (first.seq, second.seq) == (1, 2)
    assert [p.event_id for p in box.pending_events()] == [first.event_id, second.event_id]
    stats = uplink.stats()
    assert not stats.connected and stats.events_pending == 2 and stats.events_sent == 0
    await asyncio.wait_for(uplink.stop(timeout=1.0), 5)  # no broker ever answered: nothing to wait for
    assert box.stats().pending_events == 2  # still there for the next run
    box.close()


def test_telemetry_of_another_site_is_refused(tmp_path: Path) -> None:
    uplink, box = make_uplink(tmp_path)
    now = datetime(2027, 1, 1, tzinfo=UTC)
    reading = Reading(
        device_id=DEVICE,
        time=now,
        presence=PresenceState.AWAY,
        strap_closed=True,
        skin_contact=True,
        charging=False,
        adverts=3,
    )
    with pytest.raises(ValueError, match="site-b"):
        uplink.emit_telemetry(TelemetryMessage(site_id="site-b", time=now, readings=[reading]))
    uplink.emit_telemetry(TelemetryMessage(site_id="site-a", time=now, readings=[reading]))
    assert box.stats().pending_telemetry == 1
    box.close()
