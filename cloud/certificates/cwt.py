"""CBOR Web Token claims of a DCC: issuer (1), expiry (4), issued-at (6), health certificate (-260)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from cloud.certificates._cbor import loads_exact
from cloud.certificates.errors import CborError

CLAIM_ISSUER = 1
CLAIM_EXPIRES_AT = 4
CLAIM_ISSUED_AT = 6
CLAIM_HCERT = -260
HCERT_EU_DCC_V1 = 1


@dataclass(frozen=True, slots=True)
class CwtClaims:
    """The claims of one signed certificate; `hcert` is the DCC payload as decoded (JSON-like)."""

    issuer: str | None
    issued_at: int
    expires_at: int
    hcert: Mapping[str, Any]


def encode_claims(claims: CwtClaims) -> bytes:
    """Serialise the claims map that becomes the COSE payload."""
    body: dict[int, Any] = {
        CLAIM_EXPIRES_AT: claims.expires_at,
        CLAIM_ISSUED_AT: claims.issued_at,
        CLAIM_HCERT: {HCERT_EU_DCC_V1: dict(claims.hcert)},
    }
    if claims.issuer is not None:
        body[CLAIM_ISSUER] = claims.issuer
    return cbor2.dumps(body)


def decode_claims(payload: bytes) -> CwtClaims:
    """Parse a COSE payload into CWT claims; raise CborError if it is not a DCC CWT."""
    try:
        claims = loads_exact(payload)
    except ValueError as exc:
        raise CborError(f"payload is not CBOR: {exc}") from exc
    if not isinstance(claims, Mapping):
        raise CborError("CWT claims must be a map")
    issuer = claims.get(CLAIM_ISSUER)
    if issuer is not None and not isinstance(issuer, str):
        raise CborError("issuer claim (1) must be a text string")
    hcert_claim = claims.get(CLAIM_HCERT)
    if not isinstance(hcert_claim, Mapping) or HCERT_EU_DCC_V1 not in hcert_claim:
        raise CborError("no EU DCC in the health certificate claim (-260 -> 1)")
    return CwtClaims(
        issuer=issuer,
        issued_at=_timestamp(claims, CLAIM_ISSUED_AT, "issued-at"),
        expires_at=_timestamp(claims, CLAIM_EXPIRES_AT, "expiry"),
        hcert=_hcert_map(hcert_claim[HCERT_EU_DCC_V1]),
    )


def decode_hcert(data: bytes) -> Mapping[str, Any]:
    """Parse a bare DCC payload (the CBOR map inside claim -260 -> 1)."""
    try:
        hcert = loads_exact(data)
    except ValueError as exc:
        raise CborError(f"health certificate is not CBOR: {exc}") from exc
    return _hcert_map(hcert)


def _hcert_map(hcert: object) -> Mapping[str, Any]:
    if not isinstance(hcert, Mapping) or not all(isinstance(key, str) for key in hcert):
        raise CborError("the health certificate must be a map with text keys")
    return hcert


def _timestamp(claims: Mapping[Any, Any], key: int, name: str) -> int:
    value = claims.get(key)
    # bool is an int in Python, but never a timestamp.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CborError(f"{name} claim ({key}) must be a number of seconds")
    return int(value)
