"""Per-site MQTT credentials: strong random passwords, Mosquitto's password and ACL files, amqtt accounts.

A site logs in with its site id as user name (gateway.acl relies on that). Passwords are generated here
and handed to the site's secret store and to the broker's password file; they are never written into the
repository: callers pass paths outside it (deployment directories, or a test's tmp_path).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import SecretStr

from gateway.acl import MqttRole, render_mosquitto_acl
from gateway.protocol import SITE_ID_PATTERN
from qmon.embedded_broker import BrokerAccount
from qmon.settings import check_secret

PASSWORD_BYTES = 24  # 192 bits of entropy, 32 URL-safe characters
_SITE_RE = re.compile(SITE_ID_PATTERN)
_USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def generate_password(nbytes: int = PASSWORD_BYTES) -> str:
    """A random URL-safe password from the OS's CSPRNG."""
    if nbytes < 16:
        raise ValueError("a broker password needs at least 16 random bytes")
    return secrets.token_urlsafe(nbytes)


def generate_site_credentials(site_ids: Iterable[str]) -> dict[str, str]:
    """A fresh password for each site id (user name = site id)."""
    credentials: dict[str, str] = {}
    for site_id in site_ids:
        if not _SITE_RE.match(site_id):
            raise ValueError(f"invalid site id {site_id!r}")
        credentials[site_id] = generate_password()
    return credentials


def _check_account(username: str, password: str) -> None:
    # ':' would split a password-file line; anything unusual in a user name would also break the ACL file.
    if not _USER_RE.match(username):
        raise ValueError(f"invalid MQTT user name {username!r}")
    check_secret(SecretStr(password), f"password of {username!r}")


def find_mosquitto_passwd() -> str:
    """Path of Debian's `mosquitto_passwd` (package mosquitto); FileNotFoundError if it is missing."""
    found = shutil.which("mosquitto_passwd") or (
        "/usr/bin/mosquitto_passwd" if Path("/usr/bin/mosquitto_passwd").exists() else None
    )
    if found is None:
        raise FileNotFoundError("mosquitto_passwd not found: install Debian's mosquitto package")
    return found


def write_mosquitto_password_file(
    path: Path, accounts: Mapping[str, str], *, mosquitto_passwd: str | None = None
) -> None:
    """Write Mosquitto's `password_file` (hashed by `mosquitto_passwd -b`) atomically, mode 0600."""
    for username, password in accounts.items():
        _check_account(username, password)
    binary = mosquitto_passwd or find_mosquitto_passwd()
    path = Path(path)
    # Build the file next to its destination and rename it, so a broker reloading it never sees half a file.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tmp.chmod(0o600)
        for username, password in accounts.items():
            # -b takes the password as an argument (briefly visible to local users in the process table);
            # acceptable on a broker host where only administrators have shells.
            result = subprocess.run(  # noqa: S603 - fixed binary, no shell
                [binary, "-b", str(tmp), username, password], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                detail = result.stderr.strip() or result.stdout.strip()
                raise RuntimeError(f"mosquitto_passwd failed for {username!r}: {detail}")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_mosquitto_acl(path: Path, hub_users: Iterable[str]) -> None:
    """Write Mosquitto's `acl_file` from gateway.acl's rules."""
    users = list(hub_users)
    for user in users:
        if not _USER_RE.match(user):
            raise ValueError(f"invalid MQTT user name {user!r}")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render_mosquitto_acl(users), encoding="utf-8")
    tmp.replace(path)


def broker_accounts(sites: Mapping[str, str], hubs: Mapping[str, str]) -> list[BrokerAccount]:
    """The embedded (amqtt) broker's accounts: `sites` and `hubs` map user name -> password."""
    accounts: list[BrokerAccount] = []
    for site_id, password in sites.items():
        if not _SITE_RE.match(site_id):
            raise ValueError(f"invalid site id {site_id!r}")
        _check_account(site_id, password)
        accounts.append(BrokerAccount(site_id, password, MqttRole.SITE))
    for user, password in hubs.items():
        if user in sites:
            raise ValueError(f"{user!r} cannot be both a site and a hub account")
        _check_account(user, password)
        accounts.append(BrokerAccount(user, password, MqttRole.HUB))
    return accounts
