"""The personal health QR code through the API, on SQLite and PostgreSQL: its colour follows the citizen's
vaccination, test, quarantine and case records; anyone verifies it; a checkpoint records crossings by it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from cloud.identity import IdentityHasher
from cloud.storage.repository import Repository
from gateway.protocol import utc_from_timestamp
from tests.integration.cloud.public_health import IDENTITY_KEY, Api, open_api, seed_staff, write_qr_key
from tests.integration.cloud.support import seed_officer
from tests.integration.cloud.vaccination_support import COMIRNATY

NUMBER = "001203004567"
DAY = 86_400


@pytest.fixture
async def api(repo: Repository, tmp_path: Path) -> AsyncIterator[Api]:
    seed_staff(repo)
    seed_officer(repo, "vacc-a", "vaccinator", ["ward-a"])
    key, _ = write_qr_key(tmp_path)
    async with open_api(repo, venue_qr_key_file=key) as client:
        yield client


async def my_pass(api: Api, handle: str) -> dict[str, object]:
    return await api.ok("GET", "/citizens/me/health-pass", handle)


async def test_the_colour_follows_the_records(api: Api, repo: Repository) -> None:
    handle = await api.register_citizen(NUMBER)
    first = await my_pass(api, handle)
    assert first["status"] == "yellow"
    assert first["reasons"] == ["no complete vaccination series and no recent negative test"]
    assert str(first["text"]).startswith("QMH1:")

    # a complete series, effective 14 days later: green
    site = await api.ok(
        "POST",
        "/vaccination/sites",
        "vacc-a",
        201,
        json={"name": "Ward A clinic", "ward_id": "ward-a", "daily_capacity": 100},
    )
    when = utc_from_timestamp(api.clock.now()).isoformat()
    for dose in (1, 2):
        body = {
            "identity_number": NUMBER,
            "product": COMIRNATY,
            "lot": "FK1234",
            "dose_number": dose,
            "site_id": site["id"],
            "administered_at": when,
        }
        await api.ok("POST", "/vaccination/doses", "vacc-a", 201, json=body)
    assert (await my_pass(api, handle))["status"] == "yellow"
    api.advance(15 * DAY)
    assert (await my_pass(api, handle))["reasons"] == ["vaccination series complete"]

    # a sample awaiting its result: yellow; its positive result: red (and a case)
    collected = utc_from_timestamp(api.clock.now() - 3600).isoformat()
    sample = await api.ok(
        "POST",
        "/samples",
        "lab-a",
        201,
        json={"kind": "pcr", "ward_id": "ward-a", "collected_at": collected, "identity_number": NUMBER},
    )
    assert (await my_pass(api, handle))["reasons"] == ["a test is awaiting its result"]
    await api.ok("POST", f"/samples/{sample['id']}/result", "lab-a", json={"result": "positive"})
    red = await my_pass(api, handle)
    assert red["status"] == "red" and "confirmed case under treatment or isolation" in red["reasons"]


async def test_a_quarantine_order_from_tracing_makes_the_code_yellow(api: Api, repo: Repository) -> None:
    handle = await api.register_citizen(NUMBER)
    identity_hash = IdentityHasher(SecretStr(IDENTITY_KEY)).hash(NUMBER)
    now = utc_from_timestamp(api.clock.now())
    with repo.write() as conn:
        repo.tracing.place_pending_order(
            identity_hash=identity_hash,
            full_name="Contact",
            phone=None,
            ward_id="ward-a",
            address="1 A street",
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=14),
            created_by="tracer-a",
            now=now,
            conn=conn,
        )
    assert "under a quarantine order" in (await my_pass(api, handle))["reasons"]


async def test_anyone_verifies_a_code_and_a_forgery_fails(api: Api) -> None:
    handle = await api.register_citizen(NUMBER)
    text = str((await my_pass(api, handle))["text"])
    verified = await api.client.post("/api/v1/health-pass/verify", json={"text": text})
    assert verified.status_code == 200
    assert verified.json()["valid"] is True and verified.json()["status"] == "yellow"
    forged = text[:-4] + ("AAAA" if not text.endswith("AAAA") else "BBBB")
    refused = (await api.client.post("/api/v1/health-pass/verify", json={"text": forged})).json()
    assert refused["valid"] is False and refused["reason"] == "invalid signature"
    api.advance(13 * 3600)
    expired = (await api.client.post("/api/v1/health-pass/verify", json={"text": text})).json()
    assert expired["valid"] is False and expired["reason"].startswith("expired at")
    png = await api.get("/citizens/me/health-pass/qr.png", handle)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


async def test_a_checkpoint_records_a_crossing_from_a_scanned_code(api: Api) -> None:
    handle = await api.register_citizen(NUMBER)
    text = str((await my_pass(api, handle))["text"])
    checkpoint = await api.ok(
        "POST",
        "/venues",
        "venue-a",
        201,
        json={"kind": "checkpoint", "name": "Bridge checkpoint", "ward_id": "ward-a", "address": "Long Bien"},
    )
    path = f"/venues/{checkpoint['id']}/crossings"
    crossing = await api.ok("POST", path, "venue-a", 201, json={"health_pass": text, "direction": "in"})
    assert crossing["status_shown"] == "yellow" and crossing["direction"] == "in"
    contradicted = await api.post(
        path, "venue-a", json={"health_pass": text, "direction": "out", "status_shown": "green"}
    )
    assert contradicted.status_code == 422 and "contradicts" in contradicted.text
    both = await api.post(
        path, "venue-a", json={"health_pass": text, "identity_number": NUMBER, "direction": "in"}
    )
    assert both.status_code == 422 and "exactly one" in both.text
    forged = await api.post(path, "venue-a", json={"health_pass": text[:-4] + "AAAA", "direction": "in"})
    assert forged.status_code == 422 and "health QR code refused" in forged.text
    crossings = await api.ok("GET", path, "venue-a")
    assert len(crossings) == 1


async def test_only_the_citizen_gets_their_code(api: Api) -> None:
    response = await api.get("/citizens/me/health-pass", "officer-a")
    assert response.status_code == 403
