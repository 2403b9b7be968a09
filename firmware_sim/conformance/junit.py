"""Conformance results as JUnit XML (one testcase per check), through qmon's shared JUnit writer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from firmware_sim.conformance.results import CheckResult, Outcome
from qmon.junit import Case, Suite, write_junit

SUITE_NAME = "qmon bracelet conformance"


def to_suite(results: Sequence[CheckResult], name: str = SUITE_NAME) -> Suite:
    """One suite, one case per check (class `conformance.<group>`): a failed check has a <failure> with the
    reason, a skipped one <skipped>; what was measured goes to <system-out>."""
    cases = [
        Case(
            name=r.name,
            classname=f"conformance.{r.name.split('.', 1)[0]}",
            seconds=r.duration_s,
            failure=r.reason if r.outcome is Outcome.FAIL else None,
            skipped=r.reason if r.outcome is Outcome.SKIP else None,
            output=r.measured if r.outcome is not Outcome.PASS else f"{r.reason}\n{r.measured}".strip(),
        )
        for r in results
    ]
    return Suite(name, tuple(cases), sum(r.duration_s for r in results))


def write_results(path: Path, results: Sequence[CheckResult], name: str = SUITE_NAME) -> None:
    """Write the JUnit XML of `results` to `path`."""
    write_junit(path, [to_suite(results, name)])
