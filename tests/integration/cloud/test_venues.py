"""Venues and checkpoints through the REST API, on SQLite and PostgreSQL: registration by ward, signed QR
codes (verified offline with the published key; forged and altered codes refused), citizens' check-ins and
check-outs, checkpoint crossings, and the refusals of roles and wards that do not own them."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import zxingcpp
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from cloud.qrcodes import QrSigner, QrVerifier, b64url, b64url_decode, load_private_key, load_public_key
from cloud.storage.repository import Repository
from cloud.storage.schema import checkins, crossings
from tests.integration.cloud.public_health import Api, open_api, seed_staff, write_public_key, write_qr_key

CCCD = "001203004567"
OTHER = "001203009999"


@pytest.fixture
async def api(repo: Repository, tmp_path: Path) -> AsyncIterator[Api]:
    seed_staff(repo)
    key_file, _key = write_qr_key(tmp_path)
    async with open_api(repo, venue_qr_key_file=key_file) as opened:
        yield opened


async def register(api: Api, as_: str = "venue-a", **overrides: Any) -> dict[str, Any]:
    body = {"kind": "venue", "name": "Pho 24", "ward_id": "ward-a", "address": "24 Hang Bac", **overrides}
    venue: dict[str, Any] = await api.ok("POST", "/venues", as_, 201, json=body)
    return venue


async def qr_text(api: Api, venue_id: int, as_: str = "venue-a") -> str:
    text: str = (await api.ok("GET", f"/venues/{venue_id}/qr", as_))["text"]
    return text


async def test_venue_staff_register_venues_in_their_wards_only(api: Api) -> None:
    venue = await register(api)
    assert venue["kind"] == "venue" and venue["ward_id"] == "ward-a" and venue["created_by"] == "venue-a"
    checkpoint = await register(api, "admin", kind="checkpoint", name="QL1A km 12", ward_id="ward-b")
    refused = await api.post("/venues", "venue-a", json={**venue | {"ward_id": "ward-b"}})
    assert refused.status_code == 422  # extra fields (id, created_by...) are refused
    body = {"kind": "venue", "name": "X", "ward_id": "ward-b", "address": "1 Hang Ma"}
    assert (await api.post("/venues", "venue-a", json=body)).status_code == 403
    for user in ("lab-a", "officer-a", "tracer-a"):
        assert (await api.post("/venues", user, json=body | {"ward_id": "ward-a"})).status_code == 403, user
    assert [v["id"] for v in await api.ok("GET", "/venues", "venue-a")] == [venue["id"]]
    assert [v["id"] for v in await api.ok("GET", "/venues", "venue-b")] == [checkpoint["id"]]
    assert len(await api.ok("GET", "/venues", "admin")) == 2
    assert (await api.get(f"/venues/{checkpoint['id']}", "venue-a")).status_code == 404
    assert (await api.get(f"/venues/{checkpoint['id']}/qr", "venue-a")).status_code == 404
    assert (await api.get(f"/venues/{venue['id']}", "officer-a")).status_code == 403


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "shop"}, "kind"),
        ({"name": ""}, "name"),
        ({"ward_id": "ward a!"}, "ward_id"),
        ({"owner_phone": "0912"}, "Extra inputs are not permitted"),
    ],
)
async def test_bad_venue_bodies_are_422(api: Api, body: dict[str, Any], message: str) -> None:
    full = {"kind": "venue", "name": "Pho 24", "ward_id": "ward-a", "address": "24 Hang Bac", **body}
    response = await api.post("/venues", "venue-a", json=full)
    assert response.status_code == 422 and message in response.text


async def test_the_qr_code_verifies_offline_with_the_published_key(api: Api) -> None:
    venue = await register(api)
    qr = await api.ok("GET", f"/venues/{venue['id']}/qr", "venue-a")
    keys = (await api.client.get("/api/v1/venues/qr-keys")).json()  # no login needed
    assert len(keys) == 1 and keys[0]["current"] and keys[0]["kid"] == qr["kid"] and keys[0]["alg"] == "ES256"
    verifier = QrVerifier([load_public_key(keys[0]["public_key_pem"].encode())])
    code = verifier.verify(qr["text"])
    assert (code.venue_id, code.kind, code.ward_id, code.kid) == (venue["id"], "venue", "ward-a", qr["kid"])
    png = await api.get(f"/venues/{venue['id']}/qr.png", "venue-a")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert len(decoded) == 1 and verifier.verify(decoded[0].text).venue_id == venue["id"]
    svg = await api.get(f"/venues/{venue['id']}/qr.svg", "venue-a")
    assert (
        svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content
    )


async def test_a_citizen_checks_in_by_qr_and_checks_out(api: Api) -> None:
    venue = await register(api)
    text = await qr_text(api, venue["id"])
    citizen = await api.register_citizen(CCCD)
    checkin = await api.ok("POST", "/citizens/me/checkins", citizen, 201, json={"qr": text})
    assert checkin["venue_id"] == venue["id"] and checkin["venue_name"] == "Pho 24"
    assert checkin["checked_out_at"] is None
    again = await api.ok("POST", "/citizens/me/checkins", citizen, 201, json={"qr": text})
    assert again["id"] == checkin["id"]  # a second scan within minutes is the same visit
    api.clock.advance(1800)
    out = await api.ok("POST", f"/citizens/me/checkins/{checkin['id']}/checkout", citizen)
    assert out["checked_out_at"] == out["present_until"] and out["checked_out_at"] > checkin["checked_in_at"]
    twice = await api.post(f"/citizens/me/checkins/{checkin['id']}/checkout", citizen)
    assert twice.status_code == 409
    mine = await api.ok("GET", "/citizens/me/checkins", citizen)
    assert [c["id"] for c in mine] == [checkin["id"]]
    with api.repo.read() as conn:
        stored = " ".join(str(v) for v in conn.execute(sa.select(checkins)).mappings().one().values())
    assert CCCD not in stored


async def test_citizens_and_staff_see_only_their_own_check_ins(api: Api) -> None:
    venue = await register(api)
    text = await qr_text(api, venue["id"])
    alice = await api.register_citizen(CCCD)
    bob = await api.register_citizen(OTHER)
    alice_in = await api.ok("POST", "/citizens/me/checkins", alice, 201, json={"qr": text})
    assert await api.ok("GET", "/citizens/me/checkins", bob) == []
    assert (await api.post(f"/citizens/me/checkins/{alice_in['id']}/checkout", bob)).status_code == 404
    listed = await api.ok("GET", f"/venues/{venue['id']}/checkins", "venue-a")
    assert [c["id"] for c in listed] == [alice_in["id"]] and listed[0]["venue_name"] is None
    assert (await api.get(f"/venues/{venue['id']}/checkins", "venue-b")).status_code == 404
    assert (await api.get(f"/venues/{venue['id']}/checkins", alice)).status_code == 403
    assert (await api.get("/citizens/me/checkins", "venue-a")).status_code == 403
    assert len(await api.ok("GET", f"/venues/{venue['id']}/checkins", "admin")) == 1


def _tamper_payload(text: str, **changes: Any) -> str:
    body, _, signature = text.rpartition(".")
    payload = json.loads(b64url_decode(body[len("QMV1:") :]))
    payload.update(changes)
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return f"QMV1:{b64url(raw)}.{signature}"


async def test_forged_or_altered_codes_are_refused(api: Api, tmp_path: Path) -> None:
    venue = await register(api)
    other = await register(api, name="Bun Cha", address="3 Hang Manh")
    text = await qr_text(api, venue["id"])
    citizen = await api.register_citizen(CCCD)
    forger_path, _ = write_qr_key(tmp_path, "forger.pem")
    forged = QrSigner(load_private_key(forger_path.read_bytes())).sign(venue["id"], "venue", "ward-a", 1)
    body, _, signature = text.rpartition(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    cases = {
        "invalid signature": _tamper_payload(text, venue=other["id"]),
        "unknown key": forged,
        "signature": f"{body}.{flipped}",
        "start with QMV1:": "HC1:" + text[5:],
        "no signature part": body,
        "base64url": text.replace(".", ".*", 1),
    }
    for reason, bad in cases.items():
        response = await api.post("/citizens/me/checkins", citizen, json={"qr": bad})
        assert response.status_code == 422, (reason, response.text)
        assert "QR code refused" in response.json()["detail"] and reason in response.json()["detail"], reason
    assert (await api.post("/citizens/me/checkins", citizen, json={"qr": text, "x": 1})).status_code == 422
    assert (await api.post("/citizens/me/checkins", citizen, json={"qr": "Q" * 600})).status_code == 422
    assert await api.ok("GET", "/citizens/me/checkins", citizen) == []


async def test_a_checkpoint_code_is_not_for_check_ins(api: Api) -> None:
    checkpoint = await register(api, kind="checkpoint", name="QL5 toll", address="QL5 km 20")
    citizen = await api.register_citizen(CCCD)
    response = await api.post(
        "/citizens/me/checkins", citizen, json={"qr": await qr_text(api, checkpoint["id"])}
    )
    assert response.status_code == 422 and "checkpoint" in response.json()["detail"]


async def test_checkpoint_staff_record_crossings_in_their_wards(api: Api) -> None:
    checkpoint = await register(api, kind="checkpoint", name="QL5 toll", address="QL5 km 20")
    venue = await register(api)
    body = {"identity_number": "001 203 004 567", "direction": "in", "status_shown": "green"}
    crossing = await api.ok("POST", f"/venues/{checkpoint['id']}/crossings", "venue-a", 201, json=body)
    assert crossing["direction"] == "in" and crossing["status_shown"] == "green"
    assert crossing["recorded_by"] == "venue-a" and "identity_number" not in crossing
    late = {**body, "direction": "out", "status_shown": "yellow", "crossed_at": "2026-11-21T09:30:00+00:00"}
    await api.ok("POST", f"/venues/{checkpoint['id']}/crossings", "venue-a", 201, json=late)
    listed = await api.ok("GET", f"/venues/{checkpoint['id']}/crossings", "venue-a")
    assert [c["direction"] for c in listed] == ["in", "out"]
    assert (await api.post(f"/venues/{checkpoint['id']}/crossings", "venue-b", json=body)).status_code == 404
    assert (await api.post(f"/venues/{checkpoint['id']}/crossings", "lab-a", json=body)).status_code == 403
    assert (await api.get(f"/venues/{checkpoint['id']}/crossings", "venue-b")).status_code == 404
    at_venue = await api.post(f"/venues/{venue['id']}/crossings", "venue-a", json=body)
    assert at_venue.status_code == 422 and "not a checkpoint" in at_venue.text
    with api.repo.read() as conn:
        rows = conn.execute(sa.select(crossings)).mappings().all()
    assert len(rows) == 2 and all(CCCD not in " ".join(map(str, r.values())) for r in rows)


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"identity_number": "12345"}, 422, "9 digits"),
        ({"direction": "sideways"}, 422, "direction"),
        ({"status_shown": "blue"}, 422, "status_shown"),
        ({"crossed_at": "2026-11-21T10:00:00"}, 422, "timezone"),
        ({"crossed_at": "2026-11-25T10:00:00+00:00"}, 422, "future"),
        ({"crossed_at": "2026-11-10T10:00:00+00:00"}, 422, "within the last"),
        ({"name": "Nguyen"}, 422, "Extra inputs"),
    ],
)
async def test_bad_crossings_are_4xx_with_the_reason(
    api: Api, changes: dict[str, Any], status: int, message: str
) -> None:
    checkpoint = await register(api, kind="checkpoint", name="QL5 toll", address="QL5 km 20")
    body = {"identity_number": CCCD, "direction": "in", "status_shown": "green", **changes}
    response = await api.post(f"/venues/{checkpoint['id']}/crossings", "venue-a", json=body)
    assert response.status_code == status and message in response.text, response.text


async def test_codes_of_a_retired_key_still_verify_after_rotation(repo: Repository, tmp_path: Path) -> None:
    seed_staff(repo)
    old_file, old_key = write_qr_key(tmp_path, "old.pem")
    async with open_api(repo, venue_qr_key_file=old_file) as api:
        venue = await register(api)
        old_text = await qr_text(api, venue["id"])
    new_file, _ = write_qr_key(tmp_path, "new.pem")
    retired = write_public_key(tmp_path, old_key, "old.pub.pem")
    async with open_api(repo, venue_qr_key_file=new_file, venue_qr_retired_key_files=[retired]) as api:
        keys = (await api.client.get("/api/v1/venues/qr-keys")).json()
        assert [k["current"] for k in keys] == [True, False]
        new_text = await qr_text(api, venue["id"])
        assert new_text.split(".")[0] != old_text.split(".")[0]
        citizen = await api.register_citizen(CCCD)
        await api.ok("POST", "/citizens/me/checkins", citizen, 201, json={"qr": old_text})
    async with open_api(repo, venue_qr_key_file=new_file) as api:  # the old key withdrawn
        citizen = await api.register_citizen(OTHER)
        refused = await api.post("/citizens/me/checkins", citizen, json={"qr": old_text})
        assert refused.status_code == 422 and "unknown key" in refused.text


async def test_without_a_signing_key_qr_routes_answer_503(repo: Repository) -> None:
    seed_staff(repo)
    async with open_api(repo) as api:
        venue = await register(api)
        assert (await api.get(f"/venues/{venue['id']}/qr", "venue-a")).status_code == 503
        assert (await api.client.get("/api/v1/venues/qr-keys")).json() == []
        citizen = await api.register_citizen(CCCD)
        assert (await api.post("/citizens/me/checkins", citizen, json={"qr": "QMV1:x.y"})).status_code == 503


def test_keys_must_be_p256() -> None:
    with pytest.raises(ValueError, match="P-256"):
        QrSigner(ec.generate_private_key(ec.SECP384R1()))


ODD_REQUESTS: list[tuple[str, str, str, Any]] = [
    ("GET", "/venues/2147483648", "admin", None),
    ("GET", "/venues/0/qr", "admin", None),
    ("GET", "/venues?ward=%00", "admin", None),
    ("GET", "/venues?offset=99999999999999999999", "admin", None),
    ("POST", "/venues", "admin", {"kind": "venue", "name": "a\u0000b", "ward_id": "ward-a", "address": "x"}),
    ("POST", "/venues", "admin", [1, 2]),
    ("POST", "/venues/1/crossings", "admin", {"identity_number": "\u0000", "direction": "in"}),
    ("POST", "/citizens/me/checkins/9223372036854775808/checkout", "citizen", None),
    ("POST", "/citizens/me/checkins", "citizen", {"qr": "QMV1:\u0000.\u0000"}),
    ("GET", "/samples/99999999999", "admin", None),
    ("GET", "/samples?ward=..%2F", "admin", None),
    (
        "POST",
        "/samples",
        "admin",
        {"kind": "pcr", "ward_id": "ward-a", "collected_at": "0001-01-01T00:00:00Z"},
    ),
    ("POST", "/samples/1/result", "admin", {"result": "positive", "collected_at": "9999-12-31T23:59:59Z"}),
    ("GET", "/cases/-1", "admin", None),
    ("POST", "/cases/1/contacts", "admin", {"window_start": "9999-12-31T23:59:59+00:00"}),
    ("POST", "/cases/1/orders", "admin", {"quarantine_days": 10**20}),
]


async def test_odd_inputs_are_4xx_never_500(api: Api) -> None:
    await register(api)
    citizen = await api.register_citizen(CCCD)
    for method, path, user, body in ODD_REQUESTS:
        as_ = citizen if user == "citizen" else user
        kwargs = {} if body is None else {"json": body}
        response = await (api.get(path, as_) if method == "GET" else api.post(path, as_, **kwargs))
        assert 400 <= response.status_code < 500, (method, path, response.status_code, response.text)
