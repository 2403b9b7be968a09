"""Ending an order from the console (headless chromium against a running `qmon demo`): the end form takes a
reason; a negative test without its sample is refused with the hub's message shown in the form, and a
transfer with a note ends the order, whose row then shows how it ended. Screenshots go to
test-artifacts/console/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cloud.console import static_root
from tests.browser.conftest import RunningDemo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

EN, VI = (
    json.loads((Path(str(static_root())) / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    for lang in ("en", "vi")
)


def _open_orders_as_admin(page: Any, demo: RunningDemo) -> None:
    """Sign in as the demo's administrator, in English, and open the orders page."""
    page.goto(f"{demo.url}/console/")
    page.wait_for_selector("input[name=username]")
    page.locator("select#lang").select_option("en")
    page.wait_for_selector(f"h1:has-text('{EN['signin.title']}')")
    page.locator("input[name=username]").fill("admin")
    page.locator("input[name=password]").fill(demo.passwords["admin"])
    page.locator("form button[type=submit]").click()
    page.wait_for_selector("[data-testid=overview]")
    page.locator("#nav-orders").click()
    page.wait_for_selector("[data-testid=order-row]")


def test_an_order_ends_for_a_reason_and_a_missing_test_is_refused(
    demo: RunningDemo, new_context: Any, artifacts: Path
) -> None:
    page = new_context(locale="en-GB", viewport={"width": 1280, "height": 900}).new_page()
    _open_orders_as_admin(page, demo)

    page.locator("[data-testid=new-order]").click()
    form = page.locator("form.grid")
    form.locator("input[name=full_name]").fill("Released Person")
    form.locator("input[name=identity_number]").fill("001203004567")
    form.locator("input[name=ward_id]").fill("ward-a")
    form.locator("input[name=address]").fill("Room 5, isolation facility")
    form.locator("input[name=site_id]").fill("facility-x")
    form.locator("select[name=kind]").select_option("room")
    form.locator("input[name=subject]").fill("room-5")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("[data-testid=orders-message].notice")
    order_id = page.locator("[data-testid=order-row]").first.get_attribute("data-order-id")
    row = page.locator(f"[data-testid=order-row][data-order-id='{order_id}']")

    # The policy needs a negative test: without the sample's id the hub refuses, and the form says why.
    row.locator("[data-testid=end]").click()
    end_form = row.locator("[data-testid=end-form]")
    assert end_form.is_visible() and row.locator("input[name=release_sample_id]").is_visible()
    end_form.locator("select[name=reason]").select_option("negative_test")
    end_form.locator("[data-testid=end-submit]").click()
    error = row.locator("[data-testid=end-error]")
    error.wait_for(state="visible")
    assert "needs release_sample_id" in error.inner_text()
    assert row.get_attribute("data-status") == "active"
    page.screenshot(path=artifacts / "order-release-1-refused.png", full_page=True)

    # A transfer needs no test, only a note: the order ends and its row says how.
    end_form.locator("select[name=reason]").select_option("transferred")
    assert not row.locator("input[name=release_sample_id]").is_visible()
    end_form.locator("input[name=note]").fill("Bach Mai hospital, ward 3")
    end_form.locator("[data-testid=end-submit]").click()
    page.wait_for_selector(f"[data-testid=order-row][data-order-id='{order_id}'][data-status=ended]")
    assert page.locator("[data-testid=orders-message]").inner_text() == EN["orders.ended"].format(id=order_id)
    facts = row.locator("[data-testid=release-facts]").inner_text()
    assert EN["endReason.transferred"] in facts and "Bach Mai hospital, ward 3" in facts and "admin" in facts
    page.screenshot(path=artifacts / "order-release-2-ended.png", full_page=True)

    # In Vietnamese, the reason and the end form are the vi catalog's.
    page.locator("select#lang").select_option("vi")
    page.wait_for_selector(f"[data-testid=release-facts]:has-text('{VI['endReason.transferred']}')")
    page.locator("[data-testid=order-row][data-status=active] [data-testid=end]").first.click()
    assert (
        VI["endReason.entered_in_error"] in page.locator("[data-testid=end-form] select").first.inner_text()
    )
    page.screenshot(path=artifacts / "order-release-3-vi.png", full_page=True)
