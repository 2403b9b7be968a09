"""Certificate routes: a citizen's own EU DCC (`/citizens/me/certificate`, text and QR image), staff issuing
one, verifying any `HC1:` text, and the hub's trust list of signer certificates (public)."""

from __future__ import annotations

import base64
import io
from datetime import datetime
from typing import Any

import segno
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.citizens import IdentityNumberIn
from cloud.api.deps import CitizenDep, HubDep, StaffDep
from cloud.api.ratelimit import ClientDep, LimiterDep
from cloud.certificate_service import IssuedCertificate, encode_kid
from cloud.ratelimit import LimitedAction

router = APIRouter(prefix="/certificates", tags=["certificates"])
own_router = APIRouter(prefix="/citizens/me/certificate", tags=["certificates"])

MAX_QR_TEXT = 4096  # a DCC QR holds at most ~4,296 alphanumeric characters


class CertificateOut(BaseModel):
    """An issued certificate: the `HC1:` text to put in a QR code, and what it attests."""

    text: str = Field(description="The QR code's content: `HC1:` + base45(zlib(COSE_Sign1)).")
    kid: str = Field(description="The signer's DCC key id (base64).")
    issued_at: datetime
    expires_at: datetime
    dose_id: int
    payload: dict[str, Any] = Field(description="The health certificate (EU DCC schema 1.3.0) as signed.")


class VerifyIn(BaseModel):
    """A scanned QR code's text."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_QR_TEXT)


class VerifyOut(BaseModel):
    """Valid, or the layer that refused the certificate and why."""

    valid: bool
    reason: str | None = Field(None, description="Why it is not valid.")
    layer: str | None = Field(
        None,
        description="Where it failed: prefix, base45, zlib, cose, cbor, unknown_key, signature, "
        "not_yet_valid, expired, key_usage, payload.",
    )
    kid: str | None = None
    issuer: str | None = None
    issued_at: int | None = None
    expires_at: int | None = None
    payload: dict[str, Any] | None = None


class TrustedSignerOut(BaseModel):
    """A document signer whose certificates this hub accepts."""

    kid: str = Field(description="DCC key id, base64.")
    country: str | None
    own: bool = Field(description="True for this hub's own signer.")
    kinds: list[str] = Field(description="Certificate kinds it may sign: v, t, r.")
    certificate: str = Field(
        description="The signer certificate, DER in base64 (as EU trust lists carry it)."
    )
    certificate_pem: str


def _out(issued: IssuedCertificate) -> CertificateOut:
    return CertificateOut(
        text=issued.text,
        kid=encode_kid(issued.kid),
        issued_at=issued.issued_at,
        expires_at=issued.expires_at,
        dose_id=issued.dose.id,
        payload=issued.certificate.to_payload(),
    )


def qr_png(text: str, scale: int) -> bytes:
    """The QR code image of a certificate text (error correction Q, as the DCC specification advises)."""
    code = segno.make_qr(text, error="q", boost_error=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


@own_router.get("", response_model=CertificateOut)
def get_my_certificate(actor: CitizenDep, hub: HubDep) -> CertificateOut:
    """Your vaccination certificate for your latest dose, newly signed (404 without doses)."""
    return _out(hub.certificates.issue_own(actor))


@own_router.get(
    "/qr.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The certificate's QR code."}},
)
def get_my_certificate_qr(
    actor: CitizenDep, hub: HubDep, scale: int = Query(4, ge=1, le=16, description="Pixels per module.")
) -> Response:
    """Your vaccination certificate as a QR code image (PNG)."""
    issued = hub.certificates.issue_own(actor)
    return Response(qr_png(issued.text, scale), media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post("/vaccination", response_model=CertificateOut)
def issue_certificate(body: IdentityNumberIn, actor: StaffDep, hub: HubDep) -> CertificateOut:
    """Issue a registered person's vaccination certificate (vaccinators of their ward or dose's ward)."""
    return _out(hub.certificates.issue_for(actor, body.identity_number))


@router.post("/verify", response_model=VerifyOut)
def verify_certificate(body: VerifyIn, hub: HubDep, limiter: LimiterDep, client: ClientDep) -> VerifyOut:
    """Verify an `HC1:` text against the trust list (public: the holder shows it anyway; limited per client
    address, 429 with Retry-After)."""
    limiter.hit(LimitedAction.VERIFY, client)
    result = hub.certificates.verify(body.text.strip())
    return VerifyOut(
        valid=result.valid,
        reason=result.reason,
        layer=result.layer,
        kid=encode_kid(result.kid) if result.kid is not None else None,
        issuer=result.issuer,
        issued_at=result.issued_at,
        expires_at=result.expires_at,
        payload=result.certificate.to_payload() if result.certificate is not None else None,
    )


@router.get("/trust-list", response_model=list[TrustedSignerOut])
def get_trust_list(hub: HubDep) -> list[TrustedSignerOut]:
    """The document signer certificates this hub issues under and accepts (public, for offline verifiers)."""
    return [
        TrustedSignerOut(
            kid=encode_kid(entry.kid),
            country=entry.country,
            own=entry.own,
            kinds=sorted(kind.value for kind in entry.kinds),
            certificate=base64.b64encode(entry.certificate.public_bytes(serialization.Encoding.DER)).decode(),
            certificate_pem=entry.certificate.public_bytes(serialization.Encoding.PEM).decode(),
        )
        for entry in hub.certificates.trust_list
    ]
