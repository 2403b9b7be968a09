"""Builders with defaults for the gateway's integration tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from gateway.mqtt_uplink import MqttUplink
from gateway.protocol import PresenceState, Reading, TelemetryMessage
from gateway.settings import MqttSettings

SITE = "site-a"
DEVICES = ("0000000a", "0000000b")

MakeUplink = Callable[..., MqttUplink]


def make_settings(url: str, **overrides: Any) -> MqttSettings:
    """Test settings: quick keep-alive and short reconnect backoff."""
    values: dict[str, Any] = {"url": url, "keepalive_s": 5, "reconnect_min_s": 1.0, "reconnect_max_s": 2.0}
    if "password" in overrides and isinstance(overrides["password"], str):
        overrides["password"] = SecretStr(overrides["password"])
    values.update(overrides)
    return MqttSettings(**values)


def make_telemetry(n: int, site_id: str = SITE) -> TelemetryMessage:
    """A one-reading batch; `adverts` = n tells batches apart."""
    now = datetime.now(UTC)
    reading = Reading(
        device_id=DEVICES[0],
        time=now,
        presence=PresenceState.HOME,
        strap_closed=True,
        skin_contact=True,
        charging=False,
        adverts=n,
    )
    return TelemetryMessage(site_id=site_id, time=now, readings=[reading])
