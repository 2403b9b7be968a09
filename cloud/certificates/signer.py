"""Issue health certificates: payload -> CWT -> COSE_Sign1 -> zlib -> base45 -> `HC1:` text."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from cloud.certificates import codec, cose
from cloud.certificates.cose import PrivateKey
from cloud.certificates.cwt import CwtClaims, encode_claims
from cloud.certificates.keys import key_id
from cloud.certificates.model import HealthCertificate


class Signer:
    """Holds one document signer key with its certificate, and signs health certificates with it."""

    def __init__(self, private_key: PrivateKey, certificate: x509.Certificate, *, issuer: str) -> None:
        """`issuer` is the ISO 3166 alpha-2 country code written into the CWT issuer claim."""
        if not isinstance(private_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise TypeError(f"unsupported signing key {type(private_key).__name__}")
        if _spki(private_key.public_key()) != _spki(certificate.public_key()):
            raise ValueError("the private key does not belong to the signer certificate")
        self._private_key = private_key
        self.certificate = certificate
        self.issuer = issuer
        self.kid = key_id(certificate)

    def sign_cose(self, certificate: HealthCertificate, *, issued_at: float, expires_at: float) -> bytes:
        """Sign `certificate`, valid from `issued_at` to `expires_at` (epoch seconds), as COSE bytes."""
        if expires_at <= issued_at:
            raise ValueError("a certificate must expire after it is issued")
        claims = CwtClaims(
            issuer=self.issuer,
            issued_at=int(issued_at),
            expires_at=int(expires_at),
            hcert=certificate.to_payload(),
        )
        message = cose.sign(encode_claims(claims), self._private_key, self.kid)
        return cose.encode_sign1(message)

    def issue(self, certificate: HealthCertificate, *, issued_at: float, expires_at: float) -> str:
        """Sign `certificate` and encode it as the `HC1:` text that goes into the QR code."""
        return codec.wrap(self.sign_cose(certificate, issued_at=issued_at, expires_at=expires_at))


def _spki(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
