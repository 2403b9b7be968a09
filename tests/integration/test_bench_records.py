"""`qmon bench records` at a small scale against the local PostgreSQL: its JSON, that the work it measures
was really stored, and that its database is replaced at the start and dropped at the end, even on failure."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from qmon.bench import records
from qmon.bench.cli import bench_command
from qmon.bench.records import RecordsParams, admin_url, bench_records
from tests.support.services import PG_ADMIN_URL, postgres_available, require

SMALL = [
    "--doses", "5000", "--file-rows", "2000", "--certificates", "100", "--checkins", "20000",
    "--venues", "200", "--people", "2000", "--traces", "10", "--api-requests", "100",
    "--api-concurrency", "8",
]  # fmt: skip
TINY = RecordsParams(
    doses=300,
    file_rows=200,
    certificates=10,
    checkins=1000,
    venues=20,
    people=100,
    traces=2,
    api_requests=16,
    api_concurrency=4,
)


def database_exists(name: str) -> bool:
    """True if the server has a database of this name."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


@pytest.fixture
def bench_url() -> Iterator[tuple[str, str]]:
    """A unique database URL for the benchmark and its name; the database is dropped if it was left over."""
    require(postgres_available(), f"PostgreSQL at {PG_ADMIN_URL}")
    name = f"qmon_bench_test_{uuid.uuid4().hex[:12]}"
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}", name
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_records_benchmark_prints_its_figures_and_drops_its_database(bench_url: tuple[str, str]) -> None:
    url, name = bench_url
    result = CliRunner().invoke(bench_command, ["records", "--database-url", url, *SMALL, "--json"])
    assert result.exit_code == 0, result.output
    figures: dict[str, Any] = json.loads(result.output.strip().splitlines()[-1])

    for key in (
        "doses_bulk_per_s",
        "raw_copy_rows_per_s",
        "raw_copy_baseline",
        "ratio",
        "certificates_issued_per_s",
        "certificates_verified_per_s",
        "checkins",
        "tracing_ms_p50",
        "tracing_ms_p99",
        "api_read_ms_p50",
        "api_read_ms_p99",
        "api_concurrency",
        "api_requests",
        "targets",
        "targets_met",
        "parameters",
    ):
        assert key in figures, key
    # The work was stored: each count comes from SELECT count(*) during the run.
    assert figures["doses"] == figures["doses_in_table"] == figures["raw_copy_rows_in_table"] == 5000
    assert figures["dose_files"] == 3
    assert figures["checkins"] == figures["checkins_in_table"] == 20_000
    assert 0.4 < figures["checkins_checked_out_share"] < 0.8
    assert figures["certificates"] == 100
    assert figures["traces"] == 10
    assert figures["api_requests"] == 100 and figures["api_concurrency"] == 8
    assert figures["api_errors"] == 0
    assert figures["pending_orders_placed"] > 0
    for key in (
        "doses_bulk_per_s",
        "raw_copy_rows_per_s",
        "ratio",
        "certificates_issued_per_s",
        "certificates_signed_per_s",
        "certificates_verified_per_s",
        "tracing_ms_p50",
        "api_read_ms_p50",
    ):
        assert figures[key] > 0, key
    assert figures["tracing_ms_p50"] <= figures["tracing_ms_p99"]
    assert figures["api_read_ms_p50"] <= figures["api_read_ms_p99"]
    assert "LIKE vaccine_doses INCLUDING ALL" in figures["raw_copy_baseline"]
    assert set(figures["targets_met"]) == set(figures["targets"])
    assert all(isinstance(v, bool) for v in figures["targets_met"].values())
    assert figures["parameters"]["checkins"] == 20_000
    assert figures["machine"]["cpus"] >= 1
    assert not database_exists(name)


def test_a_leftover_database_is_replaced_first(bench_url: tuple[str, str]) -> None:
    url, name = bench_url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    # A stale schema that the migrations would trip over if the database were not recreated.
    with psycopg.connect(admin_url(url)[0].rsplit("/", 1)[0] + f"/{name}", autocommit=True) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('not-a-revision')")

    figures = bench_records(url, TINY)

    assert figures["doses_in_table"] == 300
    assert not database_exists(name)


def test_the_database_is_dropped_when_a_phase_fails(
    bench_url: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, name = bench_url

    def broken(*_args: Any) -> dict[str, Any]:
        assert database_exists(name)  # the run's database exists while it runs
        raise RuntimeError("phase failed")

    monkeypatch.setattr(records, "measure_certificates", broken)
    with pytest.raises(RuntimeError, match="phase failed"):
        bench_records(url, TINY)
    assert not database_exists(name)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///bench.db",
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        "postgresql+psycopg://postgres@127.0.0.1:5432/bad-name",
    ],
)
def test_only_a_throwaway_postgresql_database_is_accepted(url: str) -> None:
    with pytest.raises(ValueError):
        admin_url(url)
