"""Venue QR codes (pure): the documented format byte for byte, signing and verifying, and every refusal."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from cloud.qrcodes import (
    PREFIX,
    QrCodeError,
    QrSigner,
    QrVerifier,
    b64url,
    load_public_key,
    public_key_id,
    render_png,
    render_svg,
)

# A golden vector made once with a throw-away key (only its public half is kept): docs/PROTOCOL.md's example.
GOLDEN_PUBLIC_KEY = b"""-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE/eD9NZ9csCN/VjTMOF5VqyGSVSpz
XN/IhMRgy76sdWX8Tmcc1o1FBOoVwIic3ONyeT7fsisV1jz6+vdrHpaNGA==
-----END PUBLIC KEY-----
"""
GOLDEN_KID = "qgbsM9pHU3w"
GOLDEN_TEXT = (
    "QMV1:eyJpYXQiOjE3OTUyNTg4MDAsImsiOiJ2ZW51ZSIsImtpZCI6InFnYnNNOXBIVTN3IiwidiI6MSwidmVudWUiOjQyLCJ3Ijoid2"
    "FyZC1hIn0.Hjf4KSBva7aXuk0QBLPHJKRB9ryvhMRdphX6uL7m2LocfMTkdYNAepMusHfMW1S4SdygR7_pOD-yLowNY93kQQ"
)


def golden_verifier() -> QrVerifier:
    return QrVerifier([load_public_key(GOLDEN_PUBLIC_KEY)])


def test_the_golden_vector_verifies_and_decodes_as_documented() -> None:
    assert public_key_id(load_public_key(GOLDEN_PUBLIC_KEY)) == GOLDEN_KID
    code = golden_verifier().verify(GOLDEN_TEXT)
    assert (code.venue_id, code.kind, code.ward_id, code.issued_at, code.kid) == (
        42,
        "venue",
        "ward-a",
        1795258800,
        GOLDEN_KID,
    )
    body, _, signature = GOLDEN_TEXT.rpartition(".")
    payload = base64.urlsafe_b64decode(body[len(PREFIX) :] + "==")
    assert payload == (b'{"iat":1795258800,"k":"venue","kid":"qgbsM9pHU3w","v":1,"venue":42,"w":"ward-a"}')
    assert len(base64.urlsafe_b64decode(signature + "==")) == 64


def test_a_signed_code_round_trips_and_the_payload_is_canonical() -> None:
    signer = QrSigner(ec.generate_private_key(ec.SECP256R1()))
    text = signer.sign(7, "checkpoint", "ward-b", 1_800_000_000)
    assert text.startswith(PREFIX) and "=" not in text and len(text) < 220
    code = QrVerifier([signer.public_key]).verify(text)
    assert (code.venue_id, code.kind, code.ward_id, code.kid) == (7, "checkpoint", "ward-b", signer.kid)
    assert QrVerifier([signer.public_key]).verify("  " + text + "\n") == code  # scanners add whitespace


def _resign(payload: dict[str, object], signer: QrSigner) -> str:
    """A code whose payload is `payload`, validly signed (to test the payload checks)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    body = PREFIX + b64url(json.dumps(payload).encode())
    r, s = decode_dss_signature(signer._private_key.sign(body.encode(), ec.ECDSA(hashes.SHA256())))
    return body + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (GOLDEN_TEXT.replace("QMV1:", "QMV2:"), "must start with QMV1:"),
        (GOLDEN_TEXT[:-3] + ("AAA" if GOLDEN_TEXT[-3:] != "AAA" else "BBB"), "invalid signature"),
        (GOLDEN_TEXT.replace("eyJpYXQiOjE3", "eyJpYXQiOjE4"), "invalid signature"),
        (GOLDEN_TEXT.rpartition(".")[0], "no signature part"),
        (GOLDEN_TEXT + "AA", "invalid signature"),
        (GOLDEN_TEXT.replace(".", ".!"), "not base64url"),
        ("QMV1:" + b64url(b"not json") + ".AAAA", "malformed payload"),
        ("QMV1:" + "A" * 600, "too long"),
    ],
)
def test_altered_codes_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(QrCodeError, match=reason):
        golden_verifier().verify(text)


def test_a_code_signed_by_another_key_is_refused() -> None:
    forger = QrSigner(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(QrCodeError, match="unknown key"):
        golden_verifier().verify(forger.sign(42, "venue", "ward-a", 1795258800))
    # Claiming the hub's key id does not help: the signature is checked with the hub's key.
    forged = _resign({"iat": 1, "k": "venue", "kid": GOLDEN_KID, "v": 1, "venue": 42, "w": "ward-a"}, forger)
    with pytest.raises(QrCodeError, match="invalid signature"):
        golden_verifier().verify(forged)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"v": 2}, "unsupported version"),
        ({"venue": "42"}, "venue"),
        ({"venue": 0}, "venue"),
        ({"k": "shop"}, "kind"),
        ({"w": ""}, "malformed payload"),
        ({"iat": 1.5}, "malformed payload"),
    ],
)
def test_malformed_payloads_are_refused_even_when_signed(changes: dict[str, object], reason: str) -> None:
    signer = QrSigner(ec.generate_private_key(ec.SECP256R1()))
    payload = {"iat": 1, "k": "venue", "kid": signer.kid, "v": 1, "venue": 42, "w": "ward-a", **changes}
    with pytest.raises(QrCodeError, match=reason):
        QrVerifier([signer.public_key]).verify(_resign(payload, signer))


def test_images_are_png_and_svg() -> None:
    assert render_png(GOLDEN_TEXT).startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in render_svg(GOLDEN_TEXT)
