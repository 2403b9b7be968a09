"""The console's notifications page in a real browser (Debian's chromium, headless) against a running hub.

An administrator finds a webhook notification that failed, retries it, and sees it delivered to a real
webhook receiver; the page also reads in Vietnamese. A ward officer has no link to the page. Screenshots
are kept in test-artifacts/console/.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cloud.access import Role
from cloud.app import HubServer
from cloud.console import static_root
from cloud.settings import HubSettings
from cloud.storage.migrate import upgrade
from cloud.storage.repository import Repository
from qmon.clock import ManualClock
from tests.integration.cloud.support import PASSWORD, TEST_JWT_SECRET, fast_passwords, seed_officer
from tests.integration.cloud.test_escalation import open_alert
from tests.integration.cloud.test_notification_admin import seed_notification
from tests.integration.cloud.test_notifications import (  # noqa: F401 - the receiver's fixture
    SECRET,
    receiver_factory,
)
from tests.unit.cloud.builders import T0

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

START_TIMEOUT_S = 30.0


@dataclass
class RunningHub:
    """A hub served in a background thread: its address, the failed notification's id, and where that one
    was meant to go."""

    url: str
    failed_id: int
    repo: Repository

    def status(self, notification_id: int) -> str:
        """A notification's stored status."""
        (row,) = [r for r in self.repo.notifications.list() if r.id == notification_id]
        return row.status


@pytest.fixture
def hub(tmp_path: Path, receiver_factory: Any) -> Iterator[tuple[RunningHub, Any]]:  # noqa: F811
    """A hub on an SQLite file with an administrator, a ward officer and one failed webhook notification
    whose target (a real receiver, with a token in its query) now answers."""
    receiver = receiver_factory()
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    upgrade(url)
    repo = Repository.from_url(url)
    seed_officer(repo, "admin", Role.ADMIN, [])
    seed_officer(repo, "officer-a", Role.WARD_OFFICER, ["ward-a"])
    alert = open_alert(repo, ManualClock(T0.timestamp()))
    failed_id = seed_notification(
        repo, alert.id, target=f"{receiver.url}?token=s3cret", error="HTTP 503: gateway down"
    )
    settings = HubSettings.model_validate(
        {
            "jwt_secret": TEST_JWT_SECRET,
            "database_url": url,
            "auto_migrate": False,
            "http_port": 0,
            "escalation": {"enabled": False},
            "notifications": {
                "webhooks": {"ward-a": {"url": receiver.url, "secret": SECRET}},
                "dispatch_interval_s": 0.2,
            },
        }
    )
    server = HubServer(settings, repository=repo, start_ingest=False, passwords=fast_passwords())
    box: dict[str, Any] = {}
    failure: list[BaseException] = []

    def run() -> None:
        async def main() -> None:
            box["loop"], box["stop"] = asyncio.get_running_loop(), asyncio.Event()
            async with server:
                box["ready"] = True
                await box["stop"].wait()

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced by the fixture, not lost in the thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="qmon-hub", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not box.get("ready") and not failure and time.monotonic() < deadline:
        time.sleep(0.05)
    if failure:
        raise failure[0]
    assert box.get("ready"), "the hub did not start in time"
    try:
        yield RunningHub(server.url, failed_id, repo), receiver
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(timeout=30)
        repo.close()
    assert not failure, failure


def _catalog(lang: str) -> dict[str, str]:
    catalog: dict[str, str] = json.loads(
        (Path(str(static_root())) / "i18n" / f"{lang}.json").read_text(encoding="utf-8")
    )
    return catalog


def _sign_in(page: Any, url: str, username: str) -> None:
    """Sign in through the form, in English."""
    page.goto(f"{url}/console/")
    page.wait_for_selector("input[name=username]")
    page.locator("select#lang").select_option("en")
    page.wait_for_selector(f"h1:has-text('{_catalog('en')['signin.title']}')")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_selector("[data-testid=overview]")


def test_an_admin_retries_a_failed_notification(
    hub: tuple[RunningHub, Any], new_context: Any, artifacts: Path
) -> None:
    running, receiver = hub
    en, vi = _catalog("en"), _catalog("vi")
    context = new_context(locale="en-GB", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _sign_in(page, running.url, "admin")

    # The link is there for an administrator; the page opens on the failed notifications.
    page.locator("#nav-notifications").click()
    row = page.locator(f"[data-testid=notification-row][data-notification-id='{running.failed_id}']")
    row.wait_for()
    assert page.locator("h1").inner_text() == en["notifications.title"]
    assert row.get_attribute("data-status") == "failed"
    assert receiver.url in row.inner_text() and "s3cret" not in page.content()
    assert "HTTP 503: gateway down" in row.locator("[data-testid=notification-error]").inner_text()
    page.screenshot(path=artifacts / "12-notifications-failed.png", full_page=True)

    # Retry: queued again, gone from the failed ones, and delivered by the hub's dispatcher.
    row.locator("[data-testid=retry]").click()
    retried = en["notifications.retried"].format(id=running.failed_id)
    page.wait_for_selector(f"[data-testid=notifications-message].notice:has-text('{retried}')")
    page.wait_for_selector(f"[data-testid=notifications]:has-text('{en['notifications.none']}')")
    deadline = time.monotonic() + 15
    while running.status(running.failed_id) != "sent" and time.monotonic() < deadline:
        time.sleep(0.1)
    ((headers, _body, signed),) = receiver.requests
    assert headers["X-Qmon-Delivery"] == str(running.failed_id) and signed
    page.locator("[data-testid=notification-status]").select_option("sent")
    sent = page.locator(f"[data-testid=notification-row][data-notification-id='{running.failed_id}']")
    sent.wait_for()
    assert sent.get_attribute("data-status") == "sent" and sent.locator("[data-testid=retry]").count() == 0
    page.screenshot(path=artifacts / "13-notifications-sent.png", full_page=True)

    # In Vietnamese.
    page.locator("select#lang").select_option("vi")
    page.wait_for_selector(f"h1:has-text('{vi['notifications.title']}')")
    assert page.locator("#nav-notifications").inner_text() == vi["nav.notifications"]
    page.locator("[data-testid=notification-status]").select_option("sent")
    page.wait_for_selector(
        f"[data-testid=notification-row] .delivery-sent:has-text('{vi['notificationStatus.sent']}')"
    )
    page.screenshot(path=artifacts / "14-notifications-vi.png", full_page=True)
    assert errors == []
    context.close()

    # A ward officer has no link to the page.
    other = new_context(locale="en-GB")
    officer = other.new_page()
    _sign_in(officer, running.url, "officer-a")
    assert officer.locator("#nav-orders").is_visible()
    assert not officer.locator("#nav-notifications").is_visible()
    other.close()
