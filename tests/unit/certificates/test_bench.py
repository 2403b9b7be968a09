"""The micro-benchmark runs and reports both rates."""

from __future__ import annotations

import pytest

from cloud.certificates.bench import measure


def test_measure_reports_issue_and_verify_rates() -> None:
    result = measure(20)

    assert result["n"] == 20
    assert result["certificates_issued_per_s"] > 0
    assert result["certificates_verified_per_s"] > 0


def test_measure_needs_at_least_one_certificate() -> None:
    with pytest.raises(ValueError):
        measure(0)
