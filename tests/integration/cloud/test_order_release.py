"""Ending quarantine orders under the release policy, through the REST API on SQLite and PostgreSQL: a fresh
negative sample of the person (their own, or a pool they were in) releases them; a positive, pending,
too old, wrong-kind or another person's sample is refused with a message; reasons without a test need a
note; `cleared` is for pending orders; the policy can be turned off; other wards see nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from cloud.access import Role
from cloud.storage.repository import Repository
from tests.integration.cloud.public_health import Api, open_api, seed_staff
from tests.integration.cloud.support import seed_officer, seed_room_order
from tests.unit.cloud.builders import T0

PERSON = "001203004567"
OTHER = "001203009999"
FRESH = "2026-11-21T08:00:00+00:00"  # the hub's clock is T0 + 1 h = 2026-11-21 11:00 UTC
STALE = "2026-11-17T08:00:00+00:00"  # 99 hours before: past the default 72


def order_body(
    identity_number: str | None = PERSON, room: str = "room-7", **overrides: Any
) -> dict[str, Any]:
    """A facility-room order in ward-a that started on 2026-11-14."""
    person: dict[str, Any] = {"full_name": "Tran Van Khoi"}
    if identity_number is not None:
        person["identity_number"] = identity_number
    return {
        "person": person,
        "ward_id": "ward-a",
        "address": "Isolation facility 1",
        "site_id": "facility-1",
        "room_id": room,
        "starts_at": "2026-11-14T00:00:00+00:00",
        "ends_at": "2026-11-28T00:00:00+00:00",
        **overrides,
    }


@asynccontextmanager
async def release_api(repo: Repository, **settings: Any) -> AsyncIterator[Api]:
    """The hub on `repo` with the public-health staff, a supervisor per ward, and these settings."""
    seed_staff(repo)
    seed_officer(repo, "sup-a", Role.SUPERVISOR, ["ward-a"])
    seed_officer(repo, "sup-b", Role.SUPERVISOR, ["ward-b"])
    async with open_api(repo, **settings) as opened:
        yield opened


@pytest.fixture
async def api(repo: Repository) -> AsyncIterator[Api]:
    async with release_api(repo) as opened:
        yield opened


async def create_order(api: Api, **kwargs: Any) -> dict[str, Any]:
    order: dict[str, Any] = await api.ok("POST", "/orders", "sup-a", 201, json=order_body(**kwargs))
    return order


async def sample_of(api: Api, result: str | None, **overrides: Any) -> int:
    """The id of a sample of PERSON registered by lab-a (collected FRESH), with `result` (None: pending)."""
    body = {"kind": "pcr", "ward_id": "ward-a", "collected_at": FRESH, "identity_number": PERSON, **overrides}
    if "members" in body:
        del body["identity_number"]
    sample: dict[str, Any] = await api.ok("POST", "/samples", "lab-a", 201, json=body)
    if result is not None:
        await api.ok("POST", f"/samples/{sample['id']}/result", "lab-a", json={"result": result})
    return int(sample["id"])


async def end(api: Api, order_id: int, as_: str = "sup-a", **body: Any) -> Any:
    return await api.post(f"/orders/{order_id}/end", as_, json=body)


async def test_a_fresh_negative_pcr_releases_the_person(api: Api) -> None:
    order = await create_order(api)
    assert order["person"]["identified"] and order["end_reason"] is None and order["ended_at"] is None
    sample_id = await sample_of(api, "negative")
    ended = await end(api, order["id"], reason="negative_test", release_sample_id=sample_id)
    assert ended.status_code == 200, ended.text
    out = ended.json()
    assert (out["status"], out["end_reason"], out["release_sample_id"]) == (
        "ended",
        "negative_test",
        sample_id,
    )
    assert (out["ended_by"], out["end_note"]) == ("sup-a", None)
    assert out["ended_at"].startswith("2026-11-21T11:00:00") and out["ends_at"] == out["ended_at"]
    assert (await api.ok("GET", f"/orders/{order['id']}", "officer-a"))["release_sample_id"] == sample_id
    again = await end(api, order["id"], reason="negative_test", release_sample_id=sample_id)
    assert again.status_code == 409 and "has ended" in again.text


async def test_samples_that_do_not_release_are_refused_with_what_is_wrong(api: Api) -> None:
    order = await create_order(api)
    refusals = {
        "has no result yet": await sample_of(api, None),
        "is positive": await sample_of(api, "positive"),
        "is invalid": await sample_of(api, "invalid"),
        "more than 72 hours ago": await sample_of(api, "negative", collected_at=STALE),
        "is not a sample of this order's person": await sample_of(api, "negative", identity_number=OTHER),
        "is not a pool with this order's person": await sample_of(
            api, "negative", members=[OTHER, "001203008888"]
        ),
        "before the order started": await sample_of(
            api, "negative", collected_at="2026-11-13T08:00:00+00:00"
        ),
    }
    for message, sample_id in refusals.items():
        refused = await end(api, order["id"], reason="negative_test", release_sample_id=sample_id)
        assert refused.status_code == 422 and message in refused.json()["detail"], (message, refused.text)
    missing = await end(api, order["id"], reason="negative_test")
    assert missing.status_code == 422 and "needs release_sample_id" in missing.text
    unknown = await end(api, order["id"], reason="negative_test", release_sample_id=99999)
    assert unknown.status_code == 422 and "sample 99999 not found" in unknown.text
    no_test = await end(api, order["id"], reason="completed")
    assert no_test.status_code == 422 and "requires a negative test" in no_test.text
    old_client = await api.client.patch(
        f"/api/v1/orders/{order['id']}", json={"status": "ended"}, headers=await api.headers("sup-a")
    )
    assert old_client.status_code == 422 and "release_sample_id" in old_client.text
    assert (await api.ok("GET", f"/orders/{order['id']}", "sup-a"))["status"] == "active"


async def test_a_negative_pool_the_person_was_in_releases_them(api: Api) -> None:
    order = await create_order(api)
    pool = await sample_of(api, "negative", members=["001203008888", PERSON, OTHER])
    ended = await end(api, order["id"], reason="negative_test", release_sample_id=pool)
    assert ended.status_code == 200, ended.text
    assert (ended.json()["end_reason"], ended.json()["release_sample_id"]) == ("negative_test", pool)


async def test_reasons_without_a_test_need_a_note(api: Api) -> None:
    order = await create_order(api)
    for reason in ("transferred", "entered_in_error"):
        refused = await end(api, order["id"], reason=reason, note="   ")
        assert refused.status_code == 422 and f"as {reason} needs a note" in refused.text
    with_sample = await end(api, order["id"], reason="transferred", note="x", release_sample_id=1)
    assert with_sample.status_code == 422 and "goes with reason negative_test" in with_sample.text
    assert (await end(api, order["id"], reason="recovered", note="x")).status_code == 422
    ended = await end(api, order["id"], reason="transferred", note="  Bach Mai hospital, ward 3 ")
    assert ended.status_code == 200, ended.text
    assert (ended.json()["end_reason"], ended.json()["end_note"]) == (
        "transferred",
        "Bach Mai hospital, ward 3",
    )


async def test_only_a_pending_order_can_be_cleared(api: Api) -> None:
    active = await create_order(api)
    refused = await end(api, active["id"], reason="cleared", note="ruled out")
    assert refused.status_code == 409 and "only a pending order can be cleared" in refused.text
    placed = api.repo.tracing
    with api.repo.write() as conn:
        pending = placed.place_pending_order(
            identity_hash="f" * 64,
            full_name="Traced Contact",
            phone=None,
            ward_id="ward-a",
            address="unknown",
            starts_at=T0,
            ends_at=T0.replace(day=28),
            created_by="tracer-a",
            now=T0,
            conn=conn,
        )
    cleared = await end(api, pending.order_id, reason="cleared", note="not at the venue that day")
    assert cleared.status_code == 200, cleared.text
    out = cleared.json()
    assert (out["status"], out["end_reason"], out["ends_at"]) == ("ended", "cleared", out["ended_at"])


async def test_a_person_without_an_identity_number_cannot_be_released_by_a_test(api: Api) -> None:
    order = await create_order(api, identity_number=None)
    assert not order["person"]["identified"]
    refused = await end(
        api, order["id"], reason="negative_test", release_sample_id=await sample_of(api, "negative")
    )
    assert refused.status_code == 422 and "no identity number on record" in refused.text
    assert "transferred" in refused.text  # says what to do instead


async def test_an_identity_number_reuses_the_person_once_their_order_ended(api: Api) -> None:
    first = await create_order(api, identity_number="0012 0300 4567")
    taken = await api.post("/orders", "sup-a", json=order_body(room="room-8"))
    assert taken.status_code == 409 and f"order {first['id']}" in taken.text
    await end(api, first["id"], reason="entered_in_error", note="wrong room")
    second = await create_order(api, room="room-8")
    assert (
        second["person"]["id"] == first["person"]["id"] and second["person"]["full_name"] == "Tran Van Khoi"
    )
    bad = await api.post("/orders", "sup-a", json=order_body(identity_number="12345", room="room-9"))
    assert bad.status_code == 422


async def test_other_wards_and_ward_officers_cannot_end_orders(api: Api) -> None:
    order = await create_order(api)
    sample_id = await sample_of(api, "negative")
    body = {"reason": "negative_test", "release_sample_id": sample_id}
    assert (await end(api, order["id"], "sup-b", **body)).status_code == 404
    assert (await end(api, order["id"], "officer-a", **body)).status_code == 403
    assert (await end(api, order["id"], "sup-a", **body)).status_code == 200


async def test_with_the_policy_off_no_test_is_needed(repo: Repository) -> None:
    async with release_api(repo, order_release={"require_negative_test": False}) as api:
        order = await create_order(api)
        ended = await end(api, order["id"], reason="completed")
        assert ended.status_code == 200 and ended.json()["end_reason"] == "completed", ended.text
        seeded = seed_room_order(api.repo, room_id="room-2")  # an old client's `status: ended` still works
        old_client = await api.client.patch(
            f"/api/v1/orders/{seeded.id}", json={"status": "ended"}, headers=await api.headers("sup-a")
        )
        assert old_client.status_code == 200 and old_client.json()["end_reason"] == "completed"


async def test_only_the_configured_kinds_and_age_release(repo: Repository) -> None:
    settings = {"order_release": {"test_kinds": ["pcr"], "max_sample_age_h": 2}}
    async with release_api(repo, **settings) as api:
        order = await create_order(api)
        rapid = await sample_of(
            api, "negative", kind="rapid_antigen", collected_at="2026-11-21T10:30:00+00:00"
        )
        refused = await end(api, order["id"], reason="negative_test", release_sample_id=rapid)
        assert refused.status_code == 422 and "releases on pcr only" in refused.text
        three_hours = await sample_of(api, "negative")
        refused = await end(api, order["id"], reason="negative_test", release_sample_id=three_hours)
        assert refused.status_code == 422 and "more than 2 hours ago" in refused.text
        fresh = await sample_of(api, "negative", collected_at="2026-11-21T10:30:00+00:00")
        assert (
            await end(api, order["id"], reason="negative_test", release_sample_id=fresh)
        ).status_code == 200
