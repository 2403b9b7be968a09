"""Settings loading (file, environment, flags) and the injectable clocks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from gateway.settings import MqttSettings
from qmon.clock import ManualClock, ScaledClock
from qmon.settings import StrictModel, check_secret, load_settings


class _Demo(StrictModel):
    name: str = "x"
    mqtt: MqttSettings = MqttSettings()


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: from-file\nmqtt:\n  url: mqtt://127.0.0.1:1999\n  username: a\n")
    env = {"QMON_T__MQTT__USERNAME": "from-env", "QMON_T__NAME": "from-env"}
    s = load_settings(
        _Demo, path, {"name": "from-flag", "mqtt.url": None}, env_prefix="QMON_T__", environ=env
    )
    assert s.name == "from-flag"
    assert s.mqtt.username == "from-env"
    assert s.mqtt.port == 1999


def test_unknown_keys_and_bad_urls_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("nmae: typo\n")
    with pytest.raises(ValidationError, match="nmae"):
        load_settings(_Demo, path)
    with pytest.raises(ValidationError, match="mqtt://host:port"):
        MqttSettings(url="http://127.0.0.1:1883")


def test_mqtts_defaults_to_8883() -> None:
    s = MqttSettings(url="mqtts://broker.example")
    assert s.use_tls and s.port == 8883


@pytest.mark.parametrize("value", ["changeme", "secret", "short"])
def test_placeholder_and_short_secrets_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        check_secret(SecretStr(value), "jwt_secret")
    assert check_secret(SecretStr("a-long-random-secret-value"), "jwt_secret") is not None


async def test_manual_clock_wakes_sleepers_only_when_advanced() -> None:
    clock = ManualClock(start=100.0)
    task = asyncio.create_task(clock.sleep(10))
    await asyncio.sleep(0)
    clock.advance(9)
    await asyncio.sleep(0)
    assert not task.done()
    clock.advance(1)
    await asyncio.sleep(0)
    assert task.done()
    assert clock.now() == 110.0


def test_scaled_clock_runs_faster() -> None:
    clock = ScaledClock(speed=1000.0, start=0.0)
    first = clock.now()
    import time

    time.sleep(0.01)
    assert clock.now() - first >= 5.0
