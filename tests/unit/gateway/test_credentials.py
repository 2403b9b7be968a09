"""Per-site credentials: generated passwords, Mosquitto's files, amqtt accounts."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from gateway.acl import MqttRole, render_mosquitto_acl
from gateway.credentials import (
    broker_accounts,
    generate_password,
    generate_site_credentials,
    write_mosquitto_acl,
    write_mosquitto_password_file,
)
from tests.support.services import require


def test_generated_passwords_are_long_and_distinct() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) >= 32 for p in passwords)
    with pytest.raises(ValueError):
        generate_password(8)


def test_site_credentials_validate_site_ids() -> None:
    creds = generate_site_credentials(["site-a", "site-b"])
    assert set(creds) == {"site-a", "site-b"} and creds["site-a"] != creds["site-b"]
    with pytest.raises(ValueError):
        generate_site_credentials(["Site A"])


def test_password_file_holds_hashes_only_and_is_private(tmp_path: Path) -> None:
    require(shutil.which("mosquitto_passwd") is not None, "mosquitto_passwd (Debian package mosquitto)")
    creds = generate_site_credentials(["site-a", "site-b"])
    path = tmp_path / "passwd"
    write_mosquitto_password_file(path, creds)
    text = path.read_text()
    users = [line.split(":", 1)[0] for line in text.splitlines()]
    assert users == ["site-a", "site-b"]
    assert all(line.split(":", 1)[1].startswith("$") for line in text.splitlines())  # hashed
    assert not any(password in text for password in creds.values())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["passwd"]  # no temporary file left behind


@pytest.mark.parametrize(
    ("user", "password"),
    [("site:a", "x" * 32), ("", "x" * 32), ("site-a", "short"), ("site-a", "changeme")],
)
def test_password_file_rejects_bad_accounts(tmp_path: Path, user: str, password: str) -> None:
    with pytest.raises(ValueError):
        write_mosquitto_password_file(tmp_path / "passwd", {user: password}, mosquitto_passwd="/nonexistent")
    assert not (tmp_path / "passwd").exists()


def test_acl_file_matches_the_rules(tmp_path: Path) -> None:
    write_mosquitto_acl(tmp_path / "acl", ["hub"])
    assert (tmp_path / "acl").read_text() == render_mosquitto_acl(["hub"])


def test_broker_accounts_for_the_embedded_broker() -> None:
    sites = generate_site_credentials(["site-a"])
    hubs = {"hub": generate_password()}
    accounts = broker_accounts(sites, hubs)
    assert [(a.username, a.role) for a in accounts] == [("site-a", MqttRole.SITE), ("hub", MqttRole.HUB)]
    assert accounts[0].password == sites["site-a"]
    with pytest.raises(ValueError):
        broker_accounts({"hub": generate_password()}, {"hub": generate_password()})
    with pytest.raises(ValueError):
        broker_accounts({"site-a": "weak"}, {})
