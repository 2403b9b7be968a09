"""Citizens and their declarations through the REST API, on SQLite and PostgreSQL: registration and login,
identity numbers kept only as keyed hashes, ownership and ward scopes, role refusals, bad bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from cloud.access import Role
from cloud.errors import InvalidRequestError
from cloud.storage.repository import Repository
from cloud.storage.schema import citizens, declarations
from tests.integration.cloud.support import PASSWORD, LoggedIn, hub_http, seed_officer
from tests.unit.cloud.builders import T0

IDENTITY_KEY = "a-citizens-test-identity-hash-key-long-enough"
CCCD = "001203004567"
CMND = "123456789"
TODAY = T0.date().isoformat()  # 2026-11-21


def registration(**overrides: Any) -> dict[str, Any]:
    """A valid registration body for ward-a."""
    body = {
        "identity_number": "001 203 004 567",
        "full_name": "Pham Thi Dung",
        "birth_date": "1990-04-12",
        "ward_id": "ward-a",
        "password": PASSWORD,
    }
    return {**body, **overrides}


HEALTH: dict[str, Any] = {
    "kind": "health",
    "symptoms": ["fever", "cough"],
    "exposure": True,
    "exposure_detail": "shared an office with a confirmed case",
    "travel": [{"place": "Ben Thanh market", "visited_on": "2026-11-15"}],
}
TRAVEL: dict[str, Any] = {
    "kind": "travel",
    "origin": "Ha Noi",
    "destination": "Da Nang",
    "means": "plane",
    "vehicle": "VN123",
    "departs_on": "2026-11-25",
    "arrives_on": "2026-11-25",
}
FEEDBACK: dict[str, Any] = {
    "kind": "feedback",
    "category": "suspected_quarantine_breach",
    "place": {"ward_id": "ward-b", "description": "14 Hang Ma"},
    "description": "the person in home quarantine went out twice today",
    "observed_on": TODAY,
}


class Api(LoggedIn):
    """An HTTP client on the app (lifespan running) that logs in once per user name."""

    def __init__(self, client: httpx.AsyncClient, repo: Repository) -> None:
        super().__init__(client)
        self.repo = repo

    async def register(self, **overrides: Any) -> str:
        """Register a citizen; their handle."""
        response = await self.client.post("/api/v1/citizens/register", json=registration(**overrides))
        assert response.status_code == 201, response.text
        handle: str = response.json()["handle"]
        return handle

    async def file(self, as_: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.post("/api/v1/citizens/me/declarations", as_, json=body)
        assert response.status_code == 201, response.text
        declaration: dict[str, Any] = response.json()
        return declaration


async def open_api(repo: Repository, **settings: Any) -> AsyncIterator[Api]:
    async with hub_http(repo, **settings) as (client, _app):
        yield Api(client, repo)


@pytest.fixture
async def api(repo: Repository) -> AsyncIterator[Api]:
    seed_officer(repo, "admin", Role.ADMIN, [])
    seed_officer(repo, "sup-a", Role.SUPERVISOR, ["ward-a"])
    seed_officer(repo, "officer-a", Role.WARD_OFFICER, ["ward-a"])
    seed_officer(repo, "officer-b", Role.WARD_OFFICER, ["ward-b"])
    seed_officer(repo, "lab-a", Role.LAB, ["ward-a"])
    seed_officer(repo, "venue-b", Role.VENUE_STAFF, ["ward-b"])
    async for opened in open_api(repo, identity_hash_key=IDENTITY_KEY):
        yield opened


async def test_a_citizen_registers_logs_in_with_the_handle_and_reads_their_record(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/citizens/register", json=registration(phone="+84 912 000 111", address="3 Hang Dao")
    )
    assert response.status_code == 201, response.text
    registered = response.json()
    handle = registered["handle"]
    assert handle.startswith("c-") and len(handle) == 10
    assert (await api.login(handle, "wrong password!!")).status_code == 401
    me = (await api.get("/api/v1/citizens/me", handle)).json()
    assert me == registered
    assert (
        me["full_name"] == "Pham Thi Dung" and me["birth_date"] == "1990-04-12" and me["ward_id"] == "ward-a"
    )
    assert me["phone"] == "+84 912 000 111" and me["address"] == "3 Hang Dao"
    assert "identity_number" not in me and not any(CCCD in str(v) for v in me.values())
    auth_me = (await api.get("/api/v1/auth/me", handle)).json()
    assert auth_me == {"username": handle, "role": "citizen", "wards": []}
    assert (await api.get("/api/v1/citizens/me", "officer-a")).status_code == 403


async def test_the_identity_number_is_stored_only_as_a_keyed_hash(api: Api) -> None:
    await api.register()
    await api.register(identity_number=CMND, full_name="Vu Thi Giang")
    with api.repo.read() as conn:
        rows = conn.execute(sa.select(citizens)).mappings().all()
    assert len(rows) == 2
    for row in rows:
        stored = " ".join(str(value) for value in row.values())
        assert CCCD not in stored and CMND not in stored
        assert len(row["identity_hash"]) == 64


async def test_staff_of_the_ward_find_a_citizen_by_identity_number(api: Api) -> None:
    await api.register()
    for user in ("officer-a", "lab-a", "admin"):
        found = await api.post("/api/v1/citizens/lookup", user, json={"identity_number": CCCD})
        assert found.status_code == 200, user
        assert found.json()["full_name"] == "Pham Thi Dung" and "handle" not in found.json()
    spaced = await api.post("/api/v1/citizens/lookup", "officer-a", json={"identity_number": "001203 004567"})
    assert spaced.status_code == 200
    for user, number in (("officer-b", CCCD), ("venue-b", CCCD), ("officer-a", "001203004568")):
        missing = await api.post("/api/v1/citizens/lookup", user, json={"identity_number": number})
        assert missing.status_code == 404, user
    citizen = await api.register(identity_number=CMND)
    refused = await api.post("/api/v1/citizens/lookup", citizen, json={"identity_number": CCCD})
    assert refused.status_code == 403


async def test_registering_the_same_identity_number_twice_conflicts(api: Api) -> None:
    await api.register()
    again = await api.client.post(
        "/api/v1/citizens/register",
        json=registration(identity_number="001203004567", full_name="Someone Else"),
    )
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    with api.repo.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(citizens)).scalar_one() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"identity_number": "12345"}, "9 digits (CMND) or 12 digits (CCCD)"),
        ({"identity_number": "00120300456A"}, "9 digits (CMND) or 12 digits (CCCD)"),
        ({"password": "short"}, "at least 12 characters"),
        ({"ward_id": "ward a!"}, "ward_id"),
        ({"birth_date": "2030-01-01"}, "birth_date"),
        ({"full_name": ""}, "full_name"),
        ({"nationality": "VN"}, "Extra inputs are not permitted"),
    ],
)
async def test_bad_registrations_are_422_with_the_reason(
    api: Api, overrides: dict[str, Any], message: str
) -> None:
    response = await api.client.post("/api/v1/citizens/register", json=registration(**overrides))
    assert response.status_code == 422, response.text
    assert message in response.text


async def test_citizen_routes_answer_503_without_an_identity_hash_key(repo: Repository) -> None:
    async for api in open_api(repo):
        response = await api.client.post("/api/v1/citizens/register", json=registration())
        assert response.status_code == 503 and "identity_hash_key" in response.json()["detail"]


@pytest.mark.parametrize("body", [HEALTH, TRAVEL, FEEDBACK], ids=["health", "travel", "feedback"])
async def test_each_declaration_kind_is_filed_and_read_back_by_its_owner(
    api: Api, body: dict[str, Any]
) -> None:
    citizen = await api.register()
    filed = await api.file(citizen, body)
    expected = {k: v for k, v in body.items() if k != "kind"}
    assert filed["kind"] == body["kind"] and filed["details"] == expected
    assert filed["ward_id"] == ("ward-b" if body["kind"] == "feedback" else "ward-a")
    assert (await api.get(f"/api/v1/citizens/me/declarations/{filed['id']}", citizen)).json() == filed
    assert (await api.get("/api/v1/citizens/me/declarations", citizen)).json() == [filed]
    listed = await api.get("/api/v1/citizens/me/declarations", citizen, params={"kind": "other"})
    assert listed.status_code == 422


async def test_another_citizen_gets_404_and_sees_none_of_them(api: Api) -> None:
    owner = await api.register()
    other = await api.register(identity_number=CMND, full_name="Vu Thi Giang")
    filed = await api.file(owner, HEALTH)
    assert (await api.get(f"/api/v1/citizens/me/declarations/{filed['id']}", other)).status_code == 404
    assert (await api.get("/api/v1/citizens/me/declarations", other)).json() == []


async def test_officers_of_the_concerned_ward_read_declarations_and_other_wards_get_404(api: Api) -> None:
    citizen = await api.register(phone="+84 912 000 111")
    health = await api.file(citizen, HEALTH)
    travel = await api.file(citizen, TRAVEL)
    feedback = await api.file(citizen, FEEDBACK)  # about a place in ward-b
    for user in ("officer-a", "sup-a", "admin"):
        for filed in (health, travel):
            seen = await api.get(f"/api/v1/declarations/{filed['id']}", user)
            assert seen.status_code == 200, user
            assert seen.json()["details"] == filed["details"]
            assert seen.json()["citizen"]["full_name"] == "Pham Thi Dung"
            assert seen.json()["citizen"]["phone"] == "+84 912 000 111"
    assert (await api.get(f"/api/v1/declarations/{feedback['id']}", "officer-a")).status_code == 404
    for filed in (health, travel):
        assert (await api.get(f"/api/v1/declarations/{filed['id']}", "officer-b")).status_code == 404
    seen_by_b = await api.get(f"/api/v1/declarations/{feedback['id']}", "officer-b")
    assert seen_by_b.status_code == 200 and seen_by_b.json()["citizen"] is None  # the reporter is withheld
    listed_a = (await api.get("/api/v1/declarations", "officer-a")).json()
    assert [d["id"] for d in listed_a] == [travel["id"], health["id"]]
    only_health = (await api.get("/api/v1/declarations", "officer-a", params={"kind": "health"})).json()
    assert [d["id"] for d in only_health] == [health["id"]]
    assert [d["id"] for d in (await api.get("/api/v1/declarations", "officer-b")).json()] == [feedback["id"]]
    other_ward = await api.get("/api/v1/declarations", "officer-b", params={"ward": "ward-a"})
    assert other_ward.json() == []
    assert len((await api.get("/api/v1/declarations", "admin")).json()) == 3


async def test_only_citizens_file_and_only_officers_list_a_wards_declarations(api: Api) -> None:
    citizen = await api.register()
    await api.file(citizen, HEALTH)
    for user in ("officer-a", "sup-a", "admin", "lab-a"):
        refused = await api.post("/api/v1/citizens/me/declarations", user, json=HEALTH)
        assert refused.status_code == 403, user
        assert (await api.get("/api/v1/citizens/me/declarations", user)).status_code == 403, user
    for user in (citizen, "lab-a", "venue-b"):
        assert (await api.get("/api/v1/declarations", user)).status_code == 403, user
        assert (await api.get("/api/v1/declarations/1", user)).status_code == 403, user
    for path in ("/api/v1/alerts", "/api/v1/orders", "/api/v1/devices", "/api/v1/sites"):
        assert (await api.get(path, citizen)).status_code == 403, path
    with api.repo.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(declarations)).scalar_one() == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**HEALTH, "symptoms": ["fever", "sneezing"]}, "symptoms"),
        ({**HEALTH, "symptoms": ["fever", "fever"]}, "must not repeat"),
        ({**HEALTH, "exposure": False}, "exposure_detail is only for exposure: true"),
        ({**HEALTH, "travel": [{"place": "Hue", "visited_on": "2026-10-01"}]}, "dates must be between"),
        ({**HEALTH, "travel": [{"place": "Hue", "visited_on": "2026-11-30"}]}, "dates must be between"),
        ({**HEALTH, "travel": [{"place": "x" * 201, "visited_on": TODAY}]}, "at most 200 characters"),
        ({**HEALTH, "travel": [{"place": "Hue", "visited_on": TODAY}] * 51}, "at most 50 items"),
        ({**HEALTH, "diagnosis": "flu"}, "Extra inputs are not permitted"),
        ({**TRAVEL, "arrives_on": "2026-11-24"}, "arrives_on must not be before departs_on"),
        ({**TRAVEL, "means": "rocket"}, "means"),
        ({**TRAVEL, "departs_on": "2027-02-01", "arrives_on": "2027-02-01"}, "dates must be between"),
        ({**FEEDBACK, "category": "noise"}, "category"),
        ({**FEEDBACK, "place": {"ward_id": "ward-b"}}, "description"),
        ({**FEEDBACK, "description": "x" * 2001}, "at most 2000 characters"),
        ({**FEEDBACK, "kind": "complaint"}, "does not match any of the expected tags"),
        ({"symptoms": []}, "Unable to extract tag using discriminator 'kind'"),
    ],
)
async def test_bad_declarations_are_422_with_the_reason(api: Api, body: dict[str, Any], message: str) -> None:
    citizen = await api.register()
    response = await api.post("/api/v1/citizens/me/declarations", citizen, json=body)
    assert response.status_code == 422, response.text
    assert message in response.text
    assert (await api.get("/api/v1/citizens/me/declarations", citizen)).json() == []


@pytest.mark.parametrize(
    ("username", "role"), [("pham.dung", Role.CITIZEN), ("c-abcdefgh", Role.WARD_OFFICER)]
)
def test_staff_accounts_are_never_citizens_nor_take_their_handles(
    sqlite_repo: Repository, username: str, role: Role
) -> None:
    with pytest.raises(InvalidRequestError):
        seed_officer(sqlite_repo, username, role, ["ward-a"])
    assert sqlite_repo.officers.get(username) is None
