"""JUnit XML reports (the format CI systems read): suites of test cases that passed, failed, errored or were
skipped. Written with the standard library's ElementTree, which escapes every text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Case:
    """One test case; at most one of failure, error and skipped is set (a message)."""

    name: str
    classname: str
    seconds: float = 0.0
    failure: str | None = None
    error: str | None = None
    skipped: str | None = None
    output: str = ""


@dataclass(frozen=True)
class Suite:
    """A named group of cases (one scenario, one conformance target)."""

    name: str
    cases: Sequence[Case] = field(default_factory=tuple)
    seconds: float = 0.0


def to_xml(suites: Sequence[Suite]) -> ET.ElementTree[ET.Element]:
    """The <testsuites> document for `suites`."""
    root = ET.Element("testsuites")
    for suite in suites:
        node = ET.SubElement(
            root,
            "testsuite",
            name=suite.name,
            tests=str(len(suite.cases)),
            failures=str(sum(c.failure is not None for c in suite.cases)),
            errors=str(sum(c.error is not None for c in suite.cases)),
            skipped=str(sum(c.skipped is not None for c in suite.cases)),
            time=f"{suite.seconds:.3f}",
        )
        for case in suite.cases:
            element = ET.SubElement(
                node, "testcase", name=case.name, classname=case.classname, time=f"{case.seconds:.3f}"
            )
            for tag, message in (("failure", case.failure), ("error", case.error), ("skipped", case.skipped)):
                if message is not None:
                    ET.SubElement(element, tag, message=message).text = message
            if case.output:
                ET.SubElement(element, "system-out").text = case.output
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(path: Path, suites: Sequence[Suite]) -> None:
    """Write the JUnit XML report of `suites` to `path` (UTF-8, with an XML declaration)."""
    to_xml(suites).write(path, encoding="utf-8", xml_declaration=True)
