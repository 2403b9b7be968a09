"""A facility room's alert in the officer's console (Debian's chromium, headless) against a `qmon demo`.

The demo facility's simulated camera in room-102 has its lens covered, then the lights go off, then the
feed freezes: the edge raises a camera fault, and its room readings (faces seen, faces allowed, camera state)
reach the hub's embedded SQL telemetry store. The facility ward's officer opens the alert and sees them
charted with plotly as the bracelet chart is drawn, in English and then in Vietnamese.
Screenshots are kept in test-artifacts/console/.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from qmon.demo_facility import FACILITY_WARD
from tests.browser.conftest import RunningDemo
from tests.browser.test_console import _catalog, _sign_in

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ALERT_WAIT_MS = 120_000
FAULT_SHOWN_S = 90.0
COVERED = 1  # the camera axis' code of a covered lens (CAMERA_STATES in charts.js)
# The chart's traces (name, y without gaps) and its camera axis' labels.
CHART = """() => {
  const chart = document.getElementById('chart');
  return {
    traces: chart.data.map(t => ({name: t.name, y: t.y.filter(v => v !== null)})),
    cameraTicks: chart.layout.yaxis2.ticktext,
  };
}"""


def _chart(page: Any) -> dict[str, Any]:
    page.wait_for_selector("#chart[data-subject=room] .main-svg", timeout=30_000)
    chart: dict[str, Any] = page.evaluate(CHART)
    return chart


def _covered(chart: dict[str, Any]) -> bool:
    """The camera trace shows the covered lens (code 1; the camera's first readings may be offline, 4)."""
    return COVERED in chart["traces"][2]["y"]


def test_a_room_alert_charts_occupancy_and_camera_state(
    demo: RunningDemo, new_context: Any, artifacts: Path
) -> None:
    en, vi = _catalog("en"), _catalog("vi")
    context = new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _sign_in(page, demo, f"officer-{FACILITY_WARD}")

    page.locator("#nav-alerts").click()
    page.wait_for_selector("[data-testid=inbox]")
    fault = page.locator("[data-testid=alert-row][data-type=camera_fault]").first
    fault.wait_for(timeout=ALERT_WAIT_MS)
    assert fault.get_attribute("data-device") == "", "a room's alert, not a bracelet's"
    alert_id = fault.get_attribute("data-alert-id")
    fault.click()
    page.wait_for_selector(
        f"[data-testid='fact-col.subject']:has-text('{en['alert.room'].format(id='room-102')}')"
    )

    # The chart is drawn once per visit: come back until the readings after the fault have arrived (the edge
    # sends its room readings every 10 simulated seconds).
    chart = _chart(page)
    deadline = time.monotonic() + FAULT_SHOWN_S
    while not _covered(chart) and time.monotonic() < deadline:
        page.wait_for_timeout(2_000)
        page.reload()
        chart = _chart(page)
    names = [t["name"] for t in chart["traces"]]
    assert names == [en["chart.facesSeen"], en["chart.facesAllowed"], en["chart.camera"]]
    faces, allowed, camera = (t["y"] for t in chart["traces"])
    assert faces and allowed and camera, chart
    assert set(allowed) == {1}, "one resident in room-102"
    assert _covered(chart), "the camera fault is on the chart"
    assert chart["cameraTicks"] == [en[f"camera.{s}"] for s in ("ok", "covered", "dark", "frozen", "offline")]
    assert page.locator("#chart .scatterlayer .trace").count() == 3
    points = page.locator("#chart").get_attribute("data-points")
    assert points is not None and int(points) == len(camera)
    assert page.locator("p.muted:has-text('{}')".format(en["chart.points"].format(n=points))).count() == 1
    page.screenshot(path=artifacts / "room-alert-chart.png", full_page=True)

    # Vietnamese: the page and its chart are drawn again from the vi catalog.
    page.locator("select#lang").select_option("vi")
    page.wait_for_selector(f"h2:has-text('{vi['alert.telemetry']}')")
    page.wait_for_function(
        "name => { const c = document.getElementById('chart');"
        " return c && c.data && c.data[0] && c.data[0].name === name; }",
        arg=vi["chart.facesSeen"],
        timeout=30_000,
    )
    chart = _chart(page)
    assert [t["name"] for t in chart["traces"]] == [
        vi["chart.facesSeen"],
        vi["chart.facesAllowed"],
        vi["chart.camera"],
    ]
    assert chart["cameraTicks"][1] == vi["camera.covered"]
    page.screenshot(path=artifacts / "room-alert-chart-vi.png", full_page=True)
    assert errors == []

    # A home-quarantine ward's officer: neither the alert nor the room's readings.
    other = new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    other_page = other.new_page()
    _sign_in(other_page, demo, "officer-ward-a")
    other_page.goto(f"{demo.url}/console/#/alerts/{alert_id}")
    other_page.wait_for_selector(f"p.error:has-text('{en['alert.notFound']}')")
    other.close()
    context.close()
