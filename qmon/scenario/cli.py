"""`qmon sim run SCENARIO...`: play scenario files through the whole chain; pass or fail per expectation.

Arguments are scenario files or folders of them (every *.yaml, *.yml and *.json inside); `--library` adds
the scenarios shipped with qmon. Exit status 0 only if every scenario passed; `--junit FILE` writes one
test suite per scenario, one test case per expectation (and per false alarm).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import click

from qmon.junit import Case, Suite, write_junit
from qmon.scenario.isolated import run_isolated
from qmon.scenario.model import Scenario, load_scenario
from qmon.scenario.runner import RunOptions, ScenarioResult, run_scenario

SUFFIXES = (".yaml", ".yml", ".json")
ResultCallback = Callable[[ScenarioResult], None]


def library_path() -> Path:
    """The folder of scenarios shipped with qmon."""
    return Path(str(resources.files("qmon.scenario") / "library"))


def scenario_files(paths: Sequence[Path]) -> list[Path]:
    """The files named, and the scenario files in the folders named, in a stable order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in SUFFIXES))
        else:
            files.append(path)
    return files


async def run_all(
    scenarios: Sequence[Scenario], options: RunOptions, jobs: int, on_result: ResultCallback | None = None
) -> list[ScenarioResult]:
    """Run the scenarios, each with its own broker, hub and edge agents; results in input order.

    One at a time, in this process; with `jobs` > 1, that many at a time, each in a process of its own. A
    run whose simulated time stalled (a loaded machine) is run once more, alone, after the others.
    """
    gate = asyncio.Semaphore(jobs)

    def retry(result: ScenarioResult) -> bool:
        return jobs > 1 and result.timing_unreliable(options.speed or result.scenario.speed)

    async def one(scenario: Scenario) -> ScenarioResult:
        async with gate:
            if jobs == 1:
                result = await run_scenario(scenario, options)
            else:
                result = await run_isolated(scenario, options)
        if on_result is not None and not retry(result):
            on_result(result)
        return result

    results = list(await asyncio.gather(*(one(s) for s in scenarios)))
    for index, result in enumerate(results):
        if retry(result):
            results[index] = await run_isolated(result.scenario, options)
            if on_result is not None:
                on_result(results[index])
    return results


def describe(result: ScenarioResult) -> list[str]:
    """The human report of one scenario: its verdict, then one line per expectation."""
    scenario = result.scenario
    head = "PASS" if result.passed else "FAIL"
    lines = [f"{head} {scenario.name} ({scenario.duration_s:g} simulated s in {result.wall_s:.1f} s)"]
    if result.error is not None:
        lines.append(f"  error: {result.error}")
    for verdict in result.verdicts:
        lines.append(f"  {'ok  ' if verdict.passed else 'FAIL'} {verdict.name}: {verdict.detail}")
    return lines


def to_suites(results: Sequence[ScenarioResult]) -> list[Suite]:
    """JUnit suites: one per scenario, a case per verdict (a run error is one errored case)."""
    suites = []
    for result in results:
        name = result.scenario.name
        cases: list[Case] = [
            Case(v.name, f"scenario.{name}", failure=None if v.passed else v.detail, output=v.detail)
            for v in result.verdicts
        ]
        if result.error is not None:
            cases.append(Case("run", f"scenario.{name}", result.wall_s, error=result.error))
        suites.append(Suite(name, cases, result.wall_s))
    return suites


def to_json(results: Sequence[ScenarioResult]) -> list[dict[str, object]]:
    """Machine-readable results."""
    return [
        {
            "scenario": r.scenario.name,
            "passed": r.passed,
            "error": r.error,
            "wall_s": round(r.wall_s, 1),
            "verdicts": [{"name": v.name, "passed": v.passed, "detail": v.detail} for v in r.verdicts],
        }
        for r in results
    ]


@click.command("run")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--library", is_flag=True, help="Also run the scenarios shipped with qmon.")
@click.option(
    "--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write a JUnit XML report here."
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON instead of text.")
@click.option(
    "--speed",
    type=click.FloatRange(0, 100, min_open=True),
    help="Override the scenarios' speed (sim s/real s).",
)
@click.option("--seed", type=int, help="Override the scenarios' seed.")
@click.option(
    "--mqtt-url", help="Use this anonymous broker (e.g. a local Mosquitto) instead of embedded ones."
)
@click.option("--jobs", type=click.IntRange(1, 16), default=1, show_default=True, help="Scenarios at a time.")
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep each scenario's hub database, edge outbox and state under this folder.",
)
def run_command(
    paths: tuple[Path, ...],
    library: bool,
    junit: Path | None,
    as_json: bool,
    speed: float | None,
    seed: int | None,
    mqtt_url: str | None,
    jobs: int,
    keep: Path | None,
) -> None:
    """Run scenario files through simulator, edge agent, broker and hub; pass or fail per expectation."""
    files = scenario_files([*paths, *([library_path()] if library else [])])
    if not files:
        raise click.UsageError("name scenario files or folders, or --library")
    try:
        scenarios = [load_scenario(path) for path in files]
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise click.UsageError("scenario names must be unique: " + ", ".join(sorted(names)))
    logging.getLogger("qmon.scenario").setLevel(logging.INFO)

    def on_result(result: ScenarioResult) -> None:
        if not as_json:
            click.echo("\n".join(describe(result)))

    options = RunOptions(speed=speed, seed=seed, mqtt_url=mqtt_url, workdir=keep)
    results = asyncio.run(run_all(scenarios, options, jobs, on_result))
    if junit is not None:
        write_junit(junit, to_suites(results))
    failed = [r.scenario.name for r in results if not r.passed]
    if as_json:
        click.echo(json.dumps(to_json(results), indent=1))
    else:
        click.echo(
            f"{len(results) - len(failed)} of {len(results)} scenarios passed"
            + (f"; failed: {', '.join(failed)}" if failed else "")
        )
    raise SystemExit(1 if failed else 0)
