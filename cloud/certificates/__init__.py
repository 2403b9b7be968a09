"""EU Digital COVID Certificates: issue and verify `HC1:` QR texts. Pure: no I/O, no settings.

Layers, outermost first: `HC1:` prefix, base45, zlib, COSE_Sign1 (ES256 or PS256), CBOR Web Token with
the health certificate in claim -260 -> 1. `codec` handles the transport layers, `cose` and `cwt` the
signed message, `model` the payload, `signer` and `verifier` the two ends, `keys` key ids and trust.
"""

from cloud.certificates.errors import (
    Base45Error,
    CborError,
    CertificateError,
    CoseError,
    ExpiredError,
    KeyUsageError,
    Layer,
    NotYetValidError,
    PayloadError,
    PrefixError,
    SignatureError,
    UnknownKeyError,
    ZlibError,
)
from cloud.certificates.keys import TrustedKey, key_id, trust_list_from_certificates
from cloud.certificates.model import (
    CertificateKind,
    HealthCertificate,
    PersonName,
    RecoveryEntry,
    TestEntry,
    VaccinationEntry,
)
from cloud.certificates.signer import Signer
from cloud.certificates.verifier import VerifiedCertificate, Verifier, check_validity

__all__ = [
    "Base45Error",
    "CborError",
    "CertificateError",
    "CertificateKind",
    "CoseError",
    "ExpiredError",
    "HealthCertificate",
    "KeyUsageError",
    "Layer",
    "NotYetValidError",
    "PayloadError",
    "PersonName",
    "PrefixError",
    "RecoveryEntry",
    "SignatureError",
    "Signer",
    "TestEntry",
    "TrustedKey",
    "UnknownKeyError",
    "VaccinationEntry",
    "VerifiedCertificate",
    "Verifier",
    "ZlibError",
    "check_validity",
    "key_id",
    "trust_list_from_certificates",
]
