"""Throughput of the bulk dose path against a plain COPY of the same rows (wired to `qmon bench records`).

The bulk path is measured end to end below HTTP: the file's bytes fed to the parser in 1 MiB pieces (the
route's streaming), every row checked and its identity number hashed, then the transaction that stores
them, committed. The baseline COPYs the very tuples the bulk path stored into a table like `vaccine_doses`
without its indexes (a plain table, dropped afterwards): what moving the bytes alone costs.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from cloud.access import Actor, Role
from cloud.dose_files import DoseFileFormat
from cloud.identity import IdentityHasher
from cloud.storage.bulk import _pg_copy
from cloud.storage.repository import Repository
from cloud.storage.schema import vaccine_doses
from cloud.storage.vaccination import DOSE_COLUMNS
from cloud.vaccination_service import VaccinationService
from qmon.clock import ManualClock

_PIECE = 1 << 20
_BENCH_KEY = SecretStr("qmon-dose-benchmark-identity-key-not-a-secret")  # made-up people only


def dose_file(rows: int, *, first_number: int = 100_000_000_000, day: datetime | None = None) -> bytes:
    """A CSV dose file of `rows` made-up first doses of Comirnaty (12-digit numbers from `first_number`)."""
    day = day or datetime(2026, 11, 21, tzinfo=UTC)
    lines = ["identity_number,product,lot,dose_number,series_doses,administered_at"]
    for i in range(rows):
        at = day + timedelta(seconds=7 * 3600 + (i * 37) % (10 * 3600))
        lines.append(f"{first_number + i:012d},EU/1/20/1528,FK{i % 97:04d},1,2,{at.isoformat()}")
    return ("\n".join(lines) + "\n").encode()


def measure_bulk_doses(repository: Repository, rows: int = 200_000) -> dict[str, Any]:
    """Upload `rows` doses through the bulk path, then COPY the same rows; rates in rows per second.

    `repository` must be a migrated PostgreSQL database that may be written to (a site is created).
    """
    if repository.dialect != "postgresql":
        raise ValueError("the bulk dose benchmark compares against COPY: it needs PostgreSQL")
    clock = ManualClock(datetime(2026, 11, 22, tzinfo=UTC).timestamp())
    service = VaccinationService(repository, clock, IdentityHasher(_BENCH_KEY), bulk_max_rows=max(rows, 1))
    actor = Actor("bench", Role.ADMIN, frozenset())
    site = service.create_site(actor, name="benchmark site", ward_id="bench", address=None, daily_capacity=1)
    # Fresh made-up numbers on each run, so that a reused database measures first uploads, not re-uploads.
    data = dose_file(rows, first_number=100_000_000_000 + random.randrange(800_000_000_000 - rows))

    begin = time.perf_counter()
    parser = service.start_upload(actor, site.id, DoseFileFormat.CSV)
    for start in range(0, len(data), _PIECE):
        parser.feed(data[start : start + _PIECE])
    parsed = parser.finish()
    report = service.commit_upload(actor, site.id, parsed)
    bulk_s = time.perf_counter() - begin
    if not report.accepted:
        raise RuntimeError(f"the benchmark file was refused: {report.errors[:3]}")

    now = datetime.now(UTC)
    same = [
        (h, p, lot, d, s, site.id, site.ward_id, at, actor.username, now)
        for h, p, lot, d, s, at in parsed.rows
    ]
    with repository.write() as conn:
        conn.exec_driver_sql("CREATE TABLE qmon_bench_raw_doses (LIKE vaccine_doses INCLUDING DEFAULTS)")
    try:
        begin = time.perf_counter()
        with repository.write() as conn:
            _pg_copy(conn, "qmon_bench_raw_doses", [(c, vaccine_doses.c[c]) for c in DOSE_COLUMNS], same)
        copy_s = time.perf_counter() - begin
    finally:
        with repository.write() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS qmon_bench_raw_doses")
    return {
        "rows": rows,
        "inserted": report.inserted,
        "doses_bulk_per_s": rows / bulk_s,
        "raw_copy_rows_per_s": rows / copy_s,
        "ratio": copy_s / bulk_s,
    }
