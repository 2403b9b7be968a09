"""Files written by gateway.credentials drive a real Mosquitto: the site logs in, an intruder does not."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.credentials import generate_site_credentials, write_mosquitto_acl, write_mosquitto_password_file
from gateway.protocol import EventType
from qmon.embedded_broker import free_port
from tests.integration.gateway.builders import DEVICES, MakeUplink
from tests.integration.gateway.collector import Collector, wait_until
from tests.support.services import require, wait_for_port


@pytest.fixture
def secured_mosquitto(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """Mosquitto with a password file and ACL written by gateway.credentials; yields (url, accounts)."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    require(
        Path(binary).exists() and shutil.which("mosquitto_passwd") is not None,
        "mosquitto and mosquitto_passwd",
    )
    accounts = generate_site_credentials(["site-a"]) | {"hub": generate_site_credentials(["hub"])["hub"]}
    write_mosquitto_password_file(tmp_path / "passwd", accounts)
    write_mosquitto_acl(tmp_path / "acl", ["hub"])
    port = free_port()
    lines = [
        f"listener {port} 127.0.0.1", "persistence false", "log_dest stderr", "log_type error",
        "allow_anonymous false", f"password_file {tmp_path / 'passwd'}", f"acl_file {tmp_path / 'acl'}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        lines.append("user root")
    (tmp_path / "mosquitto.conf").write_text("\n".join(lines) + "\n")
    with subprocess.Popen([binary, "-c", str(tmp_path / "mosquitto.conf")]) as proc:
        try:
            wait_for_port("127.0.0.1", port)
            yield f"mqtt://127.0.0.1:{port}", accounts
        finally:
            proc.terminate()
            proc.wait(5)


async def test_generated_credentials_work_on_mosquitto(
    secured_mosquitto: tuple[str, dict[str, str]], make_uplink: MakeUplink
) -> None:
    url, accounts = secured_mosquitto
    hub = await Collector(url, username="hub", password=accounts["hub"]).start()
    uplink = make_uplink(url, username="site-a", password=accounts["site-a"])
    await uplink.start()
    sent = uplink.emit_event(DEVICES[0], EventType.BATTERY_LOW, time.time(), {"battery": 9})
    assert [e.event_id for e in await hub.wait_for_events(1)] == [sent.event_id]
    await hub.stop()

    intruder = make_uplink(url, site_id="site-x", username="site-x", password=accounts["site-a"])
    await intruder.start()
    await wait_until(lambda: intruder.stats().connect_failures >= 1, 10, "the refused login")
    assert not intruder.connected
