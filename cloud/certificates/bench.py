"""Micro-benchmark of issuing and verifying certificates on one thread (wired to `qmon bench` later)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from cloud.certificates.keys import self_signed_certificate, trust_list_from_certificates
from cloud.certificates.model import HealthCertificate, PersonName, VaccinationEntry
from cloud.certificates.signer import Signer
from cloud.certificates.verifier import Verifier

_YEAR = 365 * 24 * 3600


def sample_certificate(serial: int = 0) -> HealthCertificate:
    """A made-up vaccination certificate of typical size (no real person)."""
    return HealthCertificate(
        nam=PersonName(fn="Nguyễn", gn="Văn An", fnt="NGUYEN", gnt="VAN<AN"),
        dob="1985-07-14",
        v=(
            VaccinationEntry.model_validate(
                {
                    "tg": "840539006",
                    "vp": "1119349007",
                    "mp": "EU/1/20/1528",
                    "ma": "ORG-100030215",
                    "dn": 2,
                    "sd": 2,
                    "dt": "2021-09-01",
                    "co": "VN",
                    "is": "Ministry of Health of Viet Nam",
                    "ci": f"URN:UVCI:01:VN:QMON{serial:012d}#X",
                }
            ),
        ),
    )


def measure(n: int = 2000) -> dict[str, Any]:
    """Issue `n` ES256 certificates, then verify them all; return the rates in certificates per second."""
    if n < 1:
        raise ValueError("n must be at least 1")
    started = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = self_signed_certificate(
        key,
        country="VN",
        common_name="qmon benchmark DSC",
        valid_from=started - timedelta(days=1),
        valid_until=started + timedelta(days=730),
    )
    signer = Signer(key, certificate, issuer="VN")
    issued_at = started.timestamp()
    verifier = Verifier(trust_list_from_certificates([certificate]), now=lambda: issued_at)
    payloads = [sample_certificate(i) for i in range(n)]

    begin = time.perf_counter()
    codes = [signer.issue(payload, issued_at=issued_at, expires_at=issued_at + _YEAR) for payload in payloads]
    issue_s = time.perf_counter() - begin

    begin = time.perf_counter()
    for code in codes:
        verifier.verify(code)
    verify_s = time.perf_counter() - begin

    return {
        "n": n,
        "algorithm": "ES256",
        "qr_text_chars": len(codes[0]),
        "certificates_issued_per_s": n / issue_s,
        "certificates_verified_per_s": n / verify_s,
    }
