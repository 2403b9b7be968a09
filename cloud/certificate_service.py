"""Vaccination certificates at the hub: issue a person's EU DCC from their dose records, verify any `HC1:`
text against the trust list (the hub's own signer plus configured foreign signers), publish the trust list.

Keys come from settings (cloud.settings.CertificateSettings), loaded once when the hub starts.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cloud.access import Actor, Role
from cloud.certificates import CertificateError, HealthCertificate, Signer, TrustedKey, Verifier, key_id
from cloud.certificates.model import CertificateKind
from cloud.errors import NotFoundError, UnavailableError, UnprocessableError
from cloud.identity import IdentityHasher
from cloud.settings import CertificateSettings
from cloud.storage.records import Citizen
from cloud.storage.repository import Repository
from cloud.storage.vaccination import DoseRecord
from cloud.vaccination import Issuer, certified_dose, vaccination_certificate
from cloud.vaccination_service import VACCINATION_STAFF
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock

_DAY_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A signed certificate: its `HC1:` text, validity window, key id and the dose it attests."""

    text: str
    kid: bytes
    issued_at: datetime
    expires_at: datetime
    certificate: HealthCertificate
    dose: DoseRecord


@dataclass(frozen=True, slots=True)
class Verification:
    """The verify route's answer: valid, or the layer that refused the text and why."""

    valid: bool
    reason: str | None = None
    layer: str | None = None
    kid: bytes | None = None
    issuer: str | None = None
    issued_at: int | None = None
    expires_at: int | None = None
    certificate: HealthCertificate | None = None


@dataclass(frozen=True, slots=True)
class TrustListEntry:
    """One signer the hub trusts: key id, country, its certificate, whether it is the hub's own."""

    kid: bytes
    country: str | None
    certificate: x509.Certificate
    own: bool
    kinds: frozenset[CertificateKind]


def load_signer(settings: CertificateSettings) -> Signer | None:
    """The hub's document signer from settings; None when no signing key is configured."""
    if settings.signing_key is not None:
        pem = settings.signing_key.get_secret_value().encode()
    elif settings.signing_key_file is not None:
        pem = settings.signing_key_file.read_bytes()
    else:
        return None
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("certificates.signing_key must be an ECDSA P-256 private key")
    assert settings.signer_certificate_file is not None  # checked by the settings' validator
    certificate = x509.load_pem_x509_certificate(settings.signer_certificate_file.read_bytes())
    return Signer(key, certificate, issuer=settings.issuer_country)


def load_trusted(settings: CertificateSettings) -> list[x509.Certificate]:
    """The foreign document signer certificates the settings name (files and inline PEM)."""
    found: list[x509.Certificate] = []
    for path in settings.trusted_certificate_files:
        found.extend(x509.load_pem_x509_certificates(path.read_bytes()))
    for text in settings.trusted_certificates:
        found.extend(x509.load_pem_x509_certificates(text.encode()))
    return found


def _country(certificate: x509.Certificate) -> str | None:
    values = certificate.subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)
    return str(values[0].value) if values else None


class CertificateService:
    """Issuing (needs a signer), verifying and publishing the trust list."""

    def __init__(
        self,
        repository: Repository,
        clock: Clock,
        hasher: IdentityHasher | None,
        settings: CertificateSettings,
        *,
        signer: Signer | None,
        trusted: Iterable[x509.Certificate] = (),
    ) -> None:
        self._repo = repository
        self._clock = clock
        self._hasher = hasher
        self._signer = signer
        self._issuer = Issuer(
            settings.issuer_country,
            settings.issuer_name,
            settings.uvci_code,
            timedelta(minutes=settings.utc_offset_minutes),
        )
        self._validity_s = settings.validity_days * _DAY_S
        entries = [
            TrustListEntry(key_id(c), _country(c), c, False, TrustedKey.from_certificate(c).allowed_kinds)
            for c in trusted
        ]
        if signer is not None:
            own = signer.certificate
            entries.insert(
                0,
                TrustListEntry(
                    signer.kid, _country(own), own, True, TrustedKey.from_certificate(own).allowed_kinds
                ),
            )
        self.trust_list = entries
        self._verifier = Verifier(
            {entry.kid: entry.certificate for entry in entries}, clock.now, clock_skew=settings.clock_skew_s
        )

    @classmethod
    def from_settings(
        cls,
        repository: Repository,
        clock: Clock,
        hasher: IdentityHasher | None,
        settings: CertificateSettings,
    ) -> CertificateService:
        """Load the keys the settings name (raises at start-up if a file or key is unusable)."""
        return cls(
            repository, clock, hasher, settings, signer=load_signer(settings), trusted=load_trusted(settings)
        )

    def issue_own(self, actor: Actor) -> IssuedCertificate:
        """The calling citizen's vaccination certificate, for their latest dose (404 without doses)."""
        actor.require({Role.CITIZEN}, "getting your certificate")
        citizen = self._repo.citizens.get(actor.citizen_id) if actor.citizen_id is not None else None
        if citizen is None:
            raise NotFoundError("citizen not found")
        doses = self._repo.vaccination.list_doses(identity_hash=citizen.identity_hash, limit=100)
        return self._issue(citizen, doses)

    def issue_for(self, actor: Actor, identity_number: str) -> IssuedCertificate:
        """A registered person's certificate, issued by vaccination staff of their ward or of their dose's."""
        actor.require(VACCINATION_STAFF, "issuing a certificate")
        if self._hasher is None:
            raise UnavailableError("citizen records are not enabled on this hub (identity_hash_key unset)")
        try:
            identity_hash = self._hasher.hash(identity_number)
        except ValueError as exc:
            raise UnprocessableError(str(exc)) from None
        citizen = self._repo.citizens.by_identity_hash(identity_hash)
        doses = self._repo.vaccination.list_doses(identity_hash=identity_hash, limit=100)
        dose = certified_dose(doses)
        if citizen is None or dose is None or not (actor.sees(citizen.ward_id) or actor.sees(dose.ward_id)):
            raise NotFoundError("no registered person with doses for this identity number in your wards")
        return self._issue(citizen, doses)

    def _issue(self, citizen: Citizen, doses: list[DoseRecord]) -> IssuedCertificate:
        signer = self._signer
        if signer is None:
            raise UnavailableError("this hub issues no certificates (no signing key configured)")
        dose = certified_dose(doses)
        if dose is None:
            raise NotFoundError("no dose is recorded for you yet")
        try:
            payload = vaccination_certificate(citizen.full_name, citizen.birth_date, dose, self._issuer)
        except ValueError as exc:
            raise UnprocessableError(f"cannot build a certificate: {exc}") from None
        issued_at = int(self._clock.now())
        expires_at = issued_at + self._validity_s
        text = signer.issue(payload, issued_at=issued_at, expires_at=expires_at)
        return IssuedCertificate(
            text,
            signer.kid,
            utc_from_timestamp(issued_at),
            utc_from_timestamp(expires_at),
            payload,
            dose,
        )

    def verify(self, text: str) -> Verification:
        """Check an `HC1:` text at the hub's time: valid, or which layer refused it and why."""
        try:
            verified = self._verifier.verify(text)
        except CertificateError as exc:
            return Verification(False, str(exc) or exc.layer.value, exc.layer.value)
        return Verification(
            True,
            kid=verified.kid,
            issuer=verified.issuer,
            issued_at=verified.issued_at,
            expires_at=verified.expires_at,
            certificate=verified.certificate,
        )


def encode_kid(kid: bytes) -> str:
    """A key id as the EU trust lists write it (standard base64)."""
    return base64.b64encode(kid).decode()
