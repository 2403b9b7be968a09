"""Verify scanned health certificates against a trust list, at the time an injected clock gives."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cloud.certificates import codec
from cloud.certificates.cose import CoseSign1, PublicKey, decode_sign1, verify_signature
from cloud.certificates.cwt import CwtClaims, decode_claims
from cloud.certificates.errors import CoseError, ExpiredError, NotYetValidError, UnknownKeyError
from cloud.certificates.keys import TrustedKey
from cloud.certificates.model import HealthCertificate


@dataclass(frozen=True, slots=True)
class AuthenticMessage:
    """A COSE message whose signature verified, with its claims and the key that signed it."""

    message: CoseSign1
    claims: CwtClaims
    kid: bytes
    signer: TrustedKey


@dataclass(frozen=True, slots=True)
class VerifiedCertificate:
    """A health certificate that passed every check."""

    certificate: HealthCertificate
    kid: bytes
    issuer: str | None
    issued_at: int
    expires_at: int


def check_validity(claims: CwtClaims, now: float, *, clock_skew: float = 0.0) -> None:
    """Raise unless issued-at <= now <= expiry (issued-at may lead `now` by `clock_skew` seconds)."""
    if now + clock_skew < claims.issued_at:
        raise NotYetValidError(f"issued at {claims.issued_at}, after the clock ({now:.0f})")
    if now > claims.expires_at:
        raise ExpiredError(f"expired at {claims.expires_at}, before the clock ({now:.0f})")


class Verifier:
    """Checks a DCC's signature, then its validity window, its schema, and the signer's key usage."""

    def __init__(
        self,
        trust_list: Mapping[bytes, TrustedKey | x509.Certificate | PublicKey],
        now: Callable[[], float],
        *,
        clock_skew: float = 0.0,
    ) -> None:
        """`trust_list` maps key id to key; `now` returns epoch seconds (e.g. a qmon Clock's `now`)."""
        self._trust = {kid: _trusted(entry) for kid, entry in trust_list.items()}
        self._now = now
        self._clock_skew = clock_skew

    def verify(self, text: str) -> VerifiedCertificate:
        """Decode and verify the `HC1:` text of a QR code; raise a CertificateError naming the layer."""
        return self.verify_cose(codec.unwrap(text))

    def verify_cose(self, cose: bytes) -> VerifiedCertificate:
        """Verify a COSE_Sign1 message (the layers under zlib)."""
        authentic = self.authenticate(cose)
        claims = authentic.claims
        check_validity(claims, self._now(), clock_skew=self._clock_skew)
        certificate = HealthCertificate.from_payload(claims.hcert)
        authentic.signer.check_key_usage(certificate.kind)
        return VerifiedCertificate(
            certificate=certificate,
            kid=authentic.kid,
            issuer=claims.issuer,
            issued_at=claims.issued_at,
            expires_at=claims.expires_at,
        )

    def authenticate(self, cose: bytes) -> AuthenticMessage:
        """Check only that a trusted key signed the message, then decode its claims (no clock involved)."""
        message = decode_sign1(cose)
        kid = message.kid
        if kid is None:
            raise CoseError("no kid in the COSE headers")
        signer = self._trust.get(kid)
        if signer is None:
            raise UnknownKeyError(f"kid {kid.hex()} is not in the trust list")
        verify_signature(message, signer.public_key)
        return AuthenticMessage(message, decode_claims(message.payload), kid, signer)


def _trusted(entry: TrustedKey | x509.Certificate | PublicKey) -> TrustedKey:
    if isinstance(entry, TrustedKey):
        return entry
    if isinstance(entry, x509.Certificate):
        return TrustedKey.from_certificate(entry)
    if isinstance(entry, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        return TrustedKey(entry)
    raise TypeError(f"unsupported trust-list entry {type(entry).__name__}")
