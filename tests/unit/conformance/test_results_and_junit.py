"""Outcomes, the exit-status rule, the human line and the JUnit XML (read back with the standard library)."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from firmware_sim.conformance.junit import to_suite, write_results
from firmware_sim.conformance.results import (
    Outcome,
    all_passed,
    count_outcomes,
    failed,
    format_line,
    passed,
    skipped,
)

RESULTS = (
    passed("advert.format", "all 5 adverts decode", "company ids 0xffff"),
    failed("advert.rate", "median interval 150.0 ms outside 84.0..126.0 ms", "median 150.0 ms"),
    skipped("advert.tag", "no --key given"),
)


def test_only_a_failure_fails_the_run_and_skips_count_as_neither() -> None:
    assert not all_passed(RESULTS)
    assert all_passed([RESULTS[0], RESULTS[2]])
    assert count_outcomes(RESULTS) == {"pass": 1, "fail": 1, "skip": 1}
    assert not RESULTS[2].ran and RESULTS[1].ran


def test_one_line_per_check_names_outcome_reason_and_measurement() -> None:
    assert format_line(RESULTS[1]) == (
        "FAIL advert.rate                median interval 150.0 ms outside 84.0..126.0 ms  [median 150.0 ms]"
    )
    assert format_line(RESULTS[2]).startswith("SKIP advert.tag ")
    assert RESULTS[1].to_json() == {
        "name": "advert.rate",
        "outcome": "fail",
        "reason": "median interval 150.0 ms outside 84.0..126.0 ms",
        "measured": "median 150.0 ms",
        "duration_s": 0.0,
    }


def test_junit_has_one_testcase_per_check_with_failure_and_skip_elements(tmp_path: Path) -> None:
    path = tmp_path / "out.xml"
    write_results(path, RESULTS, "conformance: 0a1b2c3d over serial:/dev/pts/3,1000000")
    assert path.read_bytes().startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("name") == "conformance: 0a1b2c3d over serial:/dev/pts/3,1000000"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped"), suite.get("errors")) == (
        "3",
        "1",
        "1",
        "0",
    )
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["advert.format", "advert.rate", "advert.tag"]
    assert cases["advert.rate"].get("classname") == "conformance.advert"
    failure = cases["advert.rate"].find("failure")
    assert failure is not None and failure.get("message", "").startswith("median interval 150.0")
    assert cases["advert.rate"].findtext("system-out") == "median 150.0 ms"
    skip = cases["advert.tag"].find("skipped")
    assert skip is not None and skip.get("message") == "no --key given"
    assert cases["advert.format"].find("failure") is None
    assert cases["advert.format"].findtext("system-out") == "all 5 adverts decode\ncompany ids 0xffff"


def test_reasons_with_markup_characters_survive_the_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out.xml"
    write_results(path, [failed("gatt.reads", "Model Number: '<&>' bad")])
    assert "&lt;&amp;&gt;" in path.read_text(encoding="utf-8")
    failure = ET.parse(path).getroot().find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message") == "Model Number: '<&>' bad"
    assert to_suite(RESULTS).seconds == 0.0
    assert Outcome("skip") is Outcome.SKIP
