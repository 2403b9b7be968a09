"""One scenario in a process of its own (`qmon sim run --jobs N`): scenarios side by side must not share an
event loop, where one hub starting up would stall the others' simulated time.

The parent writes the scenario and the options as JSON to the child's stdin; the child plays it and prints
the result as one JSON line on stdout (its logs go to stderr).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from qmon.scenario.evaluate import SeenAlert, SeenEvent, Verdict
from qmon.scenario.model import Scenario
from qmon.scenario.runner import RunOptions, ScenarioResult, run_scenario


def result_to_json(result: ScenarioResult) -> dict[str, Any]:
    """Everything a result holds but the scenario (the parent has it)."""
    return {
        "verdicts": [asdict(v) for v in result.verdicts],
        "alerts": [asdict(a) for a in result.alerts],
        "events": [asdict(e) for e in result.events],
        "wall_s": result.wall_s,
        "worst_stall_s": result.worst_stall_s,
        "error": result.error,
    }


def result_from_json(scenario: Scenario, data: dict[str, Any]) -> ScenarioResult:
    """The result `result_to_json` wrote, for `scenario`."""
    return ScenarioResult(
        scenario,
        verdicts=[Verdict(**v) for v in data["verdicts"]],
        alerts=[SeenAlert(**a) for a in data["alerts"]],
        events=[SeenEvent(**e) for e in data["events"]],
        wall_s=data["wall_s"],
        worst_stall_s=data["worst_stall_s"],
        error=data["error"],
    )


def _options_to_json(options: RunOptions) -> dict[str, Any]:
    data = asdict(options)
    data["workdir"] = str(options.workdir) if options.workdir is not None else None
    return data


async def run_isolated(scenario: Scenario, options: RunOptions) -> ScenarioResult:
    """Play `scenario` in a child process; a child that dies is a result with an error."""
    request = json.dumps({"scenario": scenario.model_dump(mode="json"), "options": _options_to_json(options)})
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "qmon.scenario.isolated",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        out, _ = await child.communicate(request.encode())
    except asyncio.CancelledError:
        if child.returncode is None:
            child.kill()
            await child.wait()
        raise
    lines = out.decode(errors="replace").strip().splitlines()
    if child.returncode != 0 or not lines:
        return ScenarioResult(scenario, error=f"the scenario's process exited with status {child.returncode}")
    return result_from_json(scenario, json.loads(lines[-1]))


def main() -> None:
    """The child's side: read the request, play, print the result."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    request = json.loads(sys.stdin.read())
    scenario = Scenario.model_validate(request["scenario"])
    raw = request["options"]
    options = RunOptions(**{**raw, "workdir": Path(raw["workdir"]) if raw["workdir"] else None})
    result = asyncio.run(run_scenario(scenario, options))
    print(json.dumps(result_to_json(result)), flush=True)


if __name__ == "__main__":
    main()
