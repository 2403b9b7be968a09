"""Property-based requests against the hub's whole OpenAPI schema (schemathesis): whatever a caller sends,
well-formed or not, the answer is never a server error, and every operation's schema is usable.

Bounded: a fixed number of generated cases per operation (derandomized, so a run is reproducible), as an
administrator (every staff route) and as a citizen (their own routes), with the platforms' keys set so that
routes do real work instead of answering 503, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud.access import Role
from cloud.app import HubServer
from cloud.settings import HubSettings
from cloud.storage.repository import Repository
from qmon.clock import ManualClock
from tests.integration.cloud.public_health import write_qr_key
from tests.integration.cloud.support import (
    NO_RATE_LIMITS,
    PASSWORD,
    TEST_JWT_SECRET,
    fast_passwords,
    seed_officer,
)
from tests.integration.cloud.vaccination_support import signing_settings
from tests.unit.cloud.builders import T0

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 6
# Streams never end by themselves; they are exercised by the SSE tests.
SKIPPED = {("GET", "/api/v1/alerts/stream")}
CITIZEN_NUMBER = "001203004567"


@pytest.fixture
def client(repo: Repository, tmp_path: Path) -> Iterator[httpx.Client]:
    """The hub over real HTTP on 127.0.0.1 (its own event loop in a thread), and a client of it."""
    qr_key, _ = write_qr_key(tmp_path)
    hub_settings = HubSettings(
        jwt_secret=TEST_JWT_SECRET,
        database_url="sqlite:///unused.db",
        auto_migrate=False,
        http_port=0,
        identity_hash_key="an-openapi-fuzz-identity-hash-key-long",
        venue_qr_key_file=qr_key,
        certificates=signing_settings(tmp_path),
        rate_limits=NO_RATE_LIMITS,
    )
    seed_officer(repo, "admin", Role.ADMIN.value, [])
    started: list[str] = []
    ready, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        server = HubServer(
            hub_settings,
            clock=ManualClock(T0.timestamp() + 3600),
            repository=repo,
            start_ingest=False,
            passwords=fast_passwords(),
        )
        async with server:
            started.append(server.url)
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(30), "the hub did not start"
        with httpx.Client(base_url=started[0], timeout=30) as http:
            yield http
    finally:
        stop.set()
        thread.join(30)


def _token(client: httpx.Client, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _request(client: httpx.Client, kwargs: dict[str, Any]) -> Any:
    # schemathesis speaks `requests`; this client is httpx: raw bodies go as `content`.
    body = kwargs.pop("data", None)
    if isinstance(body, (bytes, str)):
        kwargs["content"] = body
    elif body is not None:
        kwargs["data"] = body
    kwargs.pop("cookies", None)
    return client.request(**kwargs)


def _fuzz(client: httpx.Client, operation: Any, headers: dict[str, str], failures: list[str]) -> None:
    """Send the operation's generated cases; record every 5xx."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy())
        kwargs = case.as_transport_kwargs(base_url=str(client.base_url), headers=dict(headers))
        response = _request(client, kwargs)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {kwargs}")

    run()


def test_no_request_makes_the_hub_fail(client: httpx.Client) -> None:
    registered = client.post(
        "/api/v1/citizens/register",
        json={
            "identity_number": CITIZEN_NUMBER,
            "full_name": "Fuzz Citizen",
            "birth_date": "1990-04-12",
            "ward_id": "ward-a",
            "password": PASSWORD,
        },
    )
    assert registered.status_code == 201, registered.text
    admin, citizen = _token(client, "admin"), _token(client, registered.json()["handle"])
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        operations += 1
        headers = citizen if operation.path.startswith("/api/v1/citizens/me") else admin

        _fuzz(client, operation, headers, failures)
    assert operations >= 60  # the whole API was reached (a schema that lost its routes would pass vacuously)
    assert not failures, "\n".join(failures[:20])
