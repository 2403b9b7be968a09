"""Fixtures of the browser tests: Debian's chromium driven by Playwright, and a running `qmon demo`."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from qmon.demo import DemoOptions, DemoReport, run_demo
from tests.support.services import require

CHROMIUM = Path(os.environ.get("QMON_TEST_CHROMIUM", "/usr/bin/chromium"))
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "console"
HOUSEHOLDS = REPO_ROOT / "tests" / "e2e" / "households.yaml"
# The e2e scenario's households, in two wards (so that each officer sees only their own ward's alerts).
PEOPLE = {
    "e2e-out": ("Out Walker", "ward-a", "1 A street"),
    "e2e-strap": ("Strap Opener", "ward-a", "2 A street"),
    "e2e-radio": ("Radio Off", "ward-a", "3 A street"),
    "e2e-fever": ("Fever Case", "ward-a", "4 A street"),
    "e2e-stay": ("Stays Home", "ward-a", "6 A street"),
    "e2e-battery": ("Battery Dies", "ward-b", "5 B street"),
}
EDGE: dict[str, object] = {
    "vitals.fever_sustain_s": 60,
    "vitals.fever_clear_s": 30,
    "presence.calibration.duration_s": 25,
    "presence.calibration.min_samples": 20,
}
START_TIMEOUT_S = 60.0


@dataclass
class RunningDemo:
    """A `qmon demo` running in a background thread: its hub's address and the accounts' passwords."""

    url: str
    passwords: dict[str, str]
    log: list[str]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[RunningDemo]:
    """The whole system (broker, hub, simulated households, edge, facility) at 5x, for one test."""
    options = DemoOptions(
        speed=5.0,
        households=HOUSEHOLDS,
        data_dir=tmp_path / "demo",
        seed=11,
        people=PEOPLE,
        edge_overrides=EDGE,
    )
    report = DemoReport()
    log: list[str] = []
    loop_box: dict[str, Any] = {}
    failure: list[BaseException] = []

    def run() -> None:
        async def main() -> None:
            loop_box["loop"], loop_box["stop"] = asyncio.get_running_loop(), asyncio.Event()
            await run_demo(options, write=log.append, stop=loop_box["stop"], report=report)

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced by the fixture, not lost in the thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="qmon-demo", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not (report.hub_url and report.feeds) and not failure and time.monotonic() < deadline:
        time.sleep(0.1)
    if failure:
        raise failure[0]
    assert report.hub_url, "the demo's hub did not start in time:\n" + "\n".join(log)
    try:
        yield RunningDemo(report.hub_url, report.passwords, log)
    finally:
        if "loop" in loop_box:
            loop_box["loop"].call_soon_threadsafe(loop_box["stop"].set)
        thread.join(timeout=60)
        (ARTIFACTS / "demo.log").parent.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "demo.log").write_text("\n".join(log), encoding="utf-8")
    assert not failure, failure


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium (Debian's package, never a downloaded browser); missing: skip, or fail under CI."""
    require(CHROMIUM.exists(), f"chromium ({CHROMIUM}; apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright (pip install -e '.[test]')")
        raise
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def artifacts() -> Path:
    """Where the screenshots of the console's pages go (kept after the run, ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember each phase's outcome on the item, so that fixtures can tell a failed test at teardown."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def new_context(browser: Any, request: pytest.FixtureRequest, artifacts: Path) -> Iterator[Any]:
    """Open browser contexts; if the test fails, every open page is kept as failure-*.png with its errors."""
    opened: list[Any] = []
    errors: list[str] = []

    def open_context(**options: Any) -> Any:
        context = browser.new_context(**options)
        context.on("weberror", lambda error: errors.append(str(error.error)))
        context.on(
            "console",
            lambda message: errors.append(message.text) if message.type == "error" else None,
        )
        opened.append(context)
        return context

    yield open_context
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for n, context in enumerate(opened):
            for m, page in enumerate(context.pages):
                page.screenshot(path=artifacts / f"failure-{n}-{m}.png", full_page=True)
        (artifacts / "failure-errors.txt").write_text("\n".join(errors), encoding="utf-8")
    for context in opened:
        context.close()
