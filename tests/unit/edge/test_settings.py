"""Edge settings: validation at start-up, secrets, environment, and a description on every field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from edge.settings import ENV_PREFIX, EdgeSettings
from qmon.settings import load_settings
from tests.unit.edge.builders import KEYS, make_settings


def build(**data: Any) -> EdgeSettings:
    return EdgeSettings.model_validate(data)


REAL_KEY = "6e1f0a9c4b2d87e3f5a1c0b9d8e7f6a5"


def test_defaults_are_valid_and_policies_build() -> None:
    settings = build(site_id="site-a")

    assert settings.ble.backend == "bluez" and settings.bracelets == []
    assert settings.presence.to_policy().exit_rssi == -90
    assert settings.presence.calibration.to_policy().min_samples == 360
    assert settings.vitals.to_policy().fever_c == 37.5
    assert settings.gatt.config.to_config().adv_interval_ms == 1000


def test_every_field_has_a_description() -> None:
    missing: list[str] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            if not field.description and not (
                isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
            ):
                missing.append(prefix + name)
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{prefix}{name}.")

    walk(EdgeSettings, "")

    assert [m for m in missing if not m.startswith("mqtt.")] == []


@pytest.mark.parametrize(
    "key",
    [
        "00000000000000000000000000000000",
        "00112233445566778899aabbccddeeff",
        "changeme",
        "6e1f0a9c4b2d87e3f5a1c0b9d8e7f6",  # 30 digits
        "6e1f0a9c4b2d87e3f5a1c0b9d8e7f6zz",
    ],
)
def test_placeholder_and_malformed_keys_are_rejected(key: str) -> None:
    with pytest.raises(ValidationError) as info:
        build(site_id="site-a", bracelets=[{"device_id": "0000a001", "key": key}])
    assert key not in str(info.value.errors(include_input=False))


def test_keys_are_secret_in_reprs_and_dumps() -> None:
    settings = build(site_id="site-a", bracelets=[{"device_id": "0000a001", "key": REAL_KEY}])

    assert REAL_KEY not in repr(settings) and REAL_KEY not in settings.model_dump_json()
    assert settings.bracelets[0].key_bytes() == bytes.fromhex(REAL_KEY)


def test_duplicate_bracelets_and_shared_keys_are_rejected() -> None:
    with pytest.raises(ValidationError, match="listed twice"):
        build(
            site_id="site-a",
            bracelets=[
                {"device_id": "0000a001", "key": REAL_KEY},
                {"device_id": "0000a001", "key": KEYS[0xB001].hex()},
            ],
        )
    with pytest.raises(ValidationError, match="share a key"):
        build(
            site_id="site-a",
            bracelets=[
                {"device_id": "0000a001", "key": REAL_KEY},
                {"device_id": "0000a002", "key": REAL_KEY.upper()},
            ],
        )


def test_virtual_backend_needs_a_radio_address() -> None:
    with pytest.raises(ValidationError, match=r"needs ble\.radio"):
        build(site_id="site-a", ble={"backend": "virtual"})
    with pytest.raises(ValidationError, match="inproc:NAME"):
        build(site_id="site-a", ble={"backend": "virtual", "radio": "udp://x"})

    ok = build(
        site_id="site-a", ble={"backend": "virtual", "radio": "tcp://127.0.0.1:4000", "receivers": ["r"]}
    )
    assert ok.ble.radio == "tcp://127.0.0.1:4000"


def test_unknown_keys_and_bad_site_ids_are_errors() -> None:
    with pytest.raises(ValidationError):
        build(site_id="site-a", presence={"tau": 3})
    with pytest.raises(ValidationError):
        build(site_id="Site A")
    with pytest.raises(ValidationError, match="hysteresis"):
        build(site_id="site-a", presence={"enter_rssi": -95, "exit_rssi": -90})
    with pytest.raises(ValidationError):
        build(site_id="site-a", vitals={"battery_low_pct": 30, "battery_ok_pct": 20})


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(
        "site_id: from-file\nble:\n  backend: virtual\n  radio: inproc:home\npresence:\n  tau_s: 5\n"
    )
    environ = {
        ENV_PREFIX + "PRESENCE__EXIT_DWELL_S": "45",
        ENV_PREFIX + "BRACELETS": json.dumps(
            [{"device_id": "0000a001", "key": REAL_KEY, "home_id": "flat-1"}]
        ),
    }

    settings = load_settings(
        EdgeSettings, path, overrides={"site_id": "from-flag"}, env_prefix=ENV_PREFIX, environ=environ
    )

    assert settings.site_id == "from-flag"
    assert settings.presence.tau_s == 5 and settings.presence.exit_dwell_s == 45
    assert settings.bracelets[0].home_id == "flat-1" and settings.bracelets[0].key_bytes() == bytes.fromhex(
        REAL_KEY
    )


def test_the_test_builder_settings_are_valid() -> None:
    settings = make_settings()

    assert {b.home_id for b in settings.bracelets} == {"home-a", "home-b"}
