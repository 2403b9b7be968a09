"""Builders with defaults for the certificate core: payloads, signing keys, signers and verifiers.

Keys are generated at run time, once per test session and kind, and never written anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cloud.certificates import HealthCertificate, PersonName, Signer, VaccinationEntry, Verifier
from cloud.certificates.cose import PrivateKey
from cloud.certificates.keys import self_signed_certificate, trust_list_from_certificates
from cloud.certificates.model import CertificateKind

ISSUED_AT = 1_790_000_000.0  # 2026-09-21
VALID_FOR = 365 * 24 * 3600.0
EXPIRES_AT = ISSUED_AT + VALID_FOR
T0 = datetime.fromtimestamp(ISSUED_AT, UTC)


def make_vaccination(**overrides: Any) -> VaccinationEntry:
    """Second dose of two of a COVID-19 mRNA vaccine, given in Viet Nam."""
    values: dict[str, Any] = {
        "tg": "840539006",
        "vp": "1119349007",
        "mp": "EU/1/20/1528",
        "ma": "ORG-100030215",
        "dn": 2,
        "sd": 2,
        "dt": "2026-09-01",
        "co": "VN",
        "is": "Ministry of Health of Viet Nam",
        "ci": "URN:UVCI:01:VN:QMONTEST0001#K",
    }
    values.update(overrides)
    return VaccinationEntry.model_validate(values)


def make_certificate(**overrides: Any) -> HealthCertificate:
    """A made-up person's vaccination certificate."""
    values: dict[str, Any] = {
        "nam": PersonName(fn="Trần", gn="Thị Bình", fnt="TRAN", gnt="THI<BINH"),
        "dob": "1990-03-15",
        "v": (make_vaccination(),),
    }
    values.update(overrides)
    return HealthCertificate.model_validate(values)


@cache
def _private_key(algorithm: str, slot: int) -> PrivateKey:
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_signing_material(
    algorithm: str = "ES256", *, slot: int = 0, kinds: Iterable[CertificateKind] = ()
) -> tuple[PrivateKey, x509.Certificate]:
    """A private key (one per algorithm and slot for the session) and a fresh self-signed DSC for it."""
    key = _private_key(algorithm, slot)
    certificate = self_signed_certificate(
        key,
        country="VN",
        common_name=f"qmon test DSC {algorithm} {slot}",
        valid_from=T0 - timedelta(days=30),
        valid_until=T0 + timedelta(days=730),
        kinds=kinds,
    )
    return key, certificate


def make_signer(algorithm: str = "ES256", *, slot: int = 0, kinds: Iterable[CertificateKind] = ()) -> Signer:
    """A signer for the country VN."""
    key, certificate = make_signing_material(algorithm, slot=slot, kinds=kinds)
    return Signer(key, certificate, issuer="VN")


def make_verifier(*signers: Signer, now: float = ISSUED_AT + 60) -> Verifier:
    """A verifier trusting the signers' certificates, with its clock stopped at `now`."""
    return Verifier(trust_list_from_certificates(signer.certificate for signer in signers), now=lambda: now)


def issue(signer: Signer, certificate: HealthCertificate | None = None) -> str:
    """Issue a certificate valid from ISSUED_AT to EXPIRES_AT."""
    return signer.issue(certificate or make_certificate(), issued_at=ISSUED_AT, expires_at=EXPIRES_AT)
