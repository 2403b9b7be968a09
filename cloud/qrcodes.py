"""Signed venue and checkpoint QR codes (docs/PROTOCOL.md §"Venue QR codes"). Pure: keys are passed in.

The QR text is `QMV1:` + base64url(payload) + `.` + base64url(signature), without padding. The payload is
JSON naming the venue, its kind and ward, when the code was issued, and the id of the key that signed it;
the signature is ECDSA P-256 with SHA-256 over the ASCII bytes before the `.`, as raw r || s (64 bytes, the
JWS ES256 form). Anyone holding the hub's published public keys verifies a code offline; the key id lets
the hub rotate its key while codes printed under an earlier one stay valid.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import segno
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

PREFIX = "QMV1:"
VERSION = 1
KID_BYTES = 8
COORDINATE_BYTES = 32  # P-256
MAX_QR_TEXT = 512  # a real code is about 200 characters; anything longer is refused before decoding
VenueKind = Literal["venue", "checkpoint"]


class QrCodeError(ValueError):
    """The text is not a valid venue QR code of this hub; the message says which check failed."""


@dataclass(frozen=True, slots=True)
class VenueCode:
    """What a venue QR code says: the venue, its kind and ward, when it was issued, which key signed it."""

    venue_id: int
    kind: VenueKind
    ward_id: str
    issued_at: int
    kid: str


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 4648 §5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of b64url (QrCodeError for characters outside the alphabet or a bad length)."""
    if not text or any(c not in _B64URL_ALPHABET for c in text) or len(text) % 4 == 1:
        raise QrCodeError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise QrCodeError("not base64url") from None


_B64URL_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def public_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """The key id: base64url of the first 8 bytes of SHA-256 over the key's DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b64url(hashlib.sha256(der).digest()[:KID_BYTES])


def public_key_pem(public_key: ec.EllipticCurvePublicKey) -> str:
    """The key as PEM SubjectPublicKeyInfo text, as the hub publishes it."""
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode("ascii")


def _check_p256(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> None:
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"venue QR keys must be ECDSA P-256, not {key.curve.name}")


class QrSigner:
    """Signs venue codes with the hub's current private key."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        _check_p256(private_key)
        self._private_key = private_key
        self.public_key = private_key.public_key()
        self.kid = public_key_id(self.public_key)

    def sign(self, venue_id: int, kind: VenueKind, ward_id: str, issued_at: int) -> str:
        """The QR text of a venue (deterministic payload; the ECDSA signature is randomised)."""
        return self.sign_payload(
            PREFIX, {"iat": issued_at, "k": kind, "v": VERSION, "venue": venue_id, "w": ward_id}
        )

    def sign_payload(self, prefix: str, payload: Mapping[str, Any]) -> str:
        """`prefix` + base64url(JSON of `payload` with this key's id) + `.` + base64url(raw ES256 signature).

        The scheme of every code the hub signs; the prefix says what kind of code it is."""
        data = {**payload, "kid": self.kid}
        body = prefix + b64url(json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8"))
        der = self._private_key.sign(body.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        raw = r.to_bytes(COORDINATE_BYTES, "big") + s.to_bytes(COORDINATE_BYTES, "big")
        return body + "." + b64url(raw)


class QrVerifier:
    """Verifies venue codes against the hub's public keys (current and retired), by key id."""

    def __init__(self, public_keys: Iterable[ec.EllipticCurvePublicKey]) -> None:
        self.keys: dict[str, ec.EllipticCurvePublicKey] = {}
        for key in public_keys:
            _check_p256(key)
            self.keys[public_key_id(key)] = key

    def verify(self, text: str) -> VenueCode:
        """The venue a QR text names, if its signature holds (QrCodeError otherwise, with the reason)."""
        return _venue_code(self.verify_payload(PREFIX, text, "venue QR code"))

    def verify_payload(self, prefix: str, text: str, what: str) -> Mapping[str, Any]:
        """The payload of a code `sign_payload` made with `prefix`, if its signature holds under a known key
        (QrCodeError otherwise, naming `what` the code should have been)."""
        text = text.strip()
        if len(text) > MAX_QR_TEXT:
            raise QrCodeError(f"too long to be a {what}")
        if not text.startswith(prefix):
            raise QrCodeError(f"not a {what} (it must start with {prefix})")
        body, dot, signature_part = text.rpartition(".")
        if not dot or not body.startswith(prefix):
            raise QrCodeError("malformed: no signature part")
        payload = _payload(b64url_decode(body[len(prefix) :]))
        if payload.get("v") != VERSION:
            raise QrCodeError("unsupported version")
        kid = payload.get("kid")
        key = self.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise QrCodeError("signed with an unknown key")
        signature = b64url_decode(signature_part)
        if len(signature) != 2 * COORDINATE_BYTES:
            raise QrCodeError("invalid signature")
        r = int.from_bytes(signature[:COORDINATE_BYTES], "big")
        s = int.from_bytes(signature[COORDINATE_BYTES:], "big")
        try:
            key.verify(encode_dss_signature(r, s), body.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise QrCodeError("invalid signature") from None
        return payload


def _payload(raw: bytes) -> Mapping[str, Any]:
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise QrCodeError("malformed payload") from None
    if not isinstance(payload, dict):
        raise QrCodeError("malformed payload")
    return payload


def _venue_code(payload: Mapping[str, Any]) -> VenueCode:
    venue_id, kind, ward, issued_at, kid = (payload.get(k) for k in ("venue", "k", "w", "iat", "kid"))
    if type(venue_id) is not int or venue_id < 1:
        raise QrCodeError("malformed payload: venue")
    if kind not in ("venue", "checkpoint"):
        raise QrCodeError("malformed payload: kind")
    if not isinstance(ward, str) or not ward or type(issued_at) is not int or not isinstance(kid, str):
        raise QrCodeError("malformed payload")
    return VenueCode(venue_id, kind, ward, issued_at, kid)


def render_png(text: str, *, scale: int = 8) -> bytes:
    """The QR code of `text` as a PNG (error correction M, a 4-module quiet zone)."""
    out = io.BytesIO()
    segno.make_qr(text, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def render_svg(text: str, *, scale: int = 8) -> bytes:
    """The QR code of `text` as an SVG document."""
    out = io.BytesIO()
    segno.make_qr(text, error="m").save(out, kind="svg", scale=scale, border=4, xmldecl=True)
    return out.getvalue()


def load_private_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    """An unencrypted PEM (PKCS#8 or SEC1) P-256 private key (ValueError otherwise)."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the venue QR signing key must be an EC (P-256) private key")
    _check_p256(key)
    return key


def load_public_key(pem: bytes) -> ec.EllipticCurvePublicKey:
    """A PEM SubjectPublicKeyInfo P-256 public key (ValueError otherwise)."""
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("a venue QR verification key must be an EC (P-256) public key")
    _check_p256(key)
    return key
