"""The hub's settings: secure defaults, secrets validated at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cloud.rules import AlertType, Severity
from cloud.settings import HubSettings, load_hub_settings

SECRET = "s" * 40


def test_defaults_are_loopback_and_a_local_sqlite_file() -> None:
    settings = HubSettings(jwt_secret=SECRET)
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8642)
    assert settings.database_url.startswith("sqlite:///") and settings.shared_subscription_group is None
    assert settings.mqtt.client_id == "qmon-hub"


@pytest.mark.parametrize("secret", ["changeme", "short-secret", ""])
def test_placeholder_or_short_jwt_secrets_are_rejected(secret: str) -> None:
    with pytest.raises(ValidationError, match="jwt_secret"):
        HubSettings(jwt_secret=secret)


def test_jwt_secret_is_required() -> None:
    with pytest.raises(ValidationError, match="jwt_secret"):
        HubSettings()  # type: ignore[call-arg]


def test_every_field_is_described() -> None:
    assert all(f.description for f in HubSettings.model_fields.values())


def test_file_environment_and_flags_and_rule_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(
        f"jwt_secret: {SECRET}\nrules:\n  battery_critical_pct: 8\n  severities:\n    fever: critical\n"
    )
    monkeypatch.setenv("QMON_HUB__HTTP_PORT", "9000")
    settings = load_hub_settings(path, {"mqtt.url": "mqtt://127.0.0.1:1999"})
    assert settings.http_port == 9000 and settings.mqtt.port == 1999
    policy = settings.rules.to_policy()
    assert policy.battery_critical_pct == 8
    assert policy.severities[AlertType.FEVER] is Severity.CRITICAL
    assert policy.severities[AlertType.LEFT_HOME] is Severity.CRITICAL  # defaults kept for the rest


def test_unknown_keys_are_errors() -> None:
    with pytest.raises(ValidationError, match="http_prot"):
        HubSettings(jwt_secret=SECRET, http_prot=1)  # type: ignore[call-arg]
