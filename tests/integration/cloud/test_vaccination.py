"""Vaccination through the REST API, on SQLite and PostgreSQL: sites and slots by the ward's vaccinators,
bookings under concurrency, doses read by their owner only, adverse events, bulk CSV and NDJSON uploads
(all-or-nothing, idempotent re-upload), and the refusals for every other role and ward."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from cloud.storage.repository import Repository
from cloud.storage.schema import vaccine_doses
from tests.integration.cloud.support import hub_http
from tests.integration.cloud.vaccination_support import (
    CCCD,
    COMIRNATY,
    IDENTITY_KEY,
    OTHER_CCCD,
    VaxApi,
    dose_body,
    dose_csv,
    dose_ndjson,
    identity_numbers,
    seed_staff,
)

CSV = {"Content-Type": "text/csv"}
NDJSON = {"Content-Type": "application/x-ndjson"}
TOMORROW_9 = "2026-11-22T09:00:00+07:00"


@pytest.fixture
async def api(repo: Repository) -> AsyncIterator[VaxApi]:
    seed_staff(repo)
    async with hub_http(repo, identity_hash_key=IDENTITY_KEY) as (client, _app):
        yield VaxApi(client)


def stored_doses(repo: Repository) -> int:
    with repo.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(vaccine_doses)).scalar_one())


async def test_sites_and_slots_belong_to_the_wards_vaccinators(api: VaxApi) -> None:
    site = await api.site(daily_capacity=100)
    body = {"name": "B", "ward_id": "ward-b", "daily_capacity": 10}
    assert (await api.post("/vaccination/sites", "vacc-a", json=body)).status_code == 404
    assert (await api.post("/vaccination/sites", "officer-a", json=body)).status_code == 403
    assert (await api.post("/vaccination/sites", "admin", json=body)).status_code == 201
    assert (await api.get(f"/vaccination/sites/{site}", "vacc-b")).status_code == 404
    assert [s["ward_id"] for s in (await api.get("/vaccination/sites", "vacc-a")).json()] == ["ward-a"]
    bad = {**body, "daily_capacity": 0, "extra": 1}
    response = await api.post("/vaccination/sites", "vacc-b", json=bad)
    assert response.status_code == 422 and "extra" in response.text

    slot = {"starts_at": TOMORROW_9, "capacity": 60}
    created = await api.post(f"/vaccination/sites/{site}/slots", "vacc-a", json=slot)
    assert created.status_code == 201, created.text
    assert created.json()["booked"] == 0 and created.json()["capacity"] == 60
    again = await api.post(f"/vaccination/sites/{site}/slots", "vacc-a", json=slot)
    assert again.status_code == 409  # the same start, and over the day's capacity either way
    later = {"starts_at": "2026-11-22T10:00:00+07:00", "capacity": 41}
    over = await api.post(f"/vaccination/sites/{site}/slots", "vacc-a", json=later)
    assert over.status_code == 409 and "daily capacity is 100" in over.json()["detail"]
    assert (
        await api.post(f"/vaccination/sites/{site}/slots", "vacc-a", json={**later, "capacity": 40})
    ).status_code == 201
    past = {"starts_at": "2026-11-20T09:00:00+07:00", "capacity": 1}
    assert (await api.post(f"/vaccination/sites/{site}/slots", "vacc-a", json=past)).status_code == 422
    naive = {"starts_at": "2026-11-22T09:00:00", "capacity": 1}
    assert (await api.post(f"/vaccination/sites/{site}/slots", "vacc-a", json=naive)).status_code == 422
    assert (await api.post(f"/vaccination/sites/{site}/slots", "vacc-b", json=later)).status_code == 404

    citizen = await api.register()
    assert len((await api.get("/vaccination/sites", citizen)).json()) == 2  # citizens see every site
    slots = (await api.get(f"/vaccination/sites/{site}/slots", citizen)).json()
    assert [s["capacity"] for s in slots] == [60, 40]
    on_day = await api.get(f"/vaccination/sites/{site}/slots", "vacc-a", params={"on": "2026-11-22"})
    assert len(on_day.json()) == 2
    assert (await api.post(f"/vaccination/sites/{site}/slots", citizen, json=later)).status_code == 403


async def test_a_slot_is_never_overbooked_by_concurrent_bookings(api: VaxApi) -> None:
    site = await api.site()
    slot = (
        await api.post(
            f"/vaccination/sites/{site}/slots", "vacc-a", json={"starts_at": TOMORROW_9, "capacity": 3}
        )
    ).json()
    citizens = [await api.register(n) for n in identity_numbers(7)]
    for handle in citizens:
        await api.headers(handle)  # log in first, so that the bookings themselves race
    results = await asyncio.gather(
        *(api.post("/citizens/me/bookings", handle, json={"slot_id": slot["id"]}) for handle in citizens)
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [201] * 3 + [409] * 4, [r.text for r in results]
    assert all("full" in r.json()["detail"] for r in results if r.status_code == 409)
    listed = (await api.get(f"/vaccination/sites/{site}/slots", "vacc-a")).json()
    assert listed[0]["booked"] == 3

    winner = next(h for h, r in zip(citizens, results, strict=True) if r.status_code == 201)
    loser = next(h for h, r in zip(citizens, results, strict=True) if r.status_code == 409)
    booking = (await api.get("/citizens/me/bookings", winner)).json()[0]
    assert booking["status"] == "booked"
    assert (await api.delete(f"/citizens/me/bookings/{booking['id']}", loser)).status_code == 404
    cancelled = await api.delete(f"/citizens/me/bookings/{booking['id']}", winner)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await api.delete(f"/citizens/me/bookings/{booking['id']}", winner)).status_code == 404
    assert (await api.post("/citizens/me/bookings", loser, json={"slot_id": slot["id"]})).status_code == 201
    twice = await api.post("/citizens/me/bookings", loser, json={"slot_id": slot["id"]})
    assert twice.status_code == 409
    assert (
        await api.post("/citizens/me/bookings", "vacc-a", json={"slot_id": slot["id"]})
    ).status_code == 403
    assert (await api.post("/citizens/me/bookings", loser, json={"slot_id": 999})).status_code == 404


async def test_doses_are_recorded_by_the_sites_vaccinators_and_read_by_their_owner(
    api: VaxApi, repo: Repository
) -> None:
    site = await api.site()
    owner = await api.register(CCCD)
    other = await api.register(OTHER_CCCD, ward_id="ward-b")
    first = await api.dose(site, dose_number=1, administered_at="2026-10-01T09:00:00+07:00")
    assert first.status_code == 201, first.text
    created = await api.dose(site, identity_number="0012 0300 4567")  # the same person, spaced
    assert created.status_code == 201
    dose = created.json()
    assert dose["product_name"].startswith("Comirnaty") and dose["series_doses"] == 2
    assert dose["ward_id"] == "ward-a" and "identity_number" not in dose
    repeat = await api.dose(site)
    assert repeat.status_code == 200 and repeat.json()["id"] == dose["id"]  # a retried request

    assert (await api.dose(site, as_="vacc-b")).status_code == 404
    assert (await api.dose(site, as_="officer-a")).status_code == 403
    assert (await api.dose(site, as_=owner)).status_code == 403
    bad_product = await api.dose(site, product="EU/1/99/0000")
    assert bad_product.status_code == 422 and "unknown product" in bad_product.json()["detail"]
    assert (await api.dose(site, administered_at="2026-11-21T08:30:00")).status_code == 422
    assert (await api.dose(site, administered_at="2026-12-25T08:30:00+07:00")).status_code == 422
    assert (await api.dose(site, lot="has space")).status_code == 422
    assert (await api.dose(site, identity_number="12345")).status_code == 422
    extra = await api.post("/vaccination/doses", "vacc-a", json={**dose_body(site), "name": "x"})
    assert extra.status_code == 422

    mine = (await api.get("/citizens/me/doses", owner)).json()
    assert [d["dose_number"] for d in mine] == [2, 1]
    assert (await api.get("/citizens/me/doses", other)).json() == []
    assert (await api.get(f"/vaccination/doses/{dose['id']}", other)).status_code == 404
    assert (await api.get(f"/vaccination/doses/{dose['id']}", "vacc-b")).status_code == 404
    assert (await api.get(f"/vaccination/doses/{dose['id']}", "vacc-a")).json() == dose
    assert (await api.get("/citizens/me/doses", "vacc-a")).status_code == 403
    found = await api.post("/vaccination/doses/lookup", "vacc-a", json={"identity_number": CCCD})
    assert [d["id"] for d in found.json()] == [dose["id"], first.json()["id"]]
    assert (
        await api.post("/vaccination/doses/lookup", "vacc-b", json={"identity_number": CCCD})
    ).json() == []
    assert len((await api.get("/vaccination/doses", "vacc-a")).json()) == 2
    assert (await api.get("/vaccination/doses", "vacc-b")).json() == []
    with repo.read() as conn:
        rows = conn.execute(sa.select(vaccine_doses)).mappings().all()
    assert all(CCCD not in " ".join(str(v) for v in row.values()) for row in rows)


async def test_adverse_events_by_the_wards_vaccinators_and_the_vaccinated_citizen(api: VaxApi) -> None:
    site = await api.site()
    owner = await api.register(CCCD)
    other = await api.register(OTHER_CCCD, ward_id="ward-b")
    dose = (await api.dose(site)).json()
    event = {"severity": "moderate", "onset_at": "2026-11-21T15:00:00+07:00", "description": "fever 38.9 C"}
    path = f"/vaccination/doses/{dose['id']}/adverse-events"
    reported = await api.post(path, "vacc-a", json=event)
    assert reported.status_code == 201, reported.text
    assert reported.json()["reporter_role"] == "vaccinator" and reported.json()["severity"] == "moderate"
    assert (await api.post(path, "vacc-b", json=event)).status_code == 404
    assert (await api.post(path, "officer-a", json=event)).status_code == 403
    own_path = f"/citizens/me/doses/{dose['id']}/adverse-events"
    mine = await api.post(own_path, owner, json={**event, "severity": "mild", "description": "sore arm"})
    assert mine.status_code == 201 and mine.json()["reporter_role"] == "citizen"
    assert (await api.post(own_path, other, json=event)).status_code == 404
    early = {**event, "onset_at": "2026-11-21T07:00:00+07:00"}
    assert (await api.post(path, "vacc-a", json=early)).status_code == 422
    assert (await api.post(path, "vacc-a", json={**event, "severity": "catastrophic"})).status_code == 422
    listed = (await api.get(path, "vacc-a")).json()
    assert sorted(e["severity"] for e in listed) == ["mild", "moderate"]
    assert len((await api.get(own_path, owner)).json()) == 2
    assert (await api.get(own_path, other)).status_code == 404


@pytest.mark.parametrize(
    ("headers", "build"), [(CSV, dose_csv), (NDJSON, dose_ndjson)], ids=["csv", "ndjson"]
)
async def test_bulk_upload_stores_a_good_file_once_and_nothing_of_a_bad_one(
    api: VaxApi, repo: Repository, headers: dict[str, str], build: object
) -> None:
    assert callable(build)
    site = await api.site()
    path = f"/vaccination/sites/{site}/doses/bulk"
    numbers = identity_numbers(300)
    good = build(numbers)
    stored = await api.post(path, "vacc-a", content=good, headers=headers)
    assert stored.status_code == 200, stored.text
    report = stored.json()
    assert report["stored"] and report["rows"] == 300 and report["inserted"] == 300
    assert report["already_recorded"] == 0 and report["errors"] == [] and stored_doses(repo) == 300

    again = (await api.post(path, "vacc-a", content=good, headers=headers)).json()
    assert again["inserted"] == 0 and again["already_recorded"] == 300 and stored_doses(repo) == 300

    if headers is CSV:
        bad_lines = [
            f"12345,{COMIRNATY},L1,1,2,2026-11-21T08:00:00+07:00",
            f"{identity_numbers(1, 5000)[0]},NOPE,L1,1,2,2026-11-21T08:00:00+07:00",
            f"{identity_numbers(1, 5001)[0]},{COMIRNATY},L1,x,2,2026-11-21T08:00:00+07:00",
            f"{identity_numbers(1, 5002)[0]},{COMIRNATY},L1,1,2,2026-11-21T08:00:00",
            "too,few",
        ]
        first_bad = 52  # the header, 50 good lines, then the bad ones
    else:
        bad_lines = [
            '{"identity_number": "12345", "product": "EU/1/20/1528", "lot": "L1", "dose_number": 1, '
            '"administered_at": "2026-11-21T08:00:00+07:00"}',
            "[1, 2]",
            "{not json",
            '{"identity_number": "900000009999", "product": "EU/1/20/1528", "lot": "L1", "dose_number": "1", '
            '"administered_at": "2026-11-21T08:00:00+07:00"}',
            '{"identity_number": "900000009998", "product": "EU/1/20/1528", "lot": "L1", "dose_number": 1, '
            '"administered_at": "2026-11-21T08:00:00+07:00", "name": "x"}',
        ]
        first_bad = 51  # 50 good lines, then the bad ones
    fresh = identity_numbers(50, 1000)
    refused = await api.post(path, "vacc-a", content=build(fresh, extra_lines=bad_lines), headers=headers)
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert not body["stored"] and body["inserted"] == 0 and body["error_count"] == 5
    assert [e["line"] for e in body["errors"]] == list(range(first_bad, first_bad + 5))
    assert "nothing was stored" in body["detail"]
    assert all("9000000" not in e["message"] for e in body["errors"])  # no personal data echoed
    assert stored_doses(repo) == 300  # the 50 good rows of the refused file were not stored either

    fixed = await api.post(path, "vacc-a", content=build([*numbers[:10], *fresh]), headers=headers)
    assert fixed.json()["inserted"] == 50 and fixed.json()["already_recorded"] == 10
    assert stored_doses(repo) == 350


async def test_bulk_upload_refusals(api: VaxApi, repo: Repository) -> None:
    site = await api.site()
    path = f"/vaccination/sites/{site}/doses/bulk"
    good = dose_csv(identity_numbers(3), series=False)
    assert (await api.post(path, "vacc-b", content=good, headers=CSV)).status_code == 404
    assert (await api.post(path, "officer-a", content=good, headers=CSV)).status_code == 403
    citizen = await api.register()
    assert (await api.post(path, citizen, content=good, headers=CSV)).status_code == 403
    wrong_type = await api.post(path, "vacc-a", content=good, headers={"Content-Type": "application/json"})
    assert wrong_type.status_code == 415
    empty = await api.post(path, "vacc-a", content=b"", headers=CSV)
    assert empty.status_code == 422 and empty.json()["errors"][0]["message"] == "the file is empty"
    header = await api.post(path, "vacc-a", content=b"identity_number,product,colour\n1,2,3\n", headers=CSV)
    assert header.status_code == 422 and "missing columns" in header.json()["errors"][0]["message"]
    binary = await api.post(path, "vacc-a", content=b"\xff\xfe\x00\n", headers=NDJSON)
    assert binary.status_code == 422
    assert stored_doses(repo) == 0
    stored = await api.post(path, "admin", content=good, headers=CSV)  # without series_doses: the product's
    assert stored.status_code == 200 and stored.json()["inserted"] == 3
    doses = (await api.get("/vaccination/doses", "vacc-a")).json()
    assert {d["series_doses"] for d in doses} == {2}


async def test_malformed_requests_get_4xx_never_500(api: VaxApi) -> None:
    site = await api.site()
    citizen = await api.register()
    huge = 10**30
    as_staff = [
        ("GET", f"/vaccination/sites/{huge}", None),
        ("GET", "/vaccination/sites/0", None),
        ("GET", "/vaccination/sites/abc", None),
        ("GET", f"/vaccination/doses/{2**63}", None),
        ("GET", "/vaccination/doses?limit=100000", None),
        ("GET", f"/vaccination/sites/{site}/slots?on=tomorrow", None),
        ("POST", "/vaccination/sites", {"name": "", "ward_id": "ward a", "daily_capacity": -1}),
        ("POST", "/vaccination/sites", ["not", "an", "object"]),
        ("POST", f"/vaccination/sites/{site}/slots", {"starts_at": "soon", "capacity": 1}),
        (
            "POST",
            f"/vaccination/sites/{site}/slots",
            {"starts_at": "2026-11-22T09:00:00+07:00", "capacity": 10**9},
        ),
        ("POST", "/vaccination/doses", {**dose_body(site), "site_id": huge}),
        ("POST", "/vaccination/doses", dose_body(site, dose_number=10)),
        ("POST", "/vaccination/doses", dose_body(site, dose_number="two")),
        ("POST", "/vaccination/doses", dose_body(site, lot="x" * 33)),
        ("POST", "/vaccination/doses", dose_body(site, identity_number=None)),
        ("POST", "/vaccination/doses/lookup", {"identity_number": "abc"}),
        ("POST", f"/vaccination/doses/{huge}/adverse-events", {"severity": "mild"}),
        ("POST", f"/vaccination/sites/{huge}/doses/bulk", None),
    ]
    for method, path, body in as_staff:
        response = await api.request(method, path, "vacc-a", json=body)
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
        assert response.json()["detail"], path
    as_citizen = [
        ("POST", "/citizens/me/bookings", {"slot_id": huge}),
        ("POST", "/citizens/me/bookings", {"slot_id": "one"}),
        ("DELETE", f"/citizens/me/bookings/{huge}", None),
        ("POST", f"/citizens/me/doses/{huge}/adverse-events", {"severity": "mild"}),
    ]
    for method, path, body in as_citizen:
        response = await api.request(method, path, citizen, json=body)
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
