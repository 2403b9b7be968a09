"""The outcome of a conformance check, and what a run of them adds up to (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """How a check ended: it ran and passed or failed, or it could not run (skipped, never a pass)."""

    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check: its name (`advert.rate`), outcome, a reason a tester can act on, and what was measured."""

    name: str
    outcome: Outcome
    reason: str
    measured: str = ""
    duration_s: float = 0.0

    @property
    def ran(self) -> bool:
        """Whether the check ran (passed or failed)."""
        return self.outcome is not Outcome.SKIP

    def to_json(self) -> dict[str, Any]:
        """The result as plain JSON data."""
        return {
            "name": self.name,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "measured": self.measured,
            "duration_s": round(self.duration_s, 3),
        }


def passed(name: str, reason: str, measured: str = "") -> CheckResult:
    """A check that ran and passed."""
    return CheckResult(name, Outcome.PASS, reason, measured)


def failed(name: str, reason: str, measured: str = "") -> CheckResult:
    """A check that ran and failed."""
    return CheckResult(name, Outcome.FAIL, reason, measured)


def skipped(name: str, reason: str) -> CheckResult:
    """A check that could not run (no console, no key, nothing to check against)."""
    return CheckResult(name, Outcome.SKIP, reason)


def all_passed(results: Iterable[CheckResult]) -> bool:
    """True if no check failed (skipped checks do not count either way); the run's exit status is 0 then."""
    return all(r.outcome is not Outcome.FAIL for r in results)


def count_outcomes(results: Sequence[CheckResult]) -> dict[str, int]:
    """How many checks passed, failed and were skipped."""
    return {o.value: sum(1 for r in results if r.outcome is o) for o in Outcome}


def format_line(result: CheckResult) -> str:
    """One human-readable line: `PASS advert.rate  median 1003 ms ...  [measured]`."""
    text = f"{result.outcome.value.upper():4} {result.name:<26} {result.reason}"
    if result.measured:
        text += f"  [{result.measured}]"
    return text
