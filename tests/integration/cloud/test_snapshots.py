"""Room snapshots on the hub, on SQLite and PostgreSQL: request -> command, answer -> stored image, scope,
timeout, expiry (bytes deleted), bad answers dead-lettered. The command publisher is a fake at its port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from cloud.access import Role
from cloud.api.deps import Hub
from cloud.app import create_app
from cloud.processor import MAX_SNAPSHOT_DEAD_LETTER_BYTES, BatchOutcome, RawMessage
from cloud.settings import HubSettings
from cloud.storage.repository import Repository
from cloud.storage.schema import snapshots
from gateway.protocol import CommandType, SnapshotError, utc_from_timestamp
from qmon.clock import ManualClock
from tests.integration.cloud.support import (
    FACILITY,
    SNAPSHOT_JPEG,
    FakeCommandSender,
    LoggedIn,
    fast_passwords,
    seed_officer,
    seed_room_order,
    snapshot_message,
)
from tests.unit.cloud.builders import ROOM, T0

SECRET = "a-snapshot-test-signing-key-long-enough"
TIMEOUT_S, RETENTION_S = 30.0, 900.0
ROOM_URL = f"/api/v1/rooms/{FACILITY}/{ROOM}/snapshots"


class SnapshotApi(LoggedIn):
    """The hub app in process (lifespan running, no broker) with its fake command sender and clock."""

    def __init__(
        self, client: httpx.AsyncClient, hub: Hub, sender: FakeCommandSender, clock: ManualClock
    ) -> None:
        super().__init__(client)
        self.hub, self.sender, self.clock = hub, sender, clock

    async def call(self, method: str, path: str, as_: str) -> httpx.Response:
        return await self.client.request(method, path, headers=await self.headers(as_))

    async def request(self, as_: str = "officer-a") -> dict[str, Any]:
        response = await self.call("POST", ROOM_URL, as_)
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        assert response.headers["location"] == f"/api/v1/snapshots/{body['id']}"
        return body

    async def status(self, snapshot_id: str, as_: str = "officer-a") -> dict[str, Any]:
        response = await self.call("GET", f"/api/v1/snapshots/{snapshot_id}", as_)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def ingest(self, *messages: tuple[str, bytes]) -> BatchOutcome:
        """Apply MQTT messages through the hub's own batch processor, at the clock's time."""
        assert self.hub.ingest is not None
        return self.hub.ingest.processor.process(
            [RawMessage(t, p) for t, p in messages], utc_from_timestamp(self.clock.now())
        )

    def stored_jpeg(self, snapshot_id: str) -> bytes | None:
        with self.hub.repository.read() as conn:
            jpeg: bytes | None = conn.execute(
                sa.select(snapshots.c.jpeg).where(snapshots.c.id == snapshot_id)
            ).scalar_one()
        return jpeg


async def eventually(
    condition: Callable[[], bool], what: str, tick: Callable[[], None], timeout: float = 10.0
) -> None:
    """Wait (polling, without blocking the loop) until `condition()` holds, calling `tick` between polls."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        tick()
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@asynccontextmanager
async def open_api(repo: Repository, sender: FakeCommandSender | None) -> AsyncIterator[SnapshotApi]:
    seed_officer(repo, "admin", Role.ADMIN, [])
    seed_officer(repo, "officer-a", Role.WARD_OFFICER, ["ward-a"])
    seed_officer(repo, "officer-b", Role.WARD_OFFICER, ["ward-b"])
    seed_room_order(repo, ward="ward-a")
    seed_room_order(repo, ward="ward-b", room_id="room-202", full_name="Pham Van D")
    settings = HubSettings(
        jwt_secret=SECRET,
        database_url="sqlite:///unused.db",
        auto_migrate=False,
        snapshot_timeout_s=TIMEOUT_S,
        snapshot_retention_s=RETENTION_S,
    )
    clock = ManualClock(T0.timestamp() + 3600)
    app = create_app(
        settings,
        clock=clock,
        repository=repo,
        start_ingest=False,
        passwords=fast_passwords(),
        commands=sender,
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://hub") as client,
    ):
        yield SnapshotApi(client, app.state.hub, sender or FakeCommandSender(), clock)


@pytest.fixture
async def api(repo: Repository) -> AsyncIterator[SnapshotApi]:
    async with open_api(repo, FakeCommandSender()) as api:
        yield api


async def test_a_request_commands_the_rooms_site_and_the_answer_is_served_as_jpeg(api: SnapshotApi) -> None:
    assert api.sender.started
    body = await api.request()
    assert (body["status"], body["site_id"], body["room_id"], body["requested_by"]) == (
        "pending",
        FACILITY,
        ROOM,
        "officer-a",
    )
    assert body["image_url"] is None and body["error"] is None
    (command,) = api.sender.sent
    assert (str(command.command_id), command.site_id, command.room_id) == (body["id"], FACILITY, ROOM)
    assert command.type is CommandType.SNAPSHOT
    assert command.time == utc_from_timestamp(api.clock.now())
    assert "officer" not in command.model_dump_json()  # who asked stays on the hub
    pending = await api.call("GET", f"/api/v1/snapshots/{body['id']}/image", "officer-a")
    assert pending.status_code == 409

    api.clock.advance(2)
    taken = utc_from_timestamp(api.clock.now() - 0.5)
    outcome = api.ingest(snapshot_message(command, faces_blurred=2, taken_at=taken))
    assert outcome.snapshots == 1 and not outcome.rejected

    ready = await api.status(body["id"])
    assert (ready["status"], ready["faces_blurred"], ready["error"]) == ("ready", 2, None)
    assert ready["image_url"] == f"/api/v1/snapshots/{body['id']}/image"
    assert ready["taken_at"] == taken.isoformat().replace("+00:00", "Z")
    received = utc_from_timestamp(api.clock.now())
    assert ready["received_at"] == received.isoformat().replace("+00:00", "Z")
    assert ready["expires_at"].startswith(utc_from_timestamp(api.clock.now() + RETENTION_S).isoformat()[:19])
    image = await api.call("GET", ready["image_url"], "officer-a")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content == SNAPSHOT_JPEG
    assert image.headers["cache-control"] == "no-store"
    admin = await api.call("GET", ready["image_url"], "admin")
    assert admin.status_code == 200 and admin.content == SNAPSHOT_JPEG


async def test_another_wards_officer_gets_404_for_the_room_and_its_snapshots(api: SnapshotApi) -> None:
    body = await api.request()
    (command,) = api.sender.sent
    api.ingest(snapshot_message(command))
    assert (await api.call("POST", ROOM_URL, "officer-b")).status_code == 404
    assert (await api.call("GET", f"/api/v1/snapshots/{body['id']}", "officer-b")).status_code == 404
    assert (await api.call("GET", f"/api/v1/snapshots/{body['id']}/image", "officer-b")).status_code == 404
    assert len(api.sender.sent) == 1  # nothing was sent for the refused request
    # Rooms with no active order (or unknown ones) do not exist for anyone, an admin included.
    assert (
        await api.call("POST", f"/api/v1/rooms/{FACILITY}/room-999/snapshots", "admin")
    ).status_code == 404
    assert (await api.call("POST", f"/api/v1/rooms/{FACILITY}/Room_1/snapshots", "admin")).status_code == 422
    unknown = "/api/v1/snapshots/00000000-0000-4000-8000-000000000000"
    assert (await api.call("GET", unknown, "officer-a")).status_code == 404
    assert (await api.call("GET", "/api/v1/snapshots/not-a-uuid", "officer-a")).status_code == 422
    # officer-b's own room is theirs.
    assert (
        await api.call("POST", f"/api/v1/rooms/{FACILITY}/room-202/snapshots", "officer-b")
    ).status_code == 202


async def test_the_image_expires_after_its_retention_and_its_bytes_are_deleted(api: SnapshotApi) -> None:
    body = await api.request()
    (command,) = api.sender.sent
    api.ingest(snapshot_message(command))
    assert api.stored_jpeg(body["id"]) == SNAPSHOT_JPEG
    api.clock.advance(RETENTION_S - 1)
    api.hub.snapshots.sweep()
    assert (await api.status(body["id"]))["status"] == "ready"
    assert api.stored_jpeg(body["id"]) == SNAPSHOT_JPEG

    api.clock.advance(2 + api.hub.snapshots.policy.sweep_interval_s)
    # Past the retention the image is gone for the officer at once ...
    expired = await api.status(body["id"])
    assert (expired["status"], expired["image_url"], expired["expires_at"]) == ("expired", None, None)
    assert (await api.call("GET", f"/api/v1/snapshots/{body['id']}/image", "officer-a")).status_code == 410
    # ... and the hub's sweeper, woken by the clock, deletes the bytes, keeping the request (who asked,
    # when) as expired.
    interval = api.hub.snapshots.policy.sweep_interval_s
    await eventually(
        lambda: api.stored_jpeg(body["id"]) is None,
        "the sweeper to delete the image",
        tick=lambda: api.clock.advance(interval),  # time goes on, and the sweeper's next turn comes
    )
    assert api.hub.snapshots.sweep() == (0, 0)
    record = api.hub.repository.snapshots.get(body["id"])
    assert record is not None and (record.status, record.has_image, record.requested_by) == (
        "expired",
        False,
        "officer-a",
    )
    assert (await api.call("GET", f"/api/v1/snapshots/{body['id']}/image", "officer-a")).status_code == 410


async def test_an_unanswered_request_fails_and_a_late_answer_is_dropped(api: SnapshotApi) -> None:
    body = await api.request()
    (command,) = api.sender.sent
    api.clock.advance(TIMEOUT_S + 1)
    failed = await api.status(body["id"])
    assert (failed["status"], failed["error"]) == ("failed", "timeout")
    outcome = api.ingest(snapshot_message(command))  # swept or not, the deadline holds
    assert outcome.snapshots == 0 and outcome.flagged["unmatched_snapshot"] == 1
    assert api.stored_jpeg(body["id"]) is None
    api.hub.snapshots.sweep()
    record = api.hub.repository.snapshots.get(body["id"])
    assert record is not None and (record.status, record.error) == ("failed", "timeout")
    image = await api.call("GET", f"/api/v1/snapshots/{body['id']}/image", "officer-a")
    assert image.status_code == 409 and "timeout" in image.text


async def test_an_edge_refusal_fails_the_request_with_its_reason(api: SnapshotApi) -> None:
    body = await api.request()
    (command,) = api.sender.sent
    outcome = api.ingest(snapshot_message(command, error=SnapshotError.CAMERA_OFFLINE))
    assert outcome.snapshots == 1
    failed = await api.status(body["id"])
    assert (failed["status"], failed["error"], failed["faces_blurred"]) == ("failed", "camera_offline", None)
    # A second answer (a broker re-delivery) changes nothing.
    again = api.ingest(snapshot_message(command))
    assert again.snapshots == 0 and again.flagged["unmatched_snapshot"] == 1
    assert (await api.status(body["id"]))["status"] == "failed"


async def test_answers_must_match_the_request_and_bad_ones_are_dead_lettered(api: SnapshotApi) -> None:
    body = await api.request()
    (command,) = api.sender.sent
    topic, payload = snapshot_message(command)
    wrong_room = snapshot_message(command, room_id="room-202")
    other_site = snapshot_message(command, site_id="facility-2")  # a site answering for another's request
    impostor = (topic, json.dumps({**json.loads(payload), "site_id": "facility-2"}).encode())
    malformed = (topic, payload.replace(b'"jpeg":"/9j/', b'"jpeg":"iVBO'))  # a PNG's base64, not a JPEG
    outcome = api.ingest(
        wrong_room,
        other_site,
        impostor,
        malformed,
        (topic, b"{not json"),
        (topic.replace("snapshots", "commands"), payload),
    )
    assert outcome.snapshots == 0 and outcome.flagged["unmatched_snapshot"] == 2
    assert dict(outcome.rejected) == {
        "site_mismatch": 1,
        "invalid_payload": 1,
        "invalid_json": 1,
        "unknown_channel": 1,
    }
    letters = api.hub.repository.dead_letters.list()
    assert sorted(d.reason.split(":")[0] for d in letters) == [
        "invalid_json",
        "invalid_payload",
        "site_mismatch",
        "unknown_channel",
    ]
    invalid = next(d for d in letters if d.reason.startswith("invalid_payload"))
    assert "jpeg" in invalid.reason and invalid.topic == topic
    # A refused snapshot may hold a picture: only the head (naming the request) is kept.
    assert len(payload) > MAX_SNAPSHOT_DEAD_LETTER_BYTES
    assert len(invalid.payload) == MAX_SNAPSHOT_DEAD_LETTER_BYTES and body["id"].encode() in invalid.payload
    assert (await api.status(body["id"]))["status"] == "pending"
    assert api.ingest((topic, payload)).snapshots == 1  # the real answer still counts
    assert (await api.status(body["id"]))["status"] == "ready"


async def test_a_command_that_cannot_be_sent_fails_at_once(repo: Repository) -> None:
    async with open_api(repo, FakeCommandSender(accept=False)) as api:
        body = await api.request()
        assert (body["status"], body["error"]) == ("failed", "not_sent")


async def test_without_a_command_sender_requests_are_503(repo: Repository) -> None:
    async with open_api(repo, None) as api:  # start_ingest=False and no sender: no broker connection
        response = await api.call("POST", ROOM_URL, "officer-a")
        assert response.status_code == 503 and "broker" in response.text
