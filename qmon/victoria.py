"""A private VictoriaMetrics process on a loopback port: for the tests and the benchmarks, never production.

Production VictoriaMetrics (or InfluxDB) is run by its operator; the hub only talks to its URL. This launcher
starts `victoria-metrics` (Debian package `victoria-metrics`) on a free 127.0.0.1 port with its own data
directory, a retention period, and `-search.latencyOffset=1s` (so that freshly written samples are
visible to /api/v1/query after a second rather than the default thirty).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from qmon.embedded_broker import free_port

BINARY_NAME = "victoria-metrics"
DEBIAN_PATH = Path("/usr/bin/victoria-metrics")


def victoria_binary() -> str | None:
    """Path of the victoria-metrics binary, or None when it is not installed."""
    found = shutil.which(BINARY_NAME)
    if found:
        return found
    return str(DEBIAN_PATH) if DEBIAN_PATH.exists() else None


def wait_healthy(url: str, timeout: float = 15.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Block until `url`/health answers 200; raise TimeoutError (or RuntimeError if `process` exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"victoria-metrics exited with status {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url}/health did not answer within {timeout}s")


@dataclass
class VictoriaInstance:
    """A running private VictoriaMetrics."""

    host: str
    port: int
    storage: Path
    retention: str
    process: subprocess.Popen[bytes]
    log_path: Path
    extra_args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """http://host:port: the InfluxDB write endpoint (/write, /api/v2/write) and the Prometheus API."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self.process.poll() is None

    def stop(self) -> None:
        """Terminate the server (the tests also use this to simulate an outage); the data directory stays."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def flush(self) -> None:
        """Make recently written samples searchable now (VictoriaMetrics' /internal/force_flush)."""
        httpx.get(f"{self.url}/internal/force_flush", timeout=5).raise_for_status()


def start_victoria(
    workdir: Path,
    *,
    port: int | None = None,
    storage: Path | None = None,
    retention: str = "30d",
    extra_args: list[str] | None = None,
) -> VictoriaInstance:
    """Start VictoriaMetrics with its data in `storage` (default: a new directory under `workdir`).

    `retention` is its `-retentionPeriod` (a number with h, d, w or y). Returns once /health answers.
    Restarting on the same `port` and `storage` brings the same data back (an outage and recovery).
    """
    binary = victoria_binary()
    if binary is None:
        raise FileNotFoundError("victoria-metrics is not installed (Debian package victoria-metrics)")
    port = port or free_port()
    if storage is None:
        storage = workdir / f"victoria-{port}-{time.monotonic_ns() % 1_000_000:06d}"
    storage.mkdir(parents=True, exist_ok=True)
    log_path = storage.parent / f"{storage.name}.log"
    extra = list(extra_args or [])
    args = [
        binary,
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={storage}",
        f"-retentionPeriod={retention}",
        "-search.latencyOffset=1s",
        "-loggerLevel=WARN",
        *extra,
    ]
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603 - fixed binary
    instance = VictoriaInstance("127.0.0.1", port, storage, retention, proc, log_path, extra)
    try:
        wait_healthy(instance.url, process=proc)
    except (TimeoutError, RuntimeError) as exc:
        instance.stop()
        raise RuntimeError(
            f"victoria-metrics did not start ({exc}): {log_path.read_text()[-2000:]}"
        ) from None
    return instance
