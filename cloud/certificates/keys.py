"""Signing keys and trust: key ids, trust-list entries, key-usage OIDs, and a self-signed DSC maker.

Keys never live in the repository: the caller loads them (from settings) and passes them in; tests and
the benchmark generate them at run time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from cloud.certificates.cose import PrivateKey, PublicKey
from cloud.certificates.der import extended_key_usage
from cloud.certificates.errors import KeyUsageError
from cloud.certificates.model import CertificateKind

KID_BYTES = 8

# Extended key usages a document signer certificate may carry to limit what it signs (DCC technical
# specification, volume 1, section 5.1.3); both OID arcs are in use. A DSC with none of them signs all kinds.
_PRIMARY_ARC = "1.3.6.1.4.1.1847.2021.1."
_ALTERNATE_ARC = "1.3.6.1.4.1.0.1847.2021.1."
_KIND_SUFFIX = {CertificateKind.TEST: "1", CertificateKind.VACCINATION: "2", CertificateKind.RECOVERY: "3"}
KEY_USAGE_OIDS: Mapping[CertificateKind, frozenset[str]] = {
    kind: frozenset({_PRIMARY_ARC + suffix, _ALTERNATE_ARC + suffix}) for kind, suffix in _KIND_SUFFIX.items()
}
_ALL_KEY_USAGE_OIDS = frozenset().union(*KEY_USAGE_OIDS.values())


def key_id(certificate: x509.Certificate) -> bytes:
    """The DCC key id: the first 8 bytes of the SHA-256 of the DER-encoded signer certificate."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).digest()[:KID_BYTES]


_ALL_KINDS = frozenset(CertificateKind)


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """One trust-list entry: a public key, the kinds of certificate it may sign, and its X.509 source."""

    public_key: PublicKey
    allowed_kinds: frozenset[CertificateKind] = _ALL_KINDS
    certificate: x509.Certificate | None = None

    @classmethod
    def from_certificate(cls, certificate: x509.Certificate) -> TrustedKey:
        """Trust the key of a document signer certificate, limited by its key-usage OIDs."""
        public_key = certificate.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise ValueError(f"unsupported signer key {type(public_key).__name__}")
        return cls(public_key, allowed_kinds(certificate), certificate)

    def check_key_usage(self, kind: CertificateKind) -> None:
        """Raise KeyUsageError unless this key may sign certificates of `kind`."""
        if kind not in self.allowed_kinds:
            raise KeyUsageError(f"the signer certificate may not sign {kind.name.lower()} certificates")


def allowed_kinds(certificate: x509.Certificate) -> frozenset[CertificateKind]:
    """The kinds a DSC may sign: those its DCC key-usage OIDs name, or all when it names none.

    A DSC whose extended key usage cannot be read at all may sign nothing (fail closed).
    """
    try:
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        oids: frozenset[str] | None = frozenset(oid.dotted_string for oid in usage)
    except x509.ExtensionNotFound:
        oids = None
    except x509.DuplicateExtension:
        return frozenset()
    except ValueError:
        # cryptography rejects all extensions when one breaks strict DER; read the one we need ourselves.
        try:
            oids = extended_key_usage(certificate.tbs_certificate_bytes)
        except ValueError:
            return frozenset()
    declared = (oids or frozenset()) & _ALL_KEY_USAGE_OIDS
    if not declared:
        return _ALL_KINDS
    return frozenset(kind for kind, kind_oids in KEY_USAGE_OIDS.items() if declared & kind_oids)


TrustList = Mapping[bytes, TrustedKey]


def trust_list_from_certificates(certificates: Iterable[x509.Certificate]) -> dict[bytes, TrustedKey]:
    """Build a trust list keyed by the DCC key id of each signer certificate."""
    return {key_id(certificate): TrustedKey.from_certificate(certificate) for certificate in certificates}


def self_signed_certificate(
    private_key: PrivateKey,
    *,
    country: str,
    common_name: str,
    valid_from: datetime,
    valid_until: datetime,
    kinds: Iterable[CertificateKind] = (),
) -> x509.Certificate:
    """A self-signed document signer certificate, for tests, demos and benchmarks.

    In production the DSC is issued by the country signing CA and handed to the signer with its key.
    `kinds` adds the key-usage OIDs that restrict what the certificate may sign.
    """
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from.astimezone(UTC))
        .not_valid_after(valid_until.astimezone(UTC))
    )
    oids = [x509.ObjectIdentifier(_PRIMARY_ARC + _KIND_SUFFIX[kind]) for kind in kinds]
    if oids:
        builder = builder.add_extension(x509.ExtendedKeyUsage(oids), critical=False)
    return builder.sign(private_key, hashes.SHA256())
