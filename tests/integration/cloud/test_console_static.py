"""The hub serves the officers' console (/console/) and plotly.js from the installed plotly package."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from cloud.storage.repository import Repository
from tests.integration.cloud.support import hub_http


@pytest.fixture
async def http(sqlite_repo: Repository) -> AsyncIterator[httpx.AsyncClient]:
    async with hub_http(sqlite_repo) as (client, _app):
        yield client


async def test_the_console_page_modules_and_catalogs_are_served(http: httpx.AsyncClient) -> None:
    redirect = await http.get("/console")
    assert redirect.status_code == 308 and redirect.headers["location"] == "/console/"
    page = await http.get("/console/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="app.js">' in page.text
    for path, kind in (
        ("/console/app.js", "text/javascript"),
        ("/console/views/alert.js", "text/javascript"),
        ("/console/console.css", "text/css"),
        ("/console/i18n/vi.json", "application/json"),
    ):
        response = await http.get(path)
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind), path


async def test_plotly_comes_from_the_installed_package(http: httpx.AsyncClient) -> None:
    response = await http.get("/console/vendor/plotly.min.js")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/javascript")
    assert b"plotly.js" in response.content[:200] and len(response.content) > 1_000_000


@pytest.mark.parametrize(
    "path",
    [
        "/console/../app.py",
        "/console/%2e%2e/app.py",
        "/console/missing.js",
        "/console/i18n/en.yaml",
        "/console/__init__.py",
        "/console/vendor/other.js",
    ],
)
async def test_nothing_else_is_served(http: httpx.AsyncClient, path: str) -> None:
    assert (await http.get(path)).status_code == 404
