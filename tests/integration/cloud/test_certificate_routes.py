"""Vaccination certificates through the REST API: a citizen's own EU DCC (text and QR image) from their
doses, staff issuing one, the public verify route (tampered, expired, unknown signer, a foreign issuer once
trusted, an EU conformance vector) and the trust list."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import zxingcpp
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cloud.certificates import Signer, codec
from cloud.certificates.keys import key_id, self_signed_certificate
from cloud.storage.repository import Repository
from qmon.clock import ManualClock
from tests.conformance.eu_dcc import load_vectors
from tests.integration.cloud.support import hub_http
from tests.integration.cloud.vaccination_support import (
    CCCD,
    IDENTITY_KEY,
    OTHER_CCCD,
    VaxApi,
    seed_staff,
    signing_settings,
)
from tests.unit.certificates.builders import T0, make_certificate, make_signing_material

YEAR_S = 365 * 24 * 3600


def hub_settings(directory: Path, *, trusted: list[x509.Certificate] | None = None) -> dict[str, Any]:
    return {
        "identity_hash_key": IDENTITY_KEY,
        "certificates": signing_settings(directory, trusted=trusted or []),
    }


@pytest.fixture
async def hub(sqlite_repo: Repository, tmp_path: Path) -> AsyncIterator[tuple[VaxApi, ManualClock]]:
    """The hub with a signing key, a vaccinated citizen of ward-a (CCCD) and one without doses."""
    seed_staff(sqlite_repo)
    async with hub_http(sqlite_repo, **hub_settings(tmp_path)) as (client, app):
        api = VaxApi(client)
        site = await api.site()
        first = await api.dose(site, dose_number=1, administered_at="2026-10-01T09:00:00+07:00")
        assert first.status_code == 201, first.text
        assert (await api.dose(site)).status_code == 201
        yield api, app.state.hub.clock


async def verify(api: VaxApi, text: str) -> dict[str, Any]:
    response = await api.post("/certificates/verify", None, json={"text": text})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_a_citizen_gets_a_certificate_for_their_latest_dose_that_verifies(
    hub: tuple[VaxApi, ManualClock],
) -> None:
    api, _clock = hub
    citizen = await api.register(CCCD, full_name="Phạm Thị Dung")
    response = await api.get("/citizens/me/certificate", citizen)
    assert response.status_code == 200, response.text
    issued = response.json()
    assert issued["text"].startswith("HC1:")
    payload = issued["payload"]
    assert payload["nam"] == {"fn": "Phạm", "gn": "Thị Dung", "fnt": "PHAM", "gnt": "THI<DUNG"}
    assert payload["dob"] == "1990-04-12"
    (entry,) = payload["v"]
    assert (entry["dn"], entry["sd"], entry["mp"], entry["ma"]) == (2, 2, "EU/1/20/1528", "ORG-100030215")
    assert (
        entry["dt"] == "2026-11-21" and entry["co"] == "VN" and entry["ci"].startswith("URN:UVCI:01:VN:QMON")
    )

    result = await verify(api, issued["text"])
    assert result["valid"] is True and result["reason"] is None
    assert result["kid"] == issued["kid"] and result["issuer"] == "VN" and result["payload"] == payload

    other = await api.register(OTHER_CCCD, ward_id="ward-b")
    assert (await api.get("/citizens/me/certificate", other)).status_code == 404  # no doses
    assert (await api.get("/citizens/me/certificate", "vacc-a")).status_code == 403


async def test_the_qr_image_reads_back_as_the_certificate_text(hub: tuple[VaxApi, ManualClock]) -> None:
    api, _clock = hub
    citizen = await api.register(CCCD)
    response = await api.get("/citizens/me/certificate/qr.png", citizen)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_GRAYSCALE)
    (code,) = zxingcpp.read_barcodes(image)
    assert code.text.startswith("HC1:")
    assert (await verify(api, code.text))["valid"] is True
    assert (
        await api.get("/citizens/me/certificate/qr.png", citizen, params={"scale": 99})
    ).status_code == 422


async def test_a_tampered_byte_an_expired_certificate_and_garbage_fail_with_their_reason(
    hub: tuple[VaxApi, ManualClock],
) -> None:
    api, clock = hub
    citizen = await api.register(CCCD)
    text = (await api.get("/citizens/me/certificate", citizen)).json()["text"]
    cose = bytearray(codec.unwrap(text))
    cose[-5] ^= 0x01  # a bit of the signature
    tampered = await verify(api, codec.wrap(bytes(cose)))
    assert tampered["valid"] is False and tampered["layer"] == "signature" and tampered["payload"] is None
    cose = bytearray(codec.unwrap(text))
    cose[40] ^= 0x01  # a byte of the signed content
    assert (await verify(api, codec.wrap(bytes(cose))))["valid"] is False
    assert (await verify(api, "HC2:" + text[4:]))["layer"] == "prefix"
    assert (await verify(api, "HC1:NOT*BASE45"))["layer"] == "base45"
    assert (await api.post("/certificates/verify", None, json={"text": ""})).status_code == 422
    assert (await api.post("/certificates/verify", None, json={"text": text, "x": 1})).status_code == 422

    clock.advance(YEAR_S + 60)
    expired = await verify(api, text)
    assert expired["valid"] is False and expired["layer"] == "expired"


async def test_foreign_certificates_verify_once_their_signer_is_trusted(
    sqlite_repo: Repository, tmp_path: Path
) -> None:
    key, _ = make_signing_material(slot=7)
    dsc = self_signed_certificate(
        key, country="DE", common_name="a foreign DSC", valid_from=T0, valid_until=T0 + timedelta(days=730)
    )
    foreign = Signer(key, dsc, issuer="DE")
    now = 1_795_000_000.0  # the hub's test clock: 2026-11-21T11:00Z is 1_795_777_200
    text = foreign.issue(make_certificate(), issued_at=now, expires_at=now + YEAR_S)
    seed_staff(sqlite_repo)
    async with hub_http(sqlite_repo, **hub_settings(tmp_path)) as (client, _app):
        api = VaxApi(client)
        unknown = await verify(api, text)
        assert unknown["valid"] is False and unknown["layer"] == "unknown_key"
        listed = (await api.get("/certificates/trust-list", None)).json()
        assert [entry["own"] for entry in listed] == [True]
    async with hub_http(sqlite_repo, **hub_settings(tmp_path, trusted=[dsc])) as (client, _app):
        api = VaxApi(client)
        trusted = await verify(api, text)
        assert trusted["valid"] is True and trusted["issuer"] == "DE"
        listed = (await api.get("/certificates/trust-list", None)).json()
        assert [(entry["own"], entry["country"]) for entry in listed] == [(True, "VN"), (False, "DE")]
        der = base64.b64decode(listed[1]["certificate"])
        assert base64.b64decode(listed[1]["kid"]) == key_id(x509.load_der_x509_certificate(der))
        assert listed[1]["certificate_pem"].startswith("-----BEGIN CERTIFICATE-----")


async def test_an_eu_conformance_vector_verifies_with_its_signer_in_the_trust_list(
    sqlite_repo: Repository, tmp_path: Path
) -> None:
    vector = next(
        v
        for v in load_vectors()
        if v.raw.get("EXPECTEDRESULTS", {}).get("EXPECTEDVERIFY") is True
        and v.raw.get("EXPECTEDRESULTS", {}).get("EXPECTEDEXPIRATIONCHECK") is True
        and v.has("PREFIX")
        and v.has("TESTCTX.VALIDATIONCLOCK")
    )
    dsc = x509.load_der_x509_certificate(base64.b64decode(vector.field("TESTCTX.CERTIFICATE")))
    async with hub_http(sqlite_repo, **hub_settings(tmp_path, trusted=[dsc])) as (client, app):
        api = VaxApi(client)
        # The vector is valid at its own clock, long before the hub's: a verifier at the hub's time refuses
        # it as expired, which shows the signature and the key were accepted first.
        result = await verify(api, vector.field("PREFIX"))
        assert result["layer"] in {None, "expired"}, result
        assert app.state.hub.clock.now() > vector.clock


async def test_staff_issue_certificates_for_their_wards_only(hub: tuple[VaxApi, ManualClock]) -> None:
    api, _clock = hub
    await api.register(CCCD)
    issued = await api.post("/certificates/vaccination", "vacc-a", json={"identity_number": CCCD})
    assert issued.status_code == 200, issued.text
    assert (await verify(api, issued.json()["text"]))["valid"] is True
    assert (
        await api.post("/certificates/vaccination", "vacc-b", json={"identity_number": CCCD})
    ).status_code == 404
    refused = await api.post("/certificates/vaccination", "officer-a", json={"identity_number": CCCD})
    assert refused.status_code == 403
    unknown = await api.post("/certificates/vaccination", "vacc-a", json={"identity_number": OTHER_CCCD})
    assert unknown.status_code == 404


async def test_without_a_signing_key_issuing_is_unavailable_and_verifying_still_works(
    sqlite_repo: Repository, tmp_path: Path
) -> None:
    key, dsc = make_signing_material(slot=8)
    text = Signer(key, dsc, issuer="VN").issue(
        make_certificate(), issued_at=1_795_000_000, expires_at=1_799_000_000
    )
    pem = dsc.public_bytes(serialization.Encoding.PEM)
    seed_staff(sqlite_repo)
    settings = {"identity_hash_key": IDENTITY_KEY, "certificates": {"trusted_certificates": [pem.decode()]}}
    async with hub_http(sqlite_repo, **settings) as (client, _app):
        api = VaxApi(client)
        site = await api.site()
        assert (await api.dose(site)).status_code == 201
        citizen = await api.register(CCCD)
        response = await api.get("/citizens/me/certificate", citizen)
        assert response.status_code == 503 and "signing key" in response.json()["detail"]
        assert (await verify(api, text))["valid"] is True
