"""Lab samples through the REST API, on SQLite and PostgreSQL: single and pooled samples, results, pooled
retesting (a positive pool -> each member retested; a positive member -> a case), one open case per person,
ward scopes and role refusals, bad bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from cloud.storage.repository import Repository
from cloud.storage.schema import cases, sample_members, samples
from tests.integration.cloud.public_health import Api, open_api, seed_staff

COLLECTED = "2026-11-21T08:00:00+00:00"  # the hub's clock is T0 + 1 h = 11:00 UTC
POOL = ["001203000001", "001203000002", "001203000003", "001203000004"]


@pytest.fixture
async def api(repo: Repository) -> AsyncIterator[Api]:
    seed_staff(repo)
    async with open_api(repo) as opened:
        yield opened


async def register(api: Api, as_: str = "lab-a", **overrides: Any) -> dict[str, Any]:
    body = {"kind": "pcr", "ward_id": "ward-a", "collected_at": COLLECTED, **overrides}
    if "members" not in body and "identity_number" not in body:
        body["identity_number"] = "001203004567"
    sample: dict[str, Any] = await api.ok("POST", "/samples", as_, 201, json=body)
    return sample


async def result(api: Api, sample_id: int, value: str, as_: str = "lab-a", **extra: Any) -> dict[str, Any]:
    outcome: dict[str, Any] = await api.ok(
        "POST", f"/samples/{sample_id}/result", as_, json={"result": value, **extra}
    )
    return outcome


async def test_a_positive_individual_sample_makes_a_case_once(api: Api) -> None:
    sample = await register(api, kind="rapid_antigen")
    assert sample["status"] == "pending" and not sample["pooled"] and sample["member_count"] == 0
    outcome = await result(api, sample["id"], "positive")
    assert outcome["sample"]["status"] == "positive" and outcome["sample"]["resulted_by"] == "lab-a"
    assert outcome["case_created"] and outcome["retests"] == []
    case = outcome["case"]
    assert (
        case["ward_id"] == "ward-a" and case["source_sample_id"] == sample["id"] and case["status"] == "open"
    )
    again = await result(api, (await register(api))["id"], "positive")
    assert not again["case_created"] and again["case"]["id"] == case["id"]
    twice = await api.post(f"/samples/{sample['id']}/result", "lab-a", json={"result": "negative"})
    assert twice.status_code == 409 and "already has a result" in twice.text
    with api.repo.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one() == 1
        stored = conn.execute(sa.select(samples)).mappings().all()
    assert all("001203004567" not in " ".join(map(str, row.values())) for row in stored)


async def test_negative_and_invalid_results_make_no_case(api: Api) -> None:
    for value in ("negative", "invalid"):
        outcome = await result(api, (await register(api))["id"], value)
        assert outcome["sample"]["status"] == value and outcome["case"] is None and outcome["retests"] == []


async def test_a_positive_pool_retests_its_members_and_a_positive_member_becomes_a_case(api: Api) -> None:
    pool = await register(api, members=POOL)
    assert pool["pooled"] and pool["member_count"] == 4
    negative_pool = await register(api, members=["001203000011", "001203000012"])
    assert (await result(api, negative_pool["id"], "negative"))["retests"] == []
    outcome = await result(api, pool["id"], "positive")
    assert outcome["case"] is None and not outcome["case_created"]
    retests = outcome["retests"]
    assert [r["pool_position"] for r in retests] == [1, 2, 3, 4]
    assert all(
        r["retest_of"] == pool["id"]
        and r["status"] == "pending"
        and not r["pooled"]
        and r["collected_at"] is None
        for r in retests
    )
    to_retest = await api.ok("GET", "/samples/to-retest", "lab-a")
    assert sorted(r["id"] for r in to_retest) == sorted(r["id"] for r in retests)
    assert await api.ok("GET", "/samples/to-retest", "lab-b") == []
    third = retests[2]
    missing = await api.post(f"/samples/{third['id']}/result", "lab-a", json={"result": "positive"})
    assert missing.status_code == 422 and "collected_at" in missing.text
    positive = await result(api, third["id"], "positive", collected_at="2026-11-21T10:30:00+00:00")
    assert positive["case_created"] and positive["case"]["source_sample_id"] == third["id"]
    assert positive["sample"]["collected_at"].startswith("2026-11-21T10:30:00")
    for other in (retests[0], retests[1], retests[3]):
        await result(api, other["id"], "negative", collected_at="2026-11-21T10:30:00+00:00")
    assert await api.ok("GET", "/samples/to-retest", "lab-a") == []
    with api.repo.read() as conn:
        case_hash: str = conn.execute(sa.select(cases.c.identity_hash)).scalar_one()
        member_hash: str = conn.execute(
            sa.select(sample_members.c.identity_hash).where(
                sample_members.c.sample_id == pool["id"], sample_members.c.position == 3
            )
        ).scalar_one()
    assert case_hash == member_hash  # the case is the pool's third member


async def test_lab_staff_work_in_their_wards_only(api: Api) -> None:
    sample = await register(api)
    body = {"kind": "pcr", "ward_id": "ward-b", "collected_at": COLLECTED, "identity_number": "123456789"}
    assert (await api.post("/samples", "lab-a", json=body)).status_code == 403
    for user in ("venue-a", "tracer-a", "officer-a"):
        assert (await api.post("/samples", user, json=body | {"ward_id": "ward-a"})).status_code == 403, user
        assert (await api.get(f"/samples/{sample['id']}", user)).status_code == 403, user
    assert (await api.get(f"/samples/{sample['id']}", "lab-b")).status_code == 404
    refused = await api.post(f"/samples/{sample['id']}/result", "lab-b", json={"result": "positive"})
    assert refused.status_code == 404
    assert await api.ok("GET", "/samples", "lab-b") == []
    assert [s["id"] for s in await api.ok("GET", "/samples", "lab-a")] == [sample["id"]]
    assert [s["id"] for s in await api.ok("GET", "/samples?status=pending", "admin")] == [sample["id"]]
    assert (await api.get(f"/samples/{sample['id']}", "admin")).status_code == 200
    citizen = await api.register_citizen("001203007777")
    assert (await api.get("/samples", citizen)).status_code == 403


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "elisa"}, "kind"),
        ({"collected_at": "2026-11-21T08:00:00"}, "timezone"),
        ({"collected_at": "2026-11-22T08:00:00+00:00"}, "future"),
        ({"collected_at": "2026-10-01T08:00:00+00:00"}, "within the last"),
        ({"identity_number": "12"}, "9 digits"),
        ({"members": ["001203000001"]}, "at least 2"),
        ({"identity_number": None}, "not both"),
        ({"members": [POOL[0], POOL[0]], "identity_number": None}, "twice"),
        ({"members": POOL}, "not both"),
        ({"lab_note": "x"}, "Extra inputs"),
    ],
)
async def test_bad_sample_bodies_are_422(api: Api, changes: dict[str, Any], message: str) -> None:
    body = {"kind": "pcr", "ward_id": "ward-a", "collected_at": COLLECTED, "identity_number": "001203004567"}
    body.update(changes)
    body = {k: v for k, v in body.items() if v is not None}
    response = await api.post("/samples", "lab-a", json=body)
    assert response.status_code == 422 and message in response.text, response.text


async def test_bad_results_are_422(api: Api) -> None:
    sample = await register(api)
    for body in ({"result": "maybe"}, {"result": "positive", "by": "x"}, {}):
        response = await api.post(f"/samples/{sample['id']}/result", "lab-a", json=body)
        assert response.status_code == 422, body
    assert (await api.post("/samples/999/result", "lab-a", json={"result": "positive"})).status_code == 404
