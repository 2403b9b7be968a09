"""Telemetry in an InfluxDB-protocol time-series server (VictoriaMetrics here; InfluxDB where it runs).

Writes go through the official influxdb-client (`write_api`, synchronous) as line-protocol text that this
module builds directly: building the client's `Point` objects costs several times more than the HTTP write
(docs/ARCHITECTURE.md, "Telemetry"). Reads use VictoriaMetrics' `/api/v1/export` (raw samples, no step
interpolation) with httpx, because VictoriaMetrics refuses Flux.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TypeVar, cast

import httpx
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision

from cloud.storage.telemetry import AnyTelemetryPoint, RoomTelemetryPoint, TelemetryPoint
from cloud.telemetry.lines import (
    BRACELET,
    ROOM,
    chunks,
    decode_bracelet,
    decode_room,
    encode_points,
    series_selector,
)
from qmon.clock import Clock, SystemClock

log = logging.getLogger(__name__)
_MS = cast(WritePrecision, WritePrecision.MS)  # a str constant, typed as the class by the client
FIRST_PAGE_MS = 3_600_000  # reads export an hour first, then four times more per page
P = TypeVar("P", TelemetryPoint, RoomTelemetryPoint)


class TelemetryWriteError(RuntimeError):
    """A batch (or part of it) was not stored; `dropped` says how many points were lost."""

    def __init__(self, message: str, dropped: int) -> None:
        super().__init__(message)
        self.dropped = dropped


class InfluxTelemetryStore:
    """Writes line protocol with influxdb-client; reads VictoriaMetrics' export API.

    `retention_days` mirrors the server's retention (VictoriaMetrics' `-retentionPeriod`, an InfluxDB
    bucket's retention): queries never reach further back than that, by the injected clock.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        org: str = "qmon",
        bucket: str = "qmon",
        retention_days: float | None = None,
        clock: Clock | None = None,
        timeout_s: float = 10.0,
        batch_lines: int = 2_000,
    ) -> None:
        self.url = url.rstrip("/")
        self._org = org
        self._bucket = bucket
        self._retention = timedelta(days=retention_days) if retention_days else None
        self._clock = clock or SystemClock()
        self._batch_lines = batch_lines
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._client = InfluxDBClient(
            url=self.url, token=token or "", org=org, timeout=int(timeout_s * 1000), retries=False
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        headers = {"Authorization": f"Token {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, headers=headers)

    def write(self, points: Sequence[AnyTelemetryPoint]) -> None:
        """Store the points in requests of at most `batch_lines` lines; raise TelemetryWriteError if not.

        Returns once every request was answered. A batch of several requests is pipelined: the next
        request's lines are encoded while the previous one is on the wire (the writer thread).
        """
        size = self._batch_lines
        if len(points) <= size:
            self.write_lines(encode_points(points))
            return
        pending: Future[None] | None = None
        written = 0
        try:
            for start in range(0, len(points), size):
                body = "\n".join(encode_points(points[start : start + size]))
                if pending is not None:
                    pending.result()
                    written = start
                pending = self._writer().submit(self._post, body)
            if pending is not None:
                pending.result()
        except Exception as exc:
            raise TelemetryWriteError(
                f"telemetry write to {self.url} failed: {exc}", len(points) - written
            ) from exc

    def write_lines(self, lines: Sequence[str]) -> None:
        """Store already-encoded line-protocol lines (millisecond timestamps), one request at a time."""
        written = 0
        for body in chunks(lines, self._batch_lines):
            try:
                self._post(body)
            except Exception as exc:
                dropped = len(lines) - written
                raise TelemetryWriteError(f"telemetry write to {self.url} failed: {exc}", dropped) from exc
            written += min(self._batch_lines, len(lines) - written)

    def _post(self, body: str) -> None:
        if body:
            self._write_api.write(bucket=self._bucket, org=self._org, record=body, write_precision=_MS)

    def _writer(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="qmon-telemetry-writer")
            return self._executor

    def query(
        self, device_id: str, since: datetime, until: datetime | None = None, limit: int = 1000
    ) -> list[TelemetryPoint]:
        """One bracelet's points in [since, until], oldest first."""
        selector = series_selector(BRACELET, {"device_id": device_id})
        return self._read(
            selector, since, until, limit, lambda lines, n: decode_bracelet(device_id, lines, n)
        )

    def query_room(
        self, site_id: str, room_id: str, since: datetime, until: datetime | None = None, limit: int = 1000
    ) -> list[RoomTelemetryPoint]:
        """One room's points in [since, until], oldest first."""
        selector = series_selector(ROOM, {"site_id": site_id, "room_id": room_id})
        return self._read(selector, since, until, limit, lambda lines, n: decode_room(room_id, lines, n))

    def _read(
        self,
        selector: str,
        since: datetime,
        until: datetime | None,
        limit: int,
        decode: Callable[[list[str], int], list[P]],
    ) -> list[P]:
        """Export [since, until] page by page (growing pages) until `limit` points are found.

        The export API has no limit: a chart's first 1,000 points of a month-long order would otherwise
        decode every sample of the month.
        """
        now = self._clock.now()
        start_s = since.timestamp()
        if self._retention is not None:
            start_s = max(start_s, now - self._retention.total_seconds())
        end_s = until.timestamp() if until is not None else now + 86_400  # readings stamped a bit ahead
        start, end = math.ceil(start_s * 1000), math.floor(end_s * 1000)
        found: list[P] = []
        span = FIRST_PAGE_MS
        while start <= end and len(found) < limit:
            stop = min(end, start + span)
            found.extend(decode(self._export(selector, start, stop), limit - len(found)))
            start, span = stop + 1, span * 4
        return found

    def _export(self, selector: str, start_ms: int, end_ms: int) -> list[str]:
        """The JSON lines of /api/v1/export for [start_ms, end_ms] (both included)."""
        params = {"match[]": selector, "start": f"{start_ms / 1000:.3f}", "end": f"{end_ms / 1000:.3f}"}
        response = self._http.get("/api/v1/export", params=params)
        response.raise_for_status()
        return response.text.splitlines()

    def close(self) -> None:
        """Stop the writer thread and close the HTTP connections."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        self._write_api.close()  # type: ignore[no-untyped-call]
        self._client.close()  # type: ignore[no-untyped-call]
        self._http.close()
