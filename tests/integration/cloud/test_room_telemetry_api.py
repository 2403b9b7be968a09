"""GET /rooms/{site_id}/{room_id}/telemetry on SQLite and PostgreSQL: a facility room's occupancy and camera
readings, only within the spans of its orders in the caller's wards, refused otherwise."""

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
from cloud.storage.telemetry import RoomTelemetryPoint
from tests.integration.cloud.support import (
    FACILITY,
    LoggedIn,
    hub_http,
    room_telemetry_message,
    seed_officer,
    seed_room_order,
)
from tests.unit.cloud.builders import ROOM, at

PATH = f"/api/v1/rooms/{FACILITY}/{ROOM}/telemetry"
HOUR = 3600.0
# ward-b's person was in the room from T0 - 3 h to T0 - 2 h; ward-a's from T0 - 1 h (seed_room_order).
WARD_B_SPAN = (-3 * HOUR, -2 * HOUR)
WIDE = {"start": at(-4 * HOUR).isoformat(), "end": at(HOUR).isoformat()}


class Client(LoggedIn):
    """The app in process, with a token per seeded account."""

    def __init__(self, http: httpx.AsyncClient, hub: Hub) -> None:
        super().__init__(http)
        self.http = http
        self.hub = hub

    async def get(self, path: str, as_: str, **params: Any) -> httpx.Response:
        """GET with the account's bearer token."""
        return await self.http.get(path, params=params, headers=await self.headers(as_))

    async def points(self, as_: str, **params: Any) -> list[dict[str, Any]]:
        """The room's points as `as_` sees them (200 expected)."""
        response = await self.get(PATH, as_, **params)
        assert response.status_code == 200, response.text
        points: list[dict[str, Any]] = response.json()["points"]
        return points


def reading(seconds: float, faces: int = 1, camera: str = "ok") -> RoomTelemetryPoint:
    values = {
        "faces": faces,
        "allowed": 1,
        "person_present": faces > 0,
        "camera": camera,
        "brightness": 110.0,
    }
    return RoomTelemetryPoint(FACILITY, ROOM, at(seconds), values)


@pytest.fixture
async def client(repo: Repository) -> AsyncIterator[Client]:
    seed_officer(repo, "admin", Role.ADMIN, [])
    seed_officer(repo, "officer-a", Role.WARD_OFFICER, ["ward-a"])
    seed_officer(repo, "officer-b", Role.WARD_OFFICER, ["ward-b"])
    seed_officer(repo, "officer-c", Role.WARD_OFFICER, ["ward-c"])
    seed_officer(repo, "lab-a", Role.LAB, ["ward-a"])
    seed_room_order(repo, full_name="Resident A")
    earlier = seed_room_order(repo, ward="ward-b", full_name="Resident B", starts=at(WARD_B_SPAN[0]))
    repo.orders.update(earlier.id, now=at(WARD_B_SPAN[1]), ends_at=at(WARD_B_SPAN[1]), status="ended")
    seed_room_order(repo, ward="ward-c", room_id="room-102", full_name="Next door C")
    async with hub_http(repo) as (http, app):
        yield Client(http, app.state.hub)


async def test_ingested_room_readings_are_read_back_by_the_rooms_officer(client: Client) -> None:
    hub = client.hub
    assert hub.ingest is not None
    messages = [room_telemetry_message(1, seconds=60), room_telemetry_message(2, "covered", seconds=120)]
    outcome = hub.ingest.processor.process([RawMessage(t, p) for t, p in messages], at(200))
    hub.telemetry.write(outcome.points)  # as ingest does after each batch (the embedded SQL store here)

    response = await client.get(PATH, "officer-a", start=at(0).isoformat(), end=at(600).isoformat())
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["site_id"], body["room_id"], body["truncated"]) == (FACILITY, ROOM, False)
    first, second = body["points"]
    assert first == {
        "time": at(60).isoformat().replace("+00:00", "Z"),
        "faces": 1,
        "allowed": 1,
        "person_present": True,
        "camera": "ok",
        "brightness": 120.5,
        "fps": 5.0,
        "detections": 12,
    }
    assert (second["faces"], second["camera"]) == (2, "covered")
    default_window = await client.points("officer-a")
    assert len(default_window) == 2, "the last hour before the hub's now (T0 + 1 h)"
    limited = await client.get(PATH, "officer-a", start=at(0).isoformat(), end=at(600).isoformat(), limit=1)
    assert len(limited.json()["points"]) == 1 and limited.json()["truncated"] is True


async def test_each_ward_sees_the_room_only_while_its_people_were_there(client: Client) -> None:
    times = [-3.5 * HOUR, -2.5 * HOUR, -1.5 * HOUR, -0.5 * HOUR, 60]
    client.hub.telemetry.write([reading(s) for s in times])

    def seen(points: list[dict[str, Any]]) -> list[str]:
        return [p["time"] for p in points]

    def iso(seconds: float) -> str:
        return at(seconds).isoformat().replace("+00:00", "Z")

    assert seen(await client.points("officer-a", **WIDE)) == [iso(-0.5 * HOUR), iso(60)]
    assert seen(await client.points("officer-b", **WIDE)) == [iso(-2.5 * HOUR)], "an ended order still counts"
    # The admin serves every ward: the span of all the room's orders (before the first, nothing).
    assert seen(await client.points("admin", **WIDE)) == [iso(s) for s in times[1:]]


async def test_room_telemetry_is_refused_outside_the_callers_wards(client: Client) -> None:
    client.hub.telemetry.write([reading(60)])
    window = {"start": at(0).isoformat(), "end": at(600).isoformat()}
    assert (await client.get(PATH, "officer-c", **window)).status_code == 404, "another ward's room"
    assert (await client.get(PATH, "officer-b", **window)).json()["points"] == [], "after its order ended"
    assert (await client.get(PATH, "lab-a", **window)).status_code == 403, "not an officer's role"
    assert (await client.get(PATH, "officer-a", **window)).status_code == 200
    other_site = f"/api/v1/rooms/facility-2/{ROOM}/telemetry"
    assert (await client.get(other_site, "admin", **window)).status_code == 404, "no order in that room"
    assert (await client.get(f"/api/v1/rooms/{FACILITY}/Room_1/telemetry", "admin")).status_code == 422
    backwards = {"start": at(600).isoformat(), "end": at(0).isoformat()}
    assert (await client.get(PATH, "officer-a", **backwards)).status_code == 400
    too_long = {"start": at(0).isoformat(), "end": (at(0) + timedelta(days=40)).isoformat()}
    assert (await client.get(PATH, "officer-a", **too_long)).status_code == 400
    assert (await client.get(PATH, "officer-a", limit=20_001)).status_code == 422
    assert (await client.http.get(PATH)).status_code == 401


async def test_the_route_is_documented_in_openapi(client: Client) -> None:
    spec = (await client.http.get("/openapi.json")).json()
    operation = spec["paths"]["/api/v1/rooms/{site_id}/{room_id}/telemetry"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"site_id", "room_id", "start", "end", "limit"}
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/RoomTelemetryOut"
    )
    assert "caller's" in operation["description"]
