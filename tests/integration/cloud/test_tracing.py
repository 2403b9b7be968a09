"""Contact tracing through the REST API, on SQLite and PostgreSQL: a case made by the lab, a constructed set
of check-ins, crossings and households with known F1 and F2 contacts (and people who are not contacts:
other times, other venues, outside the window), the evidence, the one-call pending orders (idempotent), and
the refusals of roles and wards that do not own a case."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from cloud.access import Role
from cloud.identity import IdentityHasher
from cloud.storage.repository import Repository
from cloud.storage.schema import orders, persons
from cloud.venues import CHECKPOINT_DWELL, DEFAULT_DWELL
from tests.integration.cloud.public_health import IDENTITY_KEY, Api, open_api, seed_staff
from tests.integration.cloud.support import seed_officer

HASHER = IdentityHasher(SecretStr(IDENTITY_KEY))
NUMBERS = {
    name: f"0012030001{n:02d}"
    for n, name in enumerate(
        ["case", "housemate", "neighbour", "a", "b", "c", "d", "f", "g", "h", "i", "j", "l"], start=1
    )
}


def h(name: str) -> str:
    """The keyed hash of a test person's identity number."""
    return HASHER.hash(NUMBERS[name])


def t(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in November 2026 (the hub's clock stands at the 21st, 11:00 UTC)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@dataclass
class World:
    """The constructed venues and the case's id."""

    v1: int
    v2: int
    checkpoint: int
    case_id: int


def visit(repo: Repository, venue_id: int, who: str, start: datetime, end: datetime | None = None) -> None:
    """A check-in (with a check-out at `end`, or none: the default dwell)."""
    checkin = repo.venues.add_checkin(
        venue_id=venue_id, identity_hash=h(who), checked_in_at=start, present_until=start + DEFAULT_DWELL
    )
    if end is not None:
        repo.venues.check_out(checkin.id, checked_out_at=end, present_until=end)


def cross(repo: Repository, venue_id: int, who: str, when: datetime) -> None:
    """A checkpoint crossing."""
    repo.venues.add_crossing(
        venue_id=venue_id,
        identity_hash=h(who),
        direction="in",
        crossed_at=when,
        present_until=when + CHECKPOINT_DWELL,
        status_shown="green",
        recorded_by="seed",
    )


@pytest.fixture
async def api(repo: Repository) -> AsyncIterator[Api]:
    seed_staff(repo)
    async with open_api(repo) as opened:
        yield opened


async def build_world(api: Api) -> World:
    """Citizens, venues, the case (through the lab's API) and everyone's presences."""
    await api.register_citizen(NUMBERS["case"], address="12 Hang Bac")
    await api.register_citizen(NUMBERS["housemate"], address="  12 hang bac ")
    await api.register_citizen(NUMBERS["neighbour"], ward="ward-b", address="12 Hang Bac")
    await api.register_citizen(NUMBERS["a"], address="5 Hang Ma", full_name="Tran Van A")
    await api.register_citizen(NUMBERS["l"], address="5 hang ma")
    body = {"name": "Pho 24", "ward_id": "ward-a", "address": "24 Hang Bac"}
    v1 = (await api.ok("POST", "/venues", "venue-a", 201, json={"kind": "venue", **body}))["id"]
    v2 = (await api.ok("POST", "/venues", "venue-a", 201, json={"kind": "venue", **body, "name": "Bun Cha"}))[
        "id"
    ]
    checkpoint = (
        await api.ok(
            "POST",
            "/venues",
            "venue-b",
            201,
            json={"kind": "checkpoint", "name": "QL5", "ward_id": "ward-b", "address": "QL5 km 20"},
        )
    )["id"]
    repo = api.repo
    visit(repo, v1, "case", t(20, 12), t(20, 13))
    visit(repo, v1, "a", t(20, 12, 30))  # no check-out: default dwell, 30 min together -> F1
    visit(repo, v1, "b", t(20, 13, 30), t(20, 14))  # arrives as A (below) leaves -> not a contact
    visit(repo, v1, "c", t(20, 9), t(20, 10))  # earlier that day -> not a contact
    visit(repo, v2, "d", t(20, 12, 30))  # same time, another venue -> not a contact
    visit(repo, v2, "case", t(18, 12))  # before the window (it starts on the 19th, 08:00)
    visit(repo, v2, "f", t(18, 12, 10))  # -> not a contact
    cross(repo, checkpoint, "case", t(21, 9))
    cross(repo, checkpoint, "g", t(21, 9, 10))  # 5 min at the checkpoint together -> F1 (not registered)
    cross(repo, checkpoint, "h", t(21, 9, 26))  # after the case and G left -> not a contact
    visit(repo, v2, "a", t(20, 18), t(20, 19))
    visit(repo, v2, "i", t(20, 18, 30))  # with A -> F2
    visit(repo, v2, "j", t(20, 20))  # after A -> not a contact
    sample = await api.ok(
        "POST",
        "/samples",
        "lab-a",
        201,
        json={
            "kind": "pcr",
            "ward_id": "ward-a",
            "collected_at": "2026-11-21T08:00:00+00:00",
            "identity_number": NUMBERS["case"],
        },
    )
    outcome = await api.ok("POST", f"/samples/{sample['id']}/result", "lab-a", json={"result": "positive"})
    return World(v1, v2, checkpoint, outcome["case"]["id"])


def by_ref(contacts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["person_ref"]: c for c in contacts}


async def test_tracing_finds_the_known_f1_and_f2_with_the_evidence(api: Api) -> None:
    world = await build_world(api)
    trace = await api.ok("POST", f"/cases/{world.case_id}/contacts", "tracer-a", json={})
    assert trace["window_start"].startswith("2026-11-19T08:00:00")
    contacts = by_ref(trace["contacts"])
    levels = {ref: c["level"] for ref, c in contacts.items()}
    assert levels == {h("housemate"): "F1", h("a"): "F1", h("g"): "F1", h("i"): "F2", h("l"): "F2"}
    a = contacts[h("a")]
    assert a["person"]["full_name"] == "Tran Van A" and a["ward_id"] == "ward-a"
    (evidence,) = a["evidence"]
    assert evidence["kind"] == "checkin" and evidence["via"] == "case" and evidence["venue_id"] == world.v1
    assert evidence["venue_name"] == "Pho 24" and evidence["overlap_s"] == 1800
    assert evidence["start"].startswith("2026-11-20T12:30:00") and evidence["end"].startswith(
        "2026-11-20T13:00"
    )
    g = contacts[h("g")]
    assert g["person"] is None and g["ward_id"] == "ward-b"  # not registered: the checkpoint's ward
    assert [(e["kind"], e["overlap_s"]) for e in g["evidence"]] == [("crossing", 300)]
    (household,) = contacts[h("housemate")]["evidence"]
    assert household["kind"] == "household" and household["address"] == "12 Hang Bac"
    (i_evidence,) = contacts[h("i")]["evidence"]
    assert (
        i_evidence["via"] == h("a") and i_evidence["venue_id"] == world.v2 and i_evidence["overlap_s"] == 1800
    )
    assert [e["kind"] for e in contacts[h("l")]["evidence"]] == ["household"]
    f1_only = await api.ok("POST", f"/cases/{world.case_id}/contacts", "tracer-a", json={"include_f2": False})
    assert {c["level"] for c in f1_only["contacts"]} == {"F1"} and len(f1_only["contacts"]) == 3


async def test_a_narrower_window_leaves_earlier_visits_out(api: Api) -> None:
    world = await build_world(api)
    body = {"window_start": "2026-11-21T00:00:00+00:00", "window_end": "2026-11-21T11:00:00+00:00"}
    trace = await api.ok("POST", f"/cases/{world.case_id}/contacts", "tracer-a", json=body)
    # The check-ins of the 20th are outside: only the checkpoint and the households remain.
    levels = {c["person_ref"]: c["level"] for c in trace["contacts"]}
    assert levels == {h("housemate"): "F1", h("g"): "F1"}


async def test_contacts_become_pending_orders_in_their_wards_in_one_idempotent_call(api: Api) -> None:
    world = await build_world(api)
    placed = await api.ok(
        "POST",
        f"/cases/{world.case_id}/orders",
        "tracer-a",
        json={"levels": ["F1", "F2"], "quarantine_days": 10},
    )
    made = {o["person_ref"]: o for o in placed["orders"]}
    assert set(made) == {h("housemate"), h("a"), h("g"), h("i"), h("l")}
    assert all(o["created"] for o in made.values())
    assert made[h("g")]["ward_id"] == "ward-b" and made[h("i")]["ward_id"] == "ward-a"
    again = await api.ok("POST", f"/cases/{world.case_id}/orders", "tracer-a", json={"levels": ["F1", "F2"]})
    assert not any(o["created"] for o in again["orders"])
    assert {o["person_ref"]: o["order_id"] for o in again["orders"]} == {
        r: o["order_id"] for r, o in made.items()
    }
    listed = await api.ok("GET", "/orders?ward=ward-a", "admin")
    assert len(listed) == 4 and {o["status"] for o in listed} == {"pending"}
    order_a = next(o for o in listed if o["id"] == made[h("a")]["order_id"])
    assert order_a["person"]["full_name"] == "Tran Van A" and order_a["address"] == "5 Hang Ma"
    assert order_a["device_id"] is None and order_a["room_id"] is None
    assert order_a["ends_at"].startswith("2026-12-01T11:00:00")
    with api.repo.read() as conn:
        stored = conn.execute(
            sa.select(persons.c.identity_hash, orders.c.ward_id, orders.c.address).join(
                orders, orders.c.person_id == persons.c.id
            )
        ).all()
    assert {row.identity_hash for row in stored} == set(made)
    assert {row.address for row in stored if row.identity_hash == h("g")} == {"(to be confirmed by the ward)"}


async def test_only_tracing_staff_of_the_case_ward_trace_it(api: Api) -> None:
    world = await build_world(api)
    path = f"/cases/{world.case_id}"
    assert (await api.post(f"{path}/contacts", "tracer-b", json={})).status_code == 404
    assert (await api.post(f"{path}/orders", "tracer-b", json={})).status_code == 404
    assert (await api.get(path, "tracer-b")).status_code == 404
    for user in ("lab-a", "venue-a", "officer-a"):
        assert (await api.post(f"{path}/contacts", user, json={})).status_code == 403, user
        assert (await api.post(f"{path}/orders", user, json={})).status_code == 403, user
    citizen = await api.register_citizen("001203009876")
    assert (await api.post(f"{path}/contacts", citizen, json={})).status_code == 403
    assert (await api.get("/cases", citizen)).status_code == 403
    assert [c["id"] for c in await api.ok("GET", "/cases", "lab-a")] == [world.case_id]
    assert await api.ok("GET", "/cases", "tracer-b") == []
    assert (await api.post(f"{path}/contacts", "admin", json={})).status_code == 200
    with api.repo.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one() == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"window_start": "2026-11-21T00:00:00+00:00", "window_end": "2026-11-20T00:00:00+00:00"}, "after"),
        ({"window_start": "2026-09-01T00:00:00+00:00", "window_end": "2026-11-20T00:00:00+00:00"}, "28 days"),
        ({"window_start": "2026-11-21T00:00:00"}, "timezone"),
        (
            {"window_start": "0001-01-01T00:00:00+00:00", "window_end": "0001-01-02T00:00:00+00:00"},
            "days ago",
        ),
        ({"levels": ["F3"]}, "levels"),
        ({"levels": []}, "levels"),
        ({"quarantine_days": 0}, "quarantine_days"),
        ({"contacts": ["x"]}, "Extra inputs"),
    ],
)
async def test_bad_tracing_bodies_are_422(api: Api, body: dict[str, Any], message: str) -> None:
    world = await build_world(api)
    response = await api.post(f"/cases/{world.case_id}/orders", "tracer-a", json=body)
    assert response.status_code == 422 and message in response.text, response.text
    assert (await api.post("/cases/999/contacts", "tracer-a", json={})).status_code == 404


async def test_a_day_later_the_default_window_still_covers_the_sample(api: Api) -> None:
    world = await build_world(api)
    api.clock.advance(timedelta(days=1).total_seconds())
    trace = await api.ok("POST", f"/cases/{world.case_id}/contacts", "tracer-a", json={})
    assert trace["window_end"].startswith("2026-11-22T11:00:00")
    assert {c["level"] for c in trace["contacts"]} == {"F1", "F2"}


async def test_a_pending_order_is_activated_with_its_bracelet_or_ended(api: Api) -> None:
    seed_officer(api.repo, "supervisor-b", Role.SUPERVISOR, ["ward-b"])
    world = await build_world(api)
    placed = await api.ok("POST", f"/cases/{world.case_id}/orders", "tracer-a", json={"levels": ["F1"]})
    made = {o["person_ref"]: o["order_id"] for o in placed["orders"]}
    first, second = made[h("a")], made[h("housemate")]
    for device in ("0000d001", "0000d002"):
        await api.ok("POST", "/devices", "admin", 201, json={"device_id": device})
    body = {"site_id": "home-a-5", "device_id": "0000d001", "address": "5 Hang Ma, flat 2"}

    assert (await api.post(f"/orders/{first}/activate", "officer-a", json=body)).status_code == 403
    assert (await api.post(f"/orders/{first}/activate", "supervisor-b", json=body)).status_code == 404
    unknown = await api.post(f"/orders/{first}/activate", "admin", json={**body, "device_id": "0000dfff"})
    assert unknown.status_code == 400 and "not registered" in unknown.text
    both = await api.post(f"/orders/{first}/activate", "admin", json={**body, "room_id": "room-1"})
    assert both.status_code == 422

    active = await api.ok("POST", f"/orders/{first}/activate", "admin", json=body)
    assert (active["status"], active["device_id"], active["site_id"]) == ("active", "0000d001", "home-a-5")
    assert active["address"] == "5 Hang Ma, flat 2"
    again = await api.post(f"/orders/{first}/activate", "admin", json=body)
    assert again.status_code == 409 and "not pending" in again.text
    taken = await api.post(f"/orders/{second}/activate", "admin", json=body)
    assert taken.status_code == 409 and "already serves an active order" in taken.text

    # a contact ruled out before being fitted: the pending order is cleared instead
    cleared = {"reason": "cleared", "note": "not at the venue that day"}
    ended = await api.ok("POST", f"/orders/{second}/end", "admin", json=cleared)
    assert (ended["status"], ended["end_reason"], ended["end_note"]) == ("ended", "cleared", cleared["note"])
