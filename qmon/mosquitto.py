"""A private Mosquitto process on a loopback port: for the tests and the benchmarks, never for production.

Production Mosquitto is configured by its operator (see README); this launcher writes a minimal config with
qmon's accounts and topic ACL, and the queue limits the hub needs (QoS 1 events are never dropped for an
absent or busy hub).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from gateway.acl import render_mosquitto_acl
from qmon.embedded_broker import free_port

# Deep queues and unlimited in-flight windows: the hub acknowledges in batches after each commit, and the
# default 1,000 queued messages would silently drop QoS 1 events during a burst or a hub restart.
# (Mosquitto 2.0.11 stops acknowledging denied QoS 1 publishes with "max_queued_messages 0", so the
# queue gets a large bound rather than none.)
HUB_FRIENDLY_LIMITS = ("max_queued_messages 1000000", "max_inflight_messages 0")


def mosquitto_binary() -> str | None:
    """Path of the mosquitto binary, or None when it is not installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until a TCP port accepts connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} did not open within {timeout}s")


@dataclass
class MosquittoInstance:
    """A running private Mosquitto."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    accounts: dict[str, str] = field(default_factory=dict)
    hub_users: list[str] = field(default_factory=list)
    log_path: Path | None = None
    tls: tuple[Path, Path, Path] | None = None
    persistence_dir: Path | None = None

    @property
    def url(self) -> str:
        """mqtt://host:port, or mqtts:// for a TLS listener."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def stop(self) -> None:
        """Terminate the broker (the tests also use this to simulate an outage)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def kill(self) -> None:
        """Kill the broker without a clean shutdown (a crash or power loss)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def start_mosquitto(
    workdir: Path,
    *,
    accounts: dict[str, str] | None = None,
    hub_users: list[str] | None = None,
    port: int | None = None,
    tls: tuple[Path, Path, Path] | None = None,
    persistence_dir: Path | None = None,
) -> MosquittoInstance:
    """Start a broker in `workdir`; with `accounts` (user -> password) anonymous access is off, the ACL on.

    `tls` is (CA file, certificate file, key file): the listener then speaks MQTT over TLS 1.2+ only.
    With `persistence_dir`, sessions, subscriptions and queued QoS 1 messages survive a restart that uses
    the same directory, as in production.
    """
    binary = mosquitto_binary()
    if binary is None:
        raise FileNotFoundError("mosquitto is not installed (Debian package mosquitto)")
    port = port or free_port()
    d = workdir / f"mosquitto-{port}-{uuid.uuid4().hex[:6]}"
    d.mkdir(parents=True)
    lines = [
        f"listener {port} 127.0.0.1",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        *HUB_FRIENDLY_LIMITS,
    ]
    if persistence_dir is None:
        lines.append("persistence false")
    else:
        lines += ["persistence true", f"persistence_location {persistence_dir}/"]
    if tls is not None:
        ca, cert, key = tls
        lines += [f"cafile {ca}", f"certfile {cert}", f"keyfile {key}", "tls_version tlsv1.2"]
    if os.geteuid() == 0:
        lines.append("user root")  # a private broker whose files live in a root-only directory
    if accounts:
        passwd = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        pw = d / "passwd"
        pw.touch(mode=0o600)
        for user, password in accounts.items():
            subprocess.run([passwd, "-b", str(pw), user, password], check=True, capture_output=True)  # noqa: S603 - fixed binary, no shell
        acl = d / "acl"
        acl.write_text(render_mosquitto_acl(hub_users or []))
        lines += ["allow_anonymous false", f"password_file {pw}", f"acl_file {acl}"]
    else:
        lines.append("allow_anonymous true")
    conf = d / "mosquitto.conf"
    conf.write_text("\n".join(lines) + "\n")
    log_path = d / "mosquitto.log"
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        wait_for_port("127.0.0.1", port)
    except TimeoutError:
        proc.kill()
        proc.wait(5)
        raise RuntimeError(f"mosquitto did not start: {log_path.read_text()}") from None
    return MosquittoInstance(
        "127.0.0.1", port, proc, dict(accounts or {}), list(hub_users or []), log_path, tls, persistence_dir
    )
