"""`qmon bench ...`: benchmark commands that print JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group(name="bench")
def bench_command() -> None:
    """Benchmarks that print JSON (run them on an otherwise idle machine)."""


def _emit(result: dict[str, object], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result, sort_keys=False))
    else:
        for key, value in result.items():
            click.echo(f"{key:>28}: {value}")


@bench_command.command(name="ingest")
@click.option("--mqtt-url", default=None, help="Broker to use (default: a private Mosquitto on a free port).")
@click.option("--database-url", default=None, help="Hub database (default: an SQLite file in a temp dir).")
@click.option("--messages", default=50_000, show_default=True, help="Events to publish in each phase.")
@click.option("--devices", default=1_000, show_default=True, help="Bracelets with active orders.")
@click.option("--sites", default=10, show_default=True, help="Edge sites the bracelets are spread over.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for each phase.")
@click.option(
    "--protocol",
    type=click.Choice(["3.1.1", "5"]),
    default="5",
    show_default=True,
    help="MQTT version of both consumers (the hub uses 5 with Mosquitto).",
)
@click.option(
    "--repeat",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Runs of both phases, each on a fresh stream; rates and ratio are the runs' medians.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def ingest_command(
    mqtt_url: str | None,
    database_url: str | None,
    messages: int,
    devices: int,
    sites: int,
    timeout: float,
    protocol: str,
    repeat: int,
    as_json: bool,
) -> None:
    """Hub ingest rate beside a raw paho subscriber through the same Mosquitto."""
    from qmon.bench.ingest import run

    result = run(mqtt_url, database_url, messages, devices, sites, timeout, protocol, repeat)  # type: ignore[arg-type]
    _emit(result, as_json)


@bench_command.command(name="e2e")
@click.option("--bracelets", default=1_000, show_default=True, help="Simulated one-bracelet households.")
@click.option(
    "--duration",
    "duration_s",
    default=600.0,
    show_default=True,
    help="Seconds of the scripted population (>= 480).",
)
@click.option("--mqtt-url", default=None, help="Broker (e.g. Mosquitto); default: the embedded broker.")
@click.option("--seed", default=1, show_default=True, help="Seed of the population and the radio noise.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def e2e_command(bracelets: int, duration_s: float, mqtt_url: str | None, seed: int, as_json: bool) -> None:
    """Bracelets -> edge -> broker -> hub -> officer feed: accuracy, latency and edge CPU."""
    from qmon.bench.e2e import run

    _emit(run(bracelets, duration_s, mqtt_url, seed), as_json)


@bench_command.command(name="camera")
@click.option(
    "--scenes",
    "scenes_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Simulated rooms (YAML/JSON; default: firmware_sim's two-room facility).",
)
@click.option("--detector-frames", default=60, show_default=True, help="Frames timed through both detectors.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def camera_command(scenes_path: Path | None, detector_frames: int, as_json: bool) -> None:
    """Face detector vs OpenCV's FaceDetectorYN; room pipeline accuracy, events and cameras per core."""
    from qmon.bench.camera import run

    _emit(run(scenes_path, detector_frames), as_json)


@bench_command.command(name="sim")
@click.option("--bumble-bracelets", default=1_000, show_default=True, help="Bracelets on the bumble stack.")
@click.option(
    "--virtual-bracelets", default=10_000, show_default=True, help="Bracelets on the virtual radio."
)
@click.option(
    "--window", "window_s", default=30.0, show_default=True, help="Seconds measured, each simulator."
)
@click.option(
    "--warmup", "warmup_s", default=5.0, show_default=True, help="Seconds after start-up not measured."
)
@click.option("--seed", default=1, show_default=True, help="Seed of the bracelets' keys and the radio noise.")
@click.option(
    "--only",
    type=click.Choice(["bumble", "virtual"]),
    default=None,
    help="Run one simulator only (default: both); the targets then cover that one.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def sim_command(
    bumble_bracelets: int,
    virtual_bracelets: int,
    window_s: float,
    warmup_s: float,
    seed: int,
    only: str | None,
    as_json: bool,
) -> None:
    """CPU of the bumble (over HCI) and virtual-radio simulators, and the edge's HCI delivery ratio."""
    from qmon.bench.sim import run

    _emit(run(bumble_bracelets, virtual_bracelets, warmup_s, window_s, seed, only), as_json)


@bench_command.command(name="records")
@click.option(
    "--database-url",
    required=True,
    help="PostgreSQL URL whose database the benchmark creates, uses and drops (e.g. .../qmon_bench).",
)
@click.option("--doses", default=500_000, show_default=True, help="Doses uploaded through the bulk path.")
@click.option("--file-rows", default=50_000, show_default=True, help="Rows per uploaded dose file.")
@click.option("--certificates", default=2_000, show_default=True, help="Certificates issued and verified.")
@click.option("--checkins", default=1_000_000, show_default=True, help="Check-ins loaded for tracing.")
@click.option("--venues", default=2_000, show_default=True, help="Venues the check-ins are spread over.")
@click.option("--people", default=100_000, show_default=True, help="People who check in.")
@click.option("--days", default=14, show_default=True, help="Days the check-ins span (at most 14).")
@click.option(
    "--venue-skew",
    default=0.8,
    show_default=True,
    help="Venue popularity: weight 1/(rank+10)^skew (0: uniform; 0.8: the busiest ~1% of check-ins).",
)
@click.option("--traces", default=100, show_default=True, help="Cases traced (F1 and F2), each timed.")
@click.option("--api-requests", default=2_000, show_default=True, help="GET requests to the hub's API.")
@click.option("--api-concurrency", default=32, show_default=True, help="Concurrent HTTP clients.")
@click.option("--seed", default=1, show_default=True, help="Seed of the made-up records.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def records_command(
    database_url: str,
    doses: int,
    file_rows: int,
    certificates: int,
    checkins: int,
    venues: int,
    people: int,
    days: int,
    venue_skew: float,
    traces: int,
    api_requests: int,
    api_concurrency: int,
    seed: int,
    as_json: bool,
) -> None:
    """Bulk doses vs raw COPY, certificates, tracing over check-ins, API reads: PostgreSQL."""
    from qmon.bench.records import RecordsParams, run

    params = RecordsParams(
        doses=doses,
        file_rows=file_rows,
        certificates=certificates,
        checkins=checkins,
        venues=venues,
        people=people,
        days=days,
        venue_skew=venue_skew,
        traces=traces,
        api_requests=api_requests,
        api_concurrency=api_concurrency,
        seed=seed,
    )
    try:
        params.check()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    _emit(run(database_url, params), as_json)


@bench_command.command(name="console")
@click.option("--clients", default=200, show_default=True, help="Consoles following the live alert feed.")
@click.option("--alerts", default=20, show_default=True, help="Alerts raised (one bracelet each).")
@click.option("--interval", "interval_s", default=0.25, show_default=True, help="Seconds between alerts.")
@click.option("--points", default=200_000, show_default=True, help="Telemetry points written.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def console_command(clients: int, alerts: int, interval_s: float, points: int, as_json: bool) -> None:
    """Alert fan-out to many consoles over SSE, and telemetry into VictoriaMetrics vs raw line protocol."""
    from qmon.bench.console import run

    _emit(run(clients, alerts, interval_s, points), as_json)
