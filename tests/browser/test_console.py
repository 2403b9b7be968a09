"""The ward officer's console in a real browser (Debian's chromium, headless) against a running `qmon demo`.

One officer signs in, sees the overview, watches an alert raised by a simulated bracelet arrive in the inbox
without reloading, opens it (timeline, telemetry chart drawn by plotly), acknowledges it with a note and
resolves it; the console switches to Vietnamese; another ward's officer does not see that alert.
Screenshots of the main pages are kept in test-artifacts/console/.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from cloud.console import static_root
from qmon.demo_facility import FACILITY_WARD
from tests.browser.conftest import RunningDemo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ALERT_WAIT_MS = 120_000
STREAM = "/api/v1/alerts/stream"
WARD_A_DEVICES = ("0000e001", "0000e002", "0000e003", "0000e004")


def _catalog(lang: str) -> dict[str, str]:
    catalog: dict[str, str] = json.loads(
        (Path(str(static_root())) / "i18n" / f"{lang}.json").read_text(encoding="utf-8")
    )
    return catalog


def _sign_in(page: Any, demo: RunningDemo, username: str) -> None:
    """Sign in through the form, in English (the form is drawn again when the language changes)."""
    page.goto(f"{demo.url}/console/")
    page.wait_for_selector("input[name=username]")
    page.locator("select#lang").select_option("en")
    page.wait_for_selector(f"h1:has-text('{_catalog('en')['signin.title']}')")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(demo.passwords[username])
    page.locator("form button[type=submit]").click()
    page.wait_for_selector("[data-testid=overview]")


def test_an_officer_follows_an_alert_from_the_inbox_to_its_resolution(
    demo: RunningDemo, new_context: Any, artifacts: Path
) -> None:
    en, vi = _catalog("en"), _catalog("vi")
    context = new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # Sign in with a wrong password first: refused, still on the sign-in page.
    page.goto(f"{demo.url}/console/")
    page.wait_for_selector("input[name=username]")
    page.screenshot(path=artifacts / "01-sign-in.png")
    page.locator("select#lang").select_option("en")
    page.wait_for_selector(f"h1:has-text('{en['signin.title']}')")
    page.locator("input[name=username]").fill("officer-ward-a")
    page.locator("input[name=password]").fill("not the password")
    page.locator("form button[type=submit]").click()
    page.wait_for_selector(f"[data-testid=signin-error]:has-text('{en['signin.refused']}')")

    # The feed's first connection ends at once (as a dropped one would) after a change id: the console
    # must reconnect by itself and resume after that id (Last-Event-ID), then stay on the live feed.
    stream_ids: list[str | None] = []
    page.on(
        "request",
        lambda request: (
            stream_ids.append(request.headers.get("last-event-id")) if request.url.endswith(STREAM) else None
        ),
    )

    def end_first_stream(route: Any) -> None:
        route.fulfill(status=200, content_type="text/event-stream", body=": connected\nretry: 300\nid: 1\n\n")
        page.unroute(f"**{STREAM}")

    page.route(f"**{STREAM}", end_first_stream)
    _sign_in(page, demo, "officer-ward-a")
    page.wait_for_selector("[data-testid=person-row]")
    page.wait_for_selector("#live[data-state=on]")
    page.wait_for_function("() => document.getElementById('live').dataset.state === 'on'")
    deadline = time.monotonic() + 10
    while len(stream_ids) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert stream_ids[:2] == [None, "1"], stream_ids
    rows = page.locator("[data-testid=person-row]")
    assert rows.count() == 5, "the five ward-a households, none of ward-b"
    assert page.locator("[data-testid=person-row][data-device='0000e005']").count() == 0
    page.screenshot(path=artifacts / "02-overview.png", full_page=True)

    # The inbox, loaded once; then the live feed must bring a new ward-a bracelet alert without a reload.
    page.locator("#nav-alerts").click()
    page.wait_for_selector("[data-testid=inbox]")
    page.wait_for_selector("#live[data-state=on]")
    page.evaluate("window.__loadedOnce = true")
    before = set(
        page.locator("[data-testid=alert-row]").evaluate_all("rows => rows.map(r => r.dataset.alertId)")
    )
    devices = ", ".join(f"[data-testid=alert-row][data-device='{d}']" for d in WARD_A_DEVICES)
    excluded = "".join(f":not([data-alert-id='{i}'])" for i in before)
    fresh = page.locator(f":is({devices}){excluded}").first
    fresh.wait_for(timeout=ALERT_WAIT_MS)
    assert page.evaluate("window.__loadedOnce") is True, "the alert arrived without reloading the page"
    alert_id = fresh.get_attribute("data-alert-id")
    assert alert_id is not None
    page.screenshot(path=artifacts / "03-inbox-live.png", full_page=True)

    # The alert's page: facts, timeline, and the chart drawn by plotly with data.
    fresh.click()
    page.wait_for_selector("[data-testid=timeline] li")
    page.wait_for_selector("#chart .main-svg", timeout=30_000)
    traces = page.evaluate(
        "document.getElementById('chart').data.map(t => t.y.filter(v => v !== null).length)"
    )
    assert len(traces) == 4 and traces[0] > 0 and traces[3] > 0, traces
    assert page.locator("#chart .scatterlayer .trace").count() >= 4
    page.screenshot(path=artifacts / "04-alert.png", full_page=True)

    page.locator("[data-testid=note]").fill("Called the person; on my way.")
    page.locator("[data-testid=acknowledge]").click()
    page.wait_for_selector("[data-testid=alert-status][data-status=acknowledged]")
    page.wait_for_selector("[data-testid=timeline] li[data-kind=acknowledged]")
    page.locator("[data-testid=note]").fill("Visited: the person was at home, bracelet checked.")
    page.locator("[data-testid=resolve]").click()
    page.wait_for_selector("[data-testid=alert-status][data-status=resolved]")
    assert "bracelet checked" in page.locator("[data-testid=resolution-note]").inner_text()
    page.screenshot(path=artifacts / "05-alert-resolved.png", full_page=True)

    # Vietnamese: the whole page re-renders from the vi catalog.
    page.locator("select#lang").select_option("vi")
    page.wait_for_selector(f"[data-testid=alert-status]:has-text('{vi['status.resolved']}')")
    assert page.locator("#nav-overview").inner_text() == vi["nav.overview"]
    assert page.locator("#nav-orders").inner_text() == vi["nav.orders"]
    page.locator("#nav-overview").click()
    page.wait_for_selector(f"h1:has-text('{vi['overview.title']}')")
    page.wait_for_selector("[data-testid=person-row]")
    page.screenshot(path=artifacts / "06-overview-vi.png", full_page=True)
    page.locator("#nav-orders").click()
    page.wait_for_selector("[data-testid=order-row]")
    assert page.locator("[data-testid=order-row]").count() == 5
    page.screenshot(path=artifacts / "07-orders-vi.png", full_page=True)
    assert errors == []

    # Another ward's officer: the alert is neither in their inbox nor reachable by its address.
    other = new_context(locale="vi-VN", viewport={"width": 1280, "height": 900})
    other_page = other.new_page()
    _sign_in(other_page, demo, "officer-ward-b")
    other_page.locator("#nav-alerts").click()
    other_page.wait_for_selector("[data-testid=inbox]")
    other_page.wait_for_selector("#live[data-state=on]")
    assert other_page.locator(f"[data-testid=alert-row][data-alert-id='{alert_id}']").count() == 0
    assert other_page.locator(f":is({devices})").count() == 0
    other_page.goto(f"{demo.url}/console/#/alerts/{alert_id}")
    other_page.wait_for_selector(f"p.error:has-text('{en['alert.notFound']}')")
    other_page.screenshot(path=artifacts / "08-other-ward-refused.png", full_page=True)
    other.close()
    context.close()
    _manage_orders(new_context, demo, artifacts)
    _facility_rooms(new_context, demo, artifacts)


def _facility_rooms(new_context: Any, demo: RunningDemo, artifacts: Path) -> None:
    """The facility's ward officer sees its camera rooms with occupancy and camera state."""
    context = new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _sign_in(page, demo, f"officer-{FACILITY_WARD}")
    page.wait_for_selector("[data-testid=room-row]")
    assert page.locator("[data-testid=room-row]").count() == 2, "the demo facility's two rooms"
    assert page.locator("[data-testid=person-row]").count() == 0
    page.screenshot(path=artifacts / "11-overview-rooms.png", full_page=True)
    context.close()


def _manage_orders(new_context: Any, demo: RunningDemo, artifacts: Path) -> None:
    """An administrator creates a facility-room order, extends it and ends it from the orders page."""
    en = _catalog("en")
    context = new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    _sign_in(page, demo, "admin")
    page.locator("#nav-orders").click()
    page.wait_for_selector("[data-testid=order-row]")
    before = page.locator("[data-testid=order-row]").count()
    page.locator("[data-testid=new-order]").click()
    form = page.locator("form.grid")
    form.locator("input[name=full_name]").fill("Browser Made")
    form.locator("input[name=ward_id]").fill("ward-a")
    form.locator("input[name=address]").fill("Room 9, isolation facility")
    form.locator("input[name=site_id]").fill("facility-x")
    form.locator("select[name=kind]").select_option("room")
    form.locator("input[name=subject]").fill("room-9")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("[data-testid=orders-message].notice")
    assert page.locator("[data-testid=order-row]").count() == before + 1
    row = page.locator("[data-testid=order-row]").first
    order_id = row.get_attribute("data-order-id")
    assert page.locator("[data-testid=orders-message]").inner_text() == en["orders.created"].format(
        id=order_id
    )
    page.screenshot(path=artifacts / "09-orders-created.png", full_page=True)

    row.locator("[data-testid=new-end]").fill("2030-01-31T12:00")
    row.locator("[data-testid=extend]").click()
    page.wait_for_selector(
        f"[data-testid=orders-message]:has-text('{en['orders.extended'].format(id=order_id)}')"
    )
    assert "31/01/2030" in page.locator(f"[data-testid=order-row][data-order-id='{order_id}']").inner_text()
    row = page.locator(f"[data-testid=order-row][data-order-id='{order_id}']")
    row.locator("[data-testid=end]").click()
    row.locator("select[name=reason]").select_option("entered_in_error")
    row.locator("input[name=note]").fill("made by the browser test")
    row.locator("[data-testid=end-submit]").click()
    page.wait_for_selector(f"[data-testid=order-row][data-order-id='{order_id}'][data-status=ended]")
    page.screenshot(path=artifacts / "10-orders-ended.png", full_page=True)
    context.close()


def test_the_language_follows_the_browser(demo: RunningDemo, new_context: Any) -> None:
    vi = _catalog("vi")
    context = new_context(locale="vi-VN")
    page = context.new_page()
    page.goto(f"{demo.url}/console/")
    page.wait_for_selector(f"h1:has-text('{vi['signin.title']}')")
    assert page.locator("select#lang").input_value() == "vi"
    assert page.evaluate("document.documentElement.lang") == "vi"
    context.close()
