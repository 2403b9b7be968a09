"""Daily aggregates per ward over the API, on SQLite and PostgreSQL: known records over four days in two
wards give exact counts per local day, zeros on quiet days, positivity and coverage; the CSV export; the
wards' populations; and the refusals (another ward, a citizen, other staff, bad ranges)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from cloud.access import Role
from cloud.aggregates import CSV_COLUMNS
from cloud.storage.repository import Repository
from tests.integration.cloud.public_health import Api, open_api
from tests.integration.cloud.support import seed_officer
from tests.unit.cloud.builders import T0

VN = timezone(timedelta(hours=7))
# The hub's clock in these tests is T0 + 1 h: 2026-11-21 18:00 in Viet Nam, so "today" is the 21st.
DAYS = [date(2026, 11, d) for d in (18, 19, 20, 21)]
RANGE = {"from": "2026-11-18", "to": "2026-11-21"}
JANSSEN, COMIRNATY = "EU/1/20/1525", "EU/1/20/1528"


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A local time in Viet Nam (UTC+7) on a day of November 2026."""
    return datetime(2026, 11, day, hour, minute, tzinfo=VN)


def seed_records(repo: Repository) -> None:
    """Declarations, check-ins, crossings, samples, cases, orders and doses in ward-a and ward-b."""
    citizen = repo.citizens.add(
        handle="c-aaaa",
        identity_hash="h" * 64,
        password_hash="unused",
        full_name="Tran Van C",
        birth_date=date(1990, 1, 1),
        phone=None,
        ward_id="ward-a",
        address=None,
        now=T0,
    )
    for kind, ward, when in (
        ("health", "ward-a", local(17, 23, 59)),  # the day before the range
        ("health", "ward-a", local(18, 8)),
        ("health", "ward-a", local(18, 23, 30)),  # 16:30 UTC: still the 18th locally
        ("travel", "ward-a", local(19, 0, 30)),  # 17:30 UTC on the 18th: the 19th locally
        ("feedback", "ward-b", local(20, 10)),  # about a place in ward-b: ward-b's
        ("health", "ward-b", local(21, 9)),
        ("feedback", "ward-q", local(20, 11)),  # a ward nobody registered or serves
    ):
        repo.declarations.add(kind=kind, citizen_id=citizen.id, ward_id=ward, details={}, now=when)

    venue = repo.venues.add(
        kind="venue", name="Market", ward_id="ward-a", address="1", created_by="s", now=T0
    )
    checkpoint = repo.venues.add(
        kind="checkpoint", name="Gate", ward_id="ward-b", address="2", created_by="s", now=T0
    )
    for n, when in enumerate([local(19, 9), local(19, 12), local(19, 23, 59), local(21, 7)]):
        repo.venues.add_checkin(
            venue_id=venue.id,
            identity_hash=f"{n:064d}",
            checked_in_at=when,
            present_until=when + timedelta(hours=1),
        )
    for n, (direction, when) in enumerate(
        [("in", local(20, 8)), ("in", local(20, 9)), ("out", local(20, 18)), ("out", local(21, 6))]
    ):
        repo.venues.add_crossing(
            venue_id=checkpoint.id,
            identity_hash=f"{n:064d}",
            direction=direction,
            crossed_at=when,
            present_until=when + timedelta(minutes=15),
            status_shown="green",
            recorded_by="s",
        )

    def sample(kind: str, ward: str, result: str | None, when: datetime, pooled: bool = False) -> int:
        added = repo.labs.add_sample(
            kind=kind,
            ward_id=ward,
            collected_at=when - timedelta(hours=3),
            identity_hash=None if pooled else f"p{when.timestamp():063.0f}",
            members=[f"{1:064d}", f"{2:064d}"] if pooled else [],
            registered_by="lab",
            now=when - timedelta(hours=2),
        )
        if result is not None:
            assert repo.labs.set_result(
                added.id, status=result, collected_at=when - timedelta(hours=3), resulted_by="lab", now=when
            )
        return added.id

    positive_a = sample("pcr", "ward-a", "positive", local(19, 10))
    sample("pcr", "ward-a", "negative", local(19, 11))
    sample("rapid_antigen", "ward-a", "negative", local(19, 12))
    sample("rapid_antigen", "ward-a", "invalid", local(19, 13))  # a test, but no result to count
    sample("pcr", "ward-a", "positive", local(20, 9), pooled=True)  # a pool's result is nobody's
    sample("pcr", "ward-a", "negative", local(20, 15))
    sample("pcr", "ward-a", None, local(21, 8))  # pending
    positive_b = sample("pcr", "ward-b", "positive", local(21, 10))
    repo.labs.add_case(
        identity_hash="x" * 64, ward_id="ward-a", confirmed_at=local(19, 10), source_sample_id=positive_a
    )
    repo.labs.add_case(
        identity_hash="y" * 64, ward_id="ward-b", confirmed_at=local(21, 10), source_sample_id=positive_b
    )

    def order(ward: str, device: str, starts: datetime, ends: datetime) -> int:
        repo.devices.register(device, "bracelet", T0)
        created = repo.orders.create(
            full_name=f"Person {device}",
            phone=None,
            ward_id=ward,
            address="a",
            site_id=f"home-{device}",
            device_id=device,
            starts_at=starts,
            ends_at=ends,
            created_by="seed",
            now=T0,
        )
        return created.id

    order("ward-a", "0000000a", local(17, 12), local(20, 12))  # at the ends of the 18th and 19th
    order("ward-a", "0000000b", local(19, 9), local(30, 9))  # from the 19th on
    order("ward-a", "0000000c", local(21, 19), local(30, 9))  # starts after now (18:00 on the 21st)
    ended = order("ward-a", "0000000d", local(18, 10), local(30, 10))
    repo.orders.update(ended, now=local(20, 8), ends_at=local(20, 8), status="ended")  # the 18th, 19th
    order("ward-b", "0000000e", local(20, 10), local(30, 10))

    site_a = repo.vaccination.add_site(
        name="A", ward_id="ward-a", address=None, daily_capacity=100, created_by="v", now=T0
    )
    site_b = repo.vaccination.add_site(
        name="B", ward_id="ward-b", address=None, daily_capacity=100, created_by="v", now=T0
    )
    for person, product, number, series, site, when in (
        ("p1", COMIRNATY, 1, 2, site_a, local(10, 9)),  # before the range: counted from its start
        ("p1", COMIRNATY, 2, 2, site_a, local(19, 9)),  # completes p1's series
        ("p2", COMIRNATY, 1, 2, site_a, local(19, 10)),
        ("p3", JANSSEN, 1, 1, site_a, local(21, 8)),  # one dose: complete at once
        ("p4", COMIRNATY, 1, 2, site_b, local(20, 8)),
    ):
        repo.vaccination.add_dose(
            {
                "identity_hash": person * 32,
                "product": product,
                "lot": "L1",
                "dose_number": number,
                "series_doses": series,
                "site_id": site.id,
                "ward_id": site.ward_id,
                "administered_at": when,
                "recorded_by": "v",
                "recorded_at": when,
            }
        )


def expected() -> dict[tuple[str, str], dict[str, Any]]:
    """The rows the seeded records give, by (ward, day); fields not named are zero or null."""
    zero: dict[str, Any] = {
        name: 0 for name in CSV_COLUMNS if name not in ("ward_id", "date", "positivity", "population")
    }
    zero.update(positivity=None, population=None, coverage_at_least_one=None, coverage_complete=None)
    rows = {
        (w, d.isoformat()): {**zero, "ward_id": w, "date": d.isoformat()}
        for w in ("ward-a", "ward-b", "ward-c")
        for d in DAYS
    }

    def put(ward: str, day: int, **values: Any) -> None:
        rows[(ward, f"2026-11-{day}")].update(values)

    put("ward-a", 18, declarations_health=2, in_quarantine=2, people_vaccinated=1)
    put(
        "ward-a",
        19,
        declarations_travel=1,
        checkins=3,
        tests_pcr=2,
        tests_rapid_antigen=2,
        tests_positive=1,
        tests_negative=2,
        positivity=pytest.approx(1 / 3),
        cases_new=1,
        in_quarantine=3,
        doses=2,
        people_vaccinated=2,
        people_fully_vaccinated=1,
    )
    put(
        "ward-a",
        20,
        tests_pcr=2,
        tests_negative=1,
        positivity=0.0,
        in_quarantine=1,
        people_vaccinated=2,
        people_fully_vaccinated=1,
    )
    put("ward-a", 21, checkins=1, in_quarantine=1, doses=1, people_vaccinated=3, people_fully_vaccinated=2)
    for day in (18, 19, 20, 21):
        row = rows[("ward-a", f"2026-11-{day}")]
        row["population"] = 1000
        row["coverage_at_least_one"] = pytest.approx(row["people_vaccinated"] / 1000)
        row["coverage_complete"] = pytest.approx(row["people_fully_vaccinated"] / 1000)
        rows[("ward-c", f"2026-11-{day}")].update(
            population=500, coverage_at_least_one=0.0, coverage_complete=0.0
        )
    put(
        "ward-b",
        20,
        declarations_feedback=1,
        crossings_in=2,
        crossings_out=1,
        in_quarantine=1,
        doses=1,
        people_vaccinated=1,
    )
    put(
        "ward-b",
        21,
        declarations_health=1,
        crossings_out=1,
        tests_pcr=1,
        tests_positive=1,
        positivity=1.0,
        cases_new=1,
        in_quarantine=1,
        people_vaccinated=1,
    )
    return rows


async def prepare(repo: Repository, api: Api) -> None:
    """Seed the records and accounts; register ward-a (population 1000) and ward-c (500, no records)."""
    seed_records(repo)
    seed_officer(repo, "admin", Role.ADMIN, [])
    seed_officer(repo, "officer-a", Role.WARD_OFFICER, ["ward-a"])
    seed_officer(repo, "supervisor-ab", Role.SUPERVISOR, ["ward-a", "ward-b"])
    seed_officer(repo, "tracer-b", Role.TRACING, ["ward-b"])
    seed_officer(repo, "lab-a", Role.LAB, ["ward-a"])
    for ward, name, population in (("ward-a", "Ward A", 1000), ("ward-c", "Ward C", 500)):
        response = await api.client.put(
            f"/api/v1/wards/{ward}",
            json={"name": name, "population": population},
            headers=await api.headers("admin"),
        )
        assert response.status_code == 200, response.text


def by_key(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["ward_id"], row["date"]): row for row in rows}


async def test_daily_aggregates_count_each_ward_and_local_day(repo: Repository) -> None:
    async with open_api(repo) as api:
        await prepare(repo, api)
        want = expected()

        rows = await api.ok("GET", "/aggregates/daily", "admin", params=RANGE)
        assert [(r["ward_id"], r["date"]) for r in rows] == sorted(want)  # by ward, then day; zeros kept
        assert by_key(rows) == want

        own = await api.ok("GET", "/aggregates/daily", "officer-a", params=RANGE)
        assert own == [r for r in rows if r["ward_id"] == "ward-a"]
        both = await api.ok("GET", "/aggregates/daily", "supervisor-ab", params=RANGE)
        assert both == [r for r in rows if r["ward_id"] in ("ward-a", "ward-b")]
        one = await api.ok("GET", "/aggregates/daily", "tracer-b", params={**RANGE, "ward": "ward-b"})
        assert one == [r for r in rows if r["ward_id"] == "ward-b"]

        # The admin's default wards are the registered and the staffed ones; any other is there by name.
        other = await api.ok("GET", "/aggregates/daily", "admin", params={**RANGE, "ward": "ward-q"})
        assert [r["declarations_feedback"] for r in other] == [0, 0, 1, 0]

        # One day only; and a ward the admin names that has nothing at all is all zeros.
        day = await api.ok(
            "GET",
            "/aggregates/daily",
            "admin",
            params={"from": "2026-11-19", "to": "2026-11-19", "ward": "ward-a"},
        )
        assert day == [want[("ward-a", "2026-11-19")]]
        empty = await api.ok("GET", "/aggregates/daily", "admin", params={**RANGE, "ward": "ward-z"})
        assert [
            (r["date"], r["checkins"], r["people_vaccinated"], r["coverage_complete"]) for r in empty
        ] == [(d.isoformat(), 0, 0, None) for d in DAYS]


async def test_daily_aggregates_export_as_csv(repo: Repository) -> None:
    async with open_api(repo) as api:
        await prepare(repo, api)
        rows = await api.ok("GET", "/aggregates/daily", "officer-a", params=RANGE)

        response = await api.get("/aggregates/daily.csv", "officer-a", params={**RANGE, "ward": "ward-a"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-disposition"] == (
            'attachment; filename="qmon-daily-ward-a-2026-11-18-2026-11-21.csv"'
        )
        header, *lines = list(csv.reader(io.StringIO(response.text)))
        assert tuple(header) == CSV_COLUMNS
        assert len(lines) == len(rows) == 4
        for line, row in zip(lines, rows, strict=True):
            parsed = dict(zip(header, line, strict=True))
            for name, value in row.items():
                if value is None:
                    assert parsed[name] == "", name
                elif isinstance(value, float):
                    assert float(parsed[name]) == pytest.approx(value, abs=1e-6), name
                else:
                    assert parsed[name] == str(value), name

        every = await api.get("/aggregates/daily.csv", "admin", params=RANGE)
        assert 'filename="qmon-daily-wards-2026-11-18-2026-11-21.csv"' in every.headers["content-disposition"]
        assert len(list(csv.reader(io.StringIO(every.text)))) == 1 + 3 * 4


async def test_aggregates_refuse_other_wards_citizens_other_staff_and_bad_ranges(repo: Repository) -> None:
    async with open_api(repo) as api:
        await prepare(repo, api)
        handle = await api.register_citizen("001203004567")

        for path in ("/aggregates/daily", "/aggregates/daily.csv"):
            # Another ward is not acknowledged, as elsewhere (cloud/access.py: check_ward).
            response = await api.get(path, "officer-a", params={**RANGE, "ward": "ward-b"})
            assert response.status_code == 404, response.text
            assert (await api.get(path, "tracer-b", params={**RANGE, "ward": "ward-a"})).status_code == 404
            for who in (handle, "lab-a"):
                response = await api.get(path, who, params=RANGE)
                assert response.status_code == 403, response.text
            assert (await api.client.get("/api/v1" + path, params=RANGE)).status_code == 401

        bad = [
            ({"from": "2026-11-21", "to": "2026-11-18"}, "must not be before"),
            ({"from": "2025-11-20", "to": "2026-11-21"}, "at most 366 days"),
            ({"from": "2026-11-20", "to": "2026-11-22"}, "must not be after today (2026-11-21"),
            ({"from": "0001-01-01", "to": "0001-01-02"}, "must not be before 1970-01-01"),
            ({"from": "2026-11-31", "to": "2026-12-01"}, "date"),
            ({"from": "2026-11-20"}, "to"),
            ({**RANGE, "ward": "not a ward!"}, "pattern"),
        ]
        for params, message in bad:
            response = await api.get("/aggregates/daily", "admin", params=params)
            assert response.status_code == 422, (params, response.text)
            assert message in response.text, (params, response.text)
        # A whole leap year is fine.
        assert (
            await api.get("/aggregates/daily", "officer-a", params={"from": "2025-11-21", "to": "2026-11-21"})
        ).status_code == 200


async def test_wards_are_set_by_admins_and_listed_in_scope(repo: Repository) -> None:
    async with open_api(repo) as api:
        await prepare(repo, api)
        admin, officer = await api.headers("admin"), await api.headers("officer-a")

        listed = (await api.client.get("/api/v1/wards", headers=admin)).json()
        assert [(w["id"], w["name"], w["population"]) for w in listed] == [
            ("ward-a", "Ward A", 1000),
            ("ward-c", "Ward C", 500),
        ]
        assert [w["id"] for w in (await api.client.get("/api/v1/wards", headers=officer)).json()] == [
            "ward-a"
        ]

        changed = await api.client.put("/api/v1/wards/ward-c", json={"name": "Ward C2"}, headers=admin)
        assert changed.status_code == 200 and changed.json()["population"] is None
        rows = await api.ok("GET", "/aggregates/daily", "admin", params={**RANGE, "ward": "ward-c"})
        assert {(r["population"], r["coverage_at_least_one"]) for r in rows} == {(None, None)}

        refused = await api.client.put(
            "/api/v1/wards/ward-a", json={"name": "X", "population": 5}, headers=officer
        )
        assert refused.status_code == 403
        for body in ({"name": "X", "population": 0}, {"name": ""}, {"name": "X", "extra": 1}):
            response = await api.client.put("/api/v1/wards/ward-a", json=body, headers=admin)
            assert response.status_code == 422, (body, response.text)
        assert (
            await api.client.put("/api/v1/wards/bad ward", json={"name": "X"}, headers=admin)
        ).status_code == 422
