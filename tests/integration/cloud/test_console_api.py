"""The console's API routes, on SQLite and PostgreSQL: the ward overview and a bracelet's telemetry, each
refused outside the caller's wards; and the console's static files served by the hub."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from cloud.access import Role
from cloud.api.deps import Hub
from cloud.processor import RawMessage
from cloud.storage.repository import Repository
from cloud.storage.telemetry import TelemetryPoint
from gateway.protocol import EventType, SiteState
from tests.integration.cloud.support import (
    FACILITY,
    LoggedIn,
    event_message,
    hub_http,
    room_telemetry_message,
    seed_officer,
    seed_order,
    seed_room_order,
    status_message,
    telemetry_message,
)
from tests.unit.cloud.builders import DEVICE, ROOM, SITE, T0, at

OTHER_DEVICE, OTHER_SITE = "0b0b0b0b", "home-0002"
WARD_B_DEVICE, WARD_B_SITE = "0c0c0c0c", "home-0003"


class Client(LoggedIn):
    """The app in process, with a token per seeded account."""

    def __init__(self, http: httpx.AsyncClient, hub: Hub) -> None:
        super().__init__(http)
        self.http = http
        self.hub = hub

    async def get(self, path: str, as_: str, **params: Any) -> httpx.Response:
        """GET with the account's bearer token."""
        return await self.http.get(path, params=params, headers=await self.headers(as_))

    def ingest(self, *messages: tuple[str, bytes]) -> None:
        """Apply messages through the hub's own batch processor."""
        assert self.hub.ingest is not None
        self.hub.ingest.processor.process([RawMessage(t, p) for t, p in messages], at(100))


@pytest.fixture
async def client(repo: Repository) -> AsyncIterator[Client]:
    seed_officer(repo, "admin", Role.ADMIN, [])
    seed_officer(repo, "officer-a", Role.WARD_OFFICER, ["ward-a"])
    seed_officer(repo, "officer-b", Role.WARD_OFFICER, ["ward-b"])
    async with hub_http(repo) as (http, app):
        yield Client(http, app.state.hub)


def _seed_wards(client: Client) -> None:
    """ward-a: one walker (DEVICE), one strap opener whose hub went offline later, one facility room;
    ward-b: one person whose order ends within the day."""
    repo = client.hub.repository
    seed_order(repo, full_name="Walker A")
    seed_order(repo, device_id=OTHER_DEVICE, site_id=OTHER_SITE, full_name="Strap A")
    seed_room_order(repo)
    seed_order(
        repo,
        ward="ward-b",
        device_id=WARD_B_DEVICE,
        site_id=WARD_B_SITE,
        full_name="Ending B",
        starts=T0 - timedelta(days=13, hours=12),
    )
    client.ingest(
        telemetry_message(),
        event_message(EventType.LEFT_HOME, 2),
        event_message(EventType.STRAP_OPENED, 3, site_id=OTHER_SITE, device_id=OTHER_DEVICE),
        room_telemetry_message(2),
        telemetry_message(site_id=WARD_B_SITE, device_id=WARD_B_DEVICE),
    )


async def test_the_overview_shows_each_person_state_now_rooms_and_orders_ending(client: Client) -> None:
    _seed_wards(client)
    body = (await client.get("/api/v1/overview", "officer-a")).json()
    people = {p["full_name"]: p for p in body["people"]}
    assert set(people) == {"Walker A", "Strap A"}, "home quarantine only, ward-a only"
    assert people["Walker A"]["state"] == "out" and people["Walker A"]["conditions"] == ["away"]
    assert people["Walker A"]["battery"] == 80 and people["Walker A"]["last_seen_at"] is not None
    assert people["Strap A"]["state"] == "strap_open"
    assert body["counts"]["out"] == 1 and body["counts"]["strap_open"] == 1 and body["counts"]["at_home"] == 0
    ((room),) = body["rooms"]
    assert (room["site_id"], room["room_id"], room["faces"], room["camera"]) == (FACILITY, ROOM, 2, "ok")
    assert body["ending_soon"] == [] and body["pending"] == []

    client.ingest(status_message(SiteState.OFFLINE, 20, site_id=OTHER_SITE))
    body = (await client.get("/api/v1/overview", "officer-a")).json()
    people = {p["full_name"]: p for p in body["people"]}
    assert people["Strap A"]["state"] == "hub_offline", "an offline hub explains the rest"
    assert people["Strap A"]["site_state"] == "offline"


async def test_the_overview_is_refused_outside_the_callers_wards(client: Client) -> None:
    _seed_wards(client)
    ward_b = (await client.get("/api/v1/overview", "officer-b")).json()
    assert [p["full_name"] for p in ward_b["people"]] == ["Ending B"]
    assert ward_b["people"][0]["state"] == "at_home"
    assert ward_b["rooms"] == []
    assert [o["person"]["full_name"] for o in ward_b["ending_soon"]] == ["Ending B"]
    asked_for_a = (await client.get("/api/v1/overview", "officer-b", ward="ward-a")).json()
    assert asked_for_a["people"] == [] and asked_for_a["rooms"] == [] and asked_for_a["ending_soon"] == []
    everyone = (await client.get("/api/v1/overview", "admin")).json()
    assert {p["full_name"] for p in everyone["people"]} == {"Walker A", "Strap A", "Ending B"}
    one_ward = (await client.get("/api/v1/overview", "admin", ward="ward-b")).json()
    assert [p["full_name"] for p in one_ward["people"]] == ["Ending B"]
    assert (await client.http.get("/api/v1/overview")).status_code == 401


def _points(device_id: str, site_id: str, *seconds: float) -> list[TelemetryPoint]:
    return [
        TelemetryPoint(
            site_id,
            device_id,
            at(s),
            {
                "rssi": -60.0 - s / 100,
                "distance_m": 2.5,
                "battery": 80,
                "heart_rate": 72,
                "skin_temp_c": 36.4,
            },
        )
        for s in seconds
    ]


async def test_telemetry_is_read_back_for_a_device_of_the_callers_wards(client: Client) -> None:
    _seed_wards(client)
    # One reading before the order started (an earlier wearer): never shown.
    client.hub.telemetry.write(_points(DEVICE, SITE, -7200, 60, 120, 180))
    start, end = at(-3 * 3600).isoformat(), at(3600).isoformat()
    response = await client.get(f"/api/v1/devices/{DEVICE}/telemetry", "officer-a", start=start, end=end)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["heart_rate"] for p in body["points"]] == [72, 72, 72]
    assert body["points"][0]["distance_m"] == 2.5 and body["points"][0]["skin_temp_c"] == 36.4
    assert body["points"][0]["site_id"] == SITE and body["truncated"] is False
    limited = await client.get(
        f"/api/v1/devices/{DEVICE}/telemetry", "officer-a", start=start, end=end, limit=2
    )
    assert len(limited.json()["points"]) == 2 and limited.json()["truncated"] is True
    default_window = await client.get(f"/api/v1/devices/{DEVICE}/telemetry", "admin")
    assert len(default_window.json()["points"]) == 3, "the last hour before the hub's now (T0 + 1 h)"


async def test_telemetry_is_refused_outside_the_callers_wards(client: Client) -> None:
    _seed_wards(client)
    client.hub.telemetry.write(_points(DEVICE, SITE, 60))
    path = f"/api/v1/devices/{DEVICE}/telemetry"
    window = {"start": at(0).isoformat(), "end": at(600).isoformat()}
    assert (await client.get(path, "officer-b", **window)).status_code == 404
    assert (await client.get(path, "officer-a", **window)).status_code == 200
    assert (await client.get(path, "admin", **window)).status_code == 200
    assert (await client.get("/api/v1/devices/0d0d0d0d/telemetry", "admin", **window)).status_code == 404
    assert (await client.get("/api/v1/devices/NOT-HEX/telemetry", "officer-a")).status_code == 422
    backwards = {"start": at(600).isoformat(), "end": at(0).isoformat()}
    assert (await client.get(path, "officer-a", **backwards)).status_code == 400
    too_long = {"start": at(0).isoformat(), "end": at(40 * 86400).isoformat()}
    assert (await client.get(path, "officer-a", **too_long)).status_code == 400
    assert (await client.http.get(path)).status_code == 401
