"""`qmon bench records`: the public-health records at national scale, on PostgreSQL (issue 5's benchmark).

One run, one process (plus an HTTP load client in a child process), on a fresh database named by
--database-url (dropped first if it exists, always dropped at the end), migrated with the hub's migrations:

1. Bulk doses: dose files (CSV, `--file-rows` rows each, one site of its own ward per file) go through the
   code of `POST /vaccination/sites/{id}/doses/bulk` below HTTP: `VaccinationService.start_upload`, the
   body fed to the parser in 1 MiB pieces (parse, check every row, hash each identity number), then
   `commit_upload` (one transaction, COPY into `vaccine_doses`), committed. Making the file's bytes is the
   uploader's work and is not timed. `doses_bulk_per_s` is doses over the summed upload times, and the
   table is counted afterwards (`doses_in_table`).
2. Raw COPY baseline, paired file by file with the uploads: the very rows each upload stored, pre-encoded
   as COPY text before the clock starts and written with psycopg's `copy.write` into
   `qmon_bench_raw_doses`, created `LIKE vaccine_doses INCLUDING ALL` plus the same foreign key to
   `vaccination_sites` (LIKE copies no foreign keys): the same primary key, unique constraint, index, check
   constraints and defaults. The baseline thus pays the same index maintenance and constraint checks, so
   `ratio` measures the bulk path's own overhead (parsing, checking, hashing, driver encoding), not the
   indexes. Rows go in the order the bulk path writes them (sorted by identity hash), one transaction per
   file. `raw_copy_baseline` says this in the JSON.
3. Certificates (one thread): `CertificateService.issue_for` for registered people among the vaccinated
   (their dose records read, the EU DCC built and signed with a freshly generated ECDSA P-256 key under a
   self-signed DSC), `CertificateService.verify` of every text issued (what `POST /certificates/verify`
   runs), and `Signer.issue` alone for the signing core.
4. Check-ins: `--checkins` rows COPYed into `checkins` (its indexes in place) over `--venues` venues in
   50 wards and `--people` people, over the last `--days` days, mostly in the daytime (UTC+7), popular
   venues more visited (`--venue-skew`: by default the busiest of 2,000 venues gets about 1% of the
   check-ins); 60% of stays checked out (present_until = check-out, at most 12 h), the rest open
   (present_until = check-in + the 1 h default dwell), as cloud/venues.py stores them; then VACUUM
   (ANALYZE), as autovacuum would in service.
5. Tracing: `--traces` people who have check-ins become cases through the lab service (a PCR sample
   collected 12 h to 3 days ago, a positive result), and each case is traced with F1 and F2 by
   `TracingService.trace` (the code of `POST /cases/{id}/contacts`), timed per call. The first 20 cases'
   F1 contacts then get pending orders (`place_orders`), so the orders listing has rows.
6. API reads: the hub (`HubServer`, 127.0.0.1, a free port, no MQTT ingest) on the same database; an admin
   account created for the run; `--api-requests` GETs over venues, cases, doses and orders listings fired
   by `--api-concurrency` httpx clients in a child process (so that the load generator does not share the
   hub's interpreter), after a warm-up of one request per client. Latency per request, p50 and p99.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import re
import secrets
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from cloud.access import Actor, Role
from cloud.app import HubServer, tune_collector
from cloud.auth import Passwords, create_officer
from cloud.certificate_service import CertificateService
from cloud.certificates import Signer
from cloud.certificates.keys import self_signed_certificate
from cloud.dose_files import DoseFileFormat, DoseRow
from cloud.identity import IdentityHasher
from cloud.labs import LabService, NewSample, SampleKind, SampleResult
from cloud.settings import CertificateSettings, HubSettings
from cloud.storage.migrate import upgrade
from cloud.storage.repository import Repository
from cloud.storage.schema import citizens
from cloud.storage.schema import venues as venues_table
from cloud.tracing import Level, TracingService
from cloud.vaccination_service import VaccinationService
from cloud.venues import DEFAULT_DWELL, checked_out_until
from qmon.clock import SystemClock

TARGETS = {
    "doses_bulk_per_s": 20_000,
    "ratio": 0.3,
    "certificates_verified_per_s": 2_000,
    "tracing_ms_p99": 200,
}
RAW_COPY_BASELINE = (
    "pre-encoded COPY text written with psycopg into a table LIKE vaccine_doses INCLUDING ALL plus its "
    "foreign key (same indexes and constraints), same rows in the same order, one transaction per file"
)
PIECE = 1 << 20  # the route parses the body in pieces of this size
WARDS = [f"ward-{n:03d}" for n in range(1, 51)]
LOCAL = timezone(timedelta(hours=7))
PRODUCTS = [("EU/1/20/1528", 45), ("EU/1/21/1529", 25), ("EU/1/20/1507", 15), ("BBIBP-CorV", 15)]
# A case's sample was collected this long before its positive result (a PCR turnaround), in seconds; the
# default window then starts two days before the collection.
SAMPLE_AGE_S = (12 * 3600, 3 * 86_400)
ORDERED_CASES = 20  # cases whose F1 contacts get pending orders (so GET /orders lists real rows)
_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_BENCH_USER = "bench-admin"
MAX_FILE_ROWS = HubSettings.model_fields["vaccination_bulk_max_rows"].default  # what a hub takes by default


@dataclass(frozen=True, slots=True)
class RecordsParams:
    """What one run does (the CLI's options)."""

    doses: int = 500_000
    file_rows: int = 50_000
    certificates: int = 2_000
    checkins: int = 1_000_000
    venues: int = 2_000
    people: int = 100_000
    days: int = 14
    venue_skew: float = 0.8
    traces: int = 100
    api_requests: int = 2_000
    api_concurrency: int = 32
    seed: int = 1

    def check(self) -> None:
        """ValueError for parameters the run cannot honour."""
        if min(self.doses, self.file_rows, self.checkins, self.venues, self.people, self.days) < 1:
            raise ValueError("doses, file rows, check-ins, venues, people and days must be at least 1")
        if min(self.traces, self.api_requests, self.api_concurrency, self.certificates) < 1:
            raise ValueError("traces, API requests, API concurrency and certificates must be at least 1")
        if self.file_rows > MAX_FILE_ROWS:
            raise ValueError(f"the hub takes at most {MAX_FILE_ROWS} rows per file by default: --file-rows")
        if self.certificates > self.doses:
            raise ValueError("certificates are issued to vaccinated people: at most --doses of them")
        if self.traces > self.people:
            raise ValueError("at most one case per person: --traces must not exceed --people")
        if self.days > 14:
            raise ValueError("lab samples are at most 14 days old: --days at most 14")
        if not 0 <= self.venue_skew <= 3:
            raise ValueError("--venue-skew must be between 0 (uniform) and 3")


# --- the database ---


def admin_url(database_url: str) -> tuple[str, str]:
    """(libpq URL of the server's `postgres` database, the benchmark database's name) for a SQLAlchemy URL."""
    url = sa.make_url(database_url)
    if url.get_backend_name() != "postgresql" or url.get_driver_name() != "psycopg":
        raise ValueError("qmon bench records needs PostgreSQL through psycopg: postgresql+psycopg://...")
    name = url.database or ""
    if not _DB_NAME.match(name) or name in ("postgres", "template0", "template1"):
        raise ValueError(f"refusing database name {name!r}: give a throwaway name such as qmon_bench")
    server = url.set(drivername="postgresql", database="postgres")
    return server.render_as_string(hide_password=False), name


@contextlib.contextmanager
def fresh_database(database_url: str) -> Iterator[str]:
    """Drop the named database if it exists, create it, yield the URL; always drop it afterwards."""
    server, name = admin_url(database_url)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count_rows(repo: Repository, table: str) -> int:
    """SELECT count(*) of a table."""
    with repo.read() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


def psycopg_cursor(conn: sa.Connection) -> psycopg.Cursor[Any]:
    """The psycopg cursor under a SQLAlchemy connection (for COPY, which SQLAlchemy does not wrap)."""
    dbapi = conn.connection.dbapi_connection
    if not isinstance(dbapi, psycopg.Connection):
        raise TypeError("COPY needs the psycopg driver (postgresql+psycopg://...)")
    return dbapi.cursor()


def copy_rows(repo: Repository, statement: str, rows: Sequence[Sequence[Any]], types: Sequence[str]) -> None:
    """Binary COPY of rows (psycopg), committed (loading fixtures, not timed)."""
    with repo.write() as conn, psycopg_cursor(conn) as cursor, cursor.copy(statement) as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile q (0-100) of the values."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


# --- 1 and 2: bulk doses against a raw COPY ---


def dose_files(
    rng: random.Random, doses: int, file_rows: int, now: datetime
) -> tuple[list[str], list[bytes]]:
    """Made-up identity numbers (one dose each) and the CSV files holding their doses (mixed products, dose
    numbers 1-3, given during the last local day)."""
    numbers = [f"{n:012d}" for n in rng.sample(range(100_000_000_000, 999_999_999_999), doses)]
    names = [p for p, _ in PRODUCTS]
    weights = [w for _, w in PRODUCTS]
    products = rng.choices(names, weights, k=doses)
    times = [(now - timedelta(seconds=s)).astimezone(LOCAL).isoformat() for s in range(600, 86_400, 7)]
    files: list[bytes] = []
    for start in range(0, doses, file_rows):
        lines = ["identity_number,product,lot,dose_number,series_doses,administered_at"]
        for i in range(start, min(start + file_rows, doses)):
            dose = 1 + (i % 7 == 0) + (i % 23 == 0)
            series = "" if i % 3 else "2"
            lines.append(f"{numbers[i]},{products[i]},L{i % 211:04d}A,{dose},{series},{rng.choice(times)}")
        files.append(("\n".join(lines) + "\n").encode())
    return numbers, files


def raw_copy_text(rows: Sequence[DoseRow], site_id: int, ward: str, by: str, recorded_at: datetime) -> bytes:
    """The rows an upload stored, as COPY text in the bulk path's order (by identity hash)."""
    recorded = recorded_at.isoformat()
    lines = [
        f"{h}\t{p}\t{lot}\t{d}\t{s}\t{site_id}\t{ward}\t{at.isoformat()}\t{by}\t{recorded}\n"
        for h, p, lot, d, s, at in sorted(rows, key=lambda r: r[0])
    ]
    return "".join(lines).encode()


def create_raw_table(repo: Repository) -> None:
    """`qmon_bench_raw_doses`: vaccine_doses' columns, defaults, indexes, constraints and foreign key."""
    with repo.write() as conn:
        conn.exec_driver_sql("CREATE TABLE qmon_bench_raw_doses (LIKE vaccine_doses INCLUDING ALL)")
        conn.exec_driver_sql(
            "ALTER TABLE qmon_bench_raw_doses ADD FOREIGN KEY (site_id) REFERENCES vaccination_sites (id)"
        )


def copy_raw(repo: Repository, data: bytes) -> float:
    """COPY pre-encoded text into the raw table in one transaction, committed; the seconds it took."""
    columns = (
        "identity_hash, product, lot, dose_number, series_doses, site_id, ward_id, administered_at, "
        "recorded_by, recorded_at"
    )
    view = memoryview(data)
    begin = time.perf_counter()
    with (
        repo.write() as conn,
        psycopg_cursor(conn) as cursor,
        cursor.copy(f"COPY qmon_bench_raw_doses ({columns}) FROM STDIN") as copy,
    ):
        for start in range(0, len(data), PIECE):
            copy.write(view[start : start + PIECE])
    return time.perf_counter() - begin


def measure_doses(
    repo: Repository, hasher: IdentityHasher, actor: Actor, params: RecordsParams, rng: random.Random
) -> tuple[dict[str, Any], list[str]]:
    """Upload the dose files through the bulk path, each paired with a raw COPY of the same rows."""
    clock = SystemClock()
    service = VaccinationService(repo, clock, hasher, bulk_max_rows=params.file_rows)
    numbers, files = dose_files(rng, params.doses, params.file_rows, datetime.now(UTC))
    create_raw_table(repo)
    bulk_s = raw_s = 0.0
    inserted = 0
    for index, data in enumerate(files):
        ward = WARDS[index % len(WARDS)]
        site = service.create_site(
            actor, name=f"Bench site {index + 1}", ward_id=ward, address=None, daily_capacity=100_000
        )
        begin = time.perf_counter()
        parser = service.start_upload(actor, site.id, DoseFileFormat.CSV)
        view = memoryview(data)
        for start in range(0, len(data), PIECE):
            parser.feed(bytes(view[start : start + PIECE]))
        parsed = parser.finish()
        report = service.commit_upload(actor, site.id, parsed)
        bulk_s += time.perf_counter() - begin
        if not report.accepted or report.inserted != report.rows:
            raise RuntimeError(f"upload {index + 1} was not stored in full: {report.errors[:3]}")
        inserted += report.inserted
        raw = raw_copy_text(parsed.rows, site.id, site.ward_id, actor.username, datetime.now(UTC))
        raw_s += copy_raw(repo, raw)
    in_table = count_rows(repo, "vaccine_doses")
    raw_in_table = count_rows(repo, "qmon_bench_raw_doses")
    if in_table != params.doses or raw_in_table != params.doses or inserted != params.doses:
        raise RuntimeError(f"expected {params.doses} doses, found {in_table} (raw copy: {raw_in_table})")
    with repo.write() as conn:
        conn.exec_driver_sql("DROP TABLE qmon_bench_raw_doses")
    bulk_rate = params.doses / bulk_s
    raw_rate = params.doses / raw_s
    result = {
        "doses": params.doses,
        "dose_files": len(files),
        "dose_file_rows": params.file_rows,
        "doses_in_table": in_table,
        "doses_bulk_per_s": round(bulk_rate),
        "raw_copy_rows_per_s": round(raw_rate),
        "raw_copy_rows_in_table": raw_in_table,
        "raw_copy_baseline": RAW_COPY_BASELINE,
        "ratio": round(bulk_rate / raw_rate, 3),
    }
    return result, numbers


# --- 3: certificates ---


def register_people(repo: Repository, hasher: IdentityHasher, numbers: Sequence[str]) -> None:
    """Citizen records for these identity numbers (certificates carry a name and birth date)."""
    now = datetime.now(UTC)
    rows = [
        {
            "handle": f"c-{i:08d}",
            "identity_hash": hasher.hash(number),
            "password_hash": "!bench: no sign-in",
            "full_name": "Nguyễn Văn An",
            "birth_date": date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
            "phone": None,
            "ward_id": WARDS[i % len(WARDS)],
            "address": f"{i} Bench Street",
            "created_at": now,
        }
        for i, number in enumerate(numbers)
    ]
    with repo.write() as conn:
        conn.execute(citizens.insert(), rows)


def signing_material() -> Signer:
    """A new ECDSA P-256 document signer under a self-signed DSC, valid from yesterday for two years."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    certificate = self_signed_certificate(
        key,
        country="VN",
        common_name="qmon benchmark DSC",
        valid_from=now - timedelta(days=1),
        valid_until=now + timedelta(days=730),
    )
    return Signer(key, certificate, issuer="VN")


def measure_certificates(
    repo: Repository, hasher: IdentityHasher, actor: Actor, numbers: Sequence[str]
) -> dict[str, Any]:
    """Issue through the certificate service (records read, signed), verify each, and time signing alone."""
    register_people(repo, hasher, numbers)
    signer = signing_material()
    clock = SystemClock()
    settings = CertificateSettings.model_validate({})
    service = CertificateService(repo, clock, hasher, settings, signer=signer)

    begin = time.perf_counter()
    issued = [service.issue_for(actor, number) for number in numbers]
    issue_s = time.perf_counter() - begin

    begin = time.perf_counter()
    results = [service.verify(certificate.text) for certificate in issued]
    verify_s = time.perf_counter() - begin
    refused = [r.reason for r in results if not r.valid]
    if refused:
        raise RuntimeError(f"{len(refused)} issued certificates failed verification: {refused[:3]}")

    now = int(clock.now())
    begin = time.perf_counter()
    for certificate in issued:
        signer.issue(certificate.certificate, issued_at=now, expires_at=now + 365 * 86_400)
    sign_s = time.perf_counter() - begin
    count = len(numbers)
    return {
        "certificates": count,
        "certificate_qr_chars": len(issued[0].text),
        "certificates_issued_per_s": round(count / issue_s),
        "certificates_signed_per_s": round(count / sign_s),
        "certificates_verified_per_s": round(count / verify_s),
    }


# --- 4 and 5: check-ins and tracing ---


def load_checkins(
    repo: Repository, hasher: IdentityHasher, params: RecordsParams, rng: random.Random, now: datetime
) -> tuple[dict[str, Any], list[str]]:
    """Venues and people, then the check-ins by COPY; the identity numbers of people who checked in."""
    with repo.write() as conn:
        rows = conn.execute(
            venues_table.insert().returning(venues_table.c.id),
            [
                {
                    "kind": "venue",
                    "name": f"Bench venue {i + 1}",
                    "ward_id": WARDS[i % len(WARDS)],
                    "address": f"{i + 1} Bench Road",
                    "created_by": _BENCH_USER,
                    "created_at": now,
                }
                for i in range(params.venues)
            ],
        )
        venue_ids = [int(r[0]) for r in rows]
    numbers = [f"{700_000_000_000 + i:012d}" for i in range(params.people)]
    hashes = [hasher.hash_normalized(n) for n in numbers]
    # Popular venues get more visits: weight 1/(rank + 10)^skew (at 0.8 the busiest of 2,000 venues gets about
    # 1% of all check-ins, 70 times the quietest; 0 is uniform).
    cum: list[float] = []
    total = 0.0
    for rank in range(len(venue_ids)):
        total += (rank + 10) ** -params.venue_skew
        cum.append(total)
    chosen_venues = rng.choices(venue_ids, cum_weights=cum, k=params.checkins)
    span = params.days * 86_400
    end = now.timestamp()
    seen: set[int] = set()
    checkins: list[tuple[int, str, datetime, datetime | None, datetime]] = []
    for venue_id in chosen_venues:
        while True:  # mostly daytime, local time (UTC+7): a night-time draw is kept one time in ten
            at = end - rng.random() * span
            hour = (at / 3600 + 7) % 24
            if 7 <= hour < 22 or rng.random() < 0.1:
                break
        person = rng.randrange(params.people)
        seen.add(person)
        checked_in = datetime.fromtimestamp(at, UTC).replace(microsecond=0)
        out: datetime | None = None
        if rng.random() < 0.6:
            stay = timedelta(minutes=min(rng.lognormvariate(3.6, 0.7), 16 * 60))  # median ~37 min
            if checked_in + stay < now:
                out = checked_in + stay
        until = checked_out_until(checked_in, out) if out is not None else checked_in + DEFAULT_DWELL
        checkins.append((venue_id, hashes[person], checked_in, out, until))
    begin = time.perf_counter()
    copy_rows(
        repo,
        "COPY checkins (venue_id, identity_hash, checked_in_at, checked_out_at, present_until) "
        "FROM STDIN (FORMAT BINARY)",
        checkins,
        ["int4", "text", "timestamptz", "timestamptz", "timestamptz"],
    )
    load_s = time.perf_counter() - begin
    # What autovacuum does to a table in service (it is off on some servers, and a fresh load has no
    # visibility map yet): without it the covering index's index-only scans read every row from the heap.
    with repo.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE) checkins")
    in_table = count_rows(repo, "checkins")
    if in_table != params.checkins:
        raise RuntimeError(f"expected {params.checkins} check-ins, found {in_table}")
    closed = sum(1 for c in checkins if c[3] is not None)
    result = {
        "checkins": params.checkins,
        "checkins_in_table": in_table,
        "checkins_checked_out_share": round(closed / params.checkins, 3),
        "checkins_copy_rows_per_s": round(params.checkins / load_s),
        "venues": params.venues,
        "people": params.people,
        "days": params.days,
    }
    return result, [numbers[p] for p in sorted(seen)]


def measure_tracing(
    repo: Repository,
    hasher: IdentityHasher,
    actor: Actor,
    people: Sequence[str],
    params: RecordsParams,
    rng: random.Random,
) -> dict[str, Any]:
    """Cases through the lab service for random people who checked in, then F1+F2 traced per case."""
    clock = SystemClock()
    labs = LabService(repo, clock, hasher)
    tracing = TracingService(repo, clock)
    now = datetime.now(UTC)
    case_ids: list[int] = []
    for number in rng.sample(list(people), params.traces):
        sample = labs.register(
            actor,
            NewSample(
                SampleKind.PCR,
                rng.choice(WARDS),
                now - timedelta(seconds=rng.uniform(SAMPLE_AGE_S[0], SAMPLE_AGE_S[1])),
                identity_number=number,
            ),
        )
        outcome = labs.enter_result(actor, sample.id, SampleResult.POSITIVE)
        assert outcome.case is not None
        case_ids.append(outcome.case.id)
    timings: list[float] = []
    f1: list[int] = []
    f2: list[int] = []
    restore_collector = tune_collector()  # the garbage collector as the hub's lifespan sets it up
    try:
        for case_id in case_ids:
            begin = time.perf_counter()
            trace = tracing.trace(actor, case_id)
            timings.append((time.perf_counter() - begin) * 1000)
            f1.append(sum(1 for c in trace.contacts if c.level is Level.F1))
            f2.append(sum(1 for c in trace.contacts if c.level is Level.F2))
    finally:
        restore_collector()
    orders = 0
    for case_id in case_ids[:ORDERED_CASES]:
        _, placed = tracing.place_orders(actor, case_id, levels=(Level.F1,))
        orders += sum(1 for p in placed if p.placed.created)
    return {
        "traces": len(timings),
        "tracing_ms_p50": round(percentile(timings, 50), 1),
        "tracing_ms_p99": round(percentile(timings, 99), 1),
        "tracing_ms_max": round(max(timings), 1),
        "tracing_f1_median": statistics.median(f1),
        "tracing_f2_median": statistics.median(f2),
        "tracing_contacts_max": max(a + b for a, b in zip(f1, f2, strict=True)),
        "pending_orders_placed": orders,
    }


# --- 6: API reads under concurrency ---


def read_requests(rng: random.Random, count: int, venues: int) -> list[tuple[str, str]]:
    """(route, path) pairs: listings of venues, cases, doses and orders, admin-wide or one ward's."""
    routes: list[tuple[str, Any]] = [
        ("GET /venues", lambda: f"/api/v1/venues?limit=50&offset={rng.randrange(max(1, venues - 50))}"),
        ("GET /venues?ward", lambda: f"/api/v1/venues?ward={rng.choice(WARDS)}&limit=50"),
        ("GET /cases", lambda: "/api/v1/cases?limit=50"),
        ("GET /cases?ward", lambda: f"/api/v1/cases?ward={rng.choice(WARDS)}&limit=50"),
        ("GET /vaccination/doses", lambda: "/api/v1/vaccination/doses?limit=100"),
        (
            "GET /vaccination/doses?ward",
            lambda: f"/api/v1/vaccination/doses?ward={rng.choice(WARDS)}&limit=100",
        ),
        ("GET /orders", lambda: "/api/v1/orders?limit=50"),
        ("GET /orders?ward", lambda: f"/api/v1/orders?ward={rng.choice(WARDS)}&limit=50"),
    ]
    return [(name, make()) for name, make in (routes[i % len(routes)] for i in range(count))]


async def fire(
    url: str, token: str, requests: Sequence[tuple[str, str]], concurrency: int
) -> tuple[list[tuple[str, float, int]], float]:
    """GET every path with `concurrency` clients (one connection each); (route, ms, status) and seconds."""
    queue = iter(requests)
    results: list[tuple[str, float, int]] = []
    headers = {"Authorization": f"Bearer {token}"}

    async def worker() -> None:
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as client:
            await client.get("/api/v1/vaccination/products")  # warm-up: connect (not counted)
            await barrier.wait()
            for name, path in queue:
                begin = time.perf_counter()
                response = await client.get(path)
                results.append((name, (time.perf_counter() - begin) * 1000, response.status_code))

    barrier = asyncio.Barrier(concurrency)
    begin = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results, time.perf_counter() - begin


def load_client_main() -> None:
    """Child process: read {url, token, requests, concurrency} as JSON on stdin, print the results as JSON."""
    spec = json.loads(sys.stdin.read())
    requests = [(name, path) for name, path in spec["requests"]]
    results, elapsed = asyncio.run(fire(spec["url"], spec["token"], requests, spec["concurrency"]))
    print(json.dumps({"results": results, "elapsed_s": elapsed}))


async def measure_api(
    database_url: str, identity_key: SecretStr, params: RecordsParams, rng: random.Random
) -> dict[str, Any]:
    """Serve the hub on the database and read it with concurrent clients from a child process."""
    password = secrets.token_urlsafe(24)
    repo = Repository.from_url(database_url)
    try:
        create_officer(
            repo,
            Passwords(),
            SystemClock(),
            username=_BENCH_USER,
            password=password,
            role=Role.ADMIN,
            wards=[],
        )
    finally:
        repo.close()
    settings = HubSettings.model_validate(
        {
            "database_url": database_url,
            "http_port": 0,
            "jwt_secret": secrets.token_urlsafe(48),
            "identity_hash_key": identity_key.get_secret_value(),
        }
    )
    requests = read_requests(rng, params.api_requests, params.venues)
    async with HubServer(settings, start_ingest=False) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.post(
                "/api/v1/auth/token", data={"username": _BENCH_USER, "password": password}
            )
            response.raise_for_status()
            token = response.json()["access_token"]
        spec = {
            "url": server.url,
            "token": token,
            "requests": requests,
            "concurrency": params.api_concurrency,
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "qmon.bench.records",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate(json.dumps(spec).encode())
    if proc.returncode != 0:
        raise RuntimeError(f"the load client failed with exit code {proc.returncode}")
    answer = json.loads(out.decode().strip().splitlines()[-1])
    results = [(str(name), float(ms), int(code)) for name, ms, code in answer["results"]]
    if len(results) != params.api_requests:
        raise RuntimeError(f"the load client made {len(results)} of {params.api_requests} requests")
    errors = sum(1 for _, _, code in results if code != 200)
    latencies = [ms for _, ms, _ in results]
    by_route: dict[str, list[float]] = {}
    for name, ms, _ in results:
        by_route.setdefault(name, []).append(ms)
    return {
        "api_requests": len(results),
        "api_concurrency": params.api_concurrency,
        "api_errors": errors,
        "api_requests_per_s": round(len(results) / answer["elapsed_s"]),
        "api_read_ms_p50": round(percentile(latencies, 50), 1),
        "api_read_ms_p99": round(percentile(latencies, 99), 1),
        "api_routes_ms_p50_p99": {
            name: [round(percentile(v, 50), 1), round(percentile(v, 99), 1)] for name, v in by_route.items()
        },
    }


# --- the run ---


def bench_records(database_url: str, params: RecordsParams) -> dict[str, Any]:
    """Run every phase on a fresh database named by the URL (dropped afterwards); the JSON-ready result."""
    params.check()
    rng = random.Random(params.seed)
    identity_key = SecretStr(secrets.token_urlsafe(48))
    hasher = IdentityHasher(identity_key)
    actor = Actor(_BENCH_USER, Role.ADMIN, frozenset())
    started = time.perf_counter()
    result: dict[str, Any] = {
        "database": "postgresql",
        "parameters": asdict(params),
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()[0]},
    }
    with fresh_database(database_url):
        upgrade(database_url)
        repo = Repository.from_url(database_url)
        try:
            doses, vaccinated = measure_doses(repo, hasher, actor, params, rng)
            result.update(doses)
            result.update(measure_certificates(repo, hasher, actor, vaccinated[: params.certificates]))
            loaded, people = load_checkins(repo, hasher, params, rng, datetime.now(UTC))
            result.update(loaded)
            result.update(measure_tracing(repo, hasher, actor, people, params, rng))
        finally:
            repo.close()
        result.update(asyncio.run(measure_api(database_url, identity_key, params, rng)))
    result["targets"] = dict(TARGETS)
    result["targets_met"] = {
        "doses_bulk_per_s": result["doses_bulk_per_s"] >= TARGETS["doses_bulk_per_s"],
        "ratio": result["ratio"] >= TARGETS["ratio"],
        "certificates_verified_per_s": result["certificates_verified_per_s"]
        >= TARGETS["certificates_verified_per_s"],
        "tracing_ms_p99": result["tracing_ms_p99"] <= TARGETS["tracing_ms_p99"],
    }
    result["machine"]["load_average_at_end"] = os.getloadavg()[0]
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    return result


def run(database_url: str, params: RecordsParams) -> dict[str, Any]:
    """Synchronous entry point for the CLI (Ctrl-C exits 130; the database is dropped either way)."""
    with contextlib.suppress(KeyboardInterrupt):
        return bench_records(database_url, params)
    raise SystemExit(130)


if __name__ == "__main__":
    load_client_main()
