"""The hub's certificate settings and the keys loaded from them."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from cloud.certificate_service import load_signer, load_trusted
from cloud.certificates.keys import key_id
from cloud.settings import CertificateSettings
from tests.unit.certificates.builders import make_signing_material


def pem_of(key: object) -> str:
    return key.private_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_without_a_key_nothing_is_signed() -> None:
    assert load_signer(CertificateSettings()) is None


def test_a_key_needs_its_signer_certificate_and_only_one_source(tmp_path: Path) -> None:
    key, _ = make_signing_material()
    with pytest.raises(ValidationError, match="signer_certificate_file"):
        CertificateSettings(signing_key=pem_of(key))
    with pytest.raises(ValidationError, match="not both"):
        CertificateSettings(signing_key=pem_of(key), signing_key_file=tmp_path / "k.pem")
    with pytest.raises(ValidationError):
        CertificateSettings(issuer_country="Viet Nam")


def test_the_signer_and_trusted_certificates_load_from_pem(tmp_path: Path) -> None:
    key, certificate = make_signing_material()
    _, foreign = make_signing_material(slot=3)
    (tmp_path / "key.pem").write_text(pem_of(key))
    (tmp_path / "dsc.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "foreign.pem").write_bytes(foreign.public_bytes(serialization.Encoding.PEM) * 2)
    settings = CertificateSettings(
        signing_key_file=tmp_path / "key.pem",
        signer_certificate_file=tmp_path / "dsc.pem",
        trusted_certificate_files=[tmp_path / "foreign.pem"],
        issuer_country="VN",
    )
    signer = load_signer(settings)
    assert signer is not None and signer.kid == key_id(certificate) and signer.issuer == "VN"
    assert [key_id(c) for c in load_trusted(settings)] == [key_id(foreign)] * 2
    assert "BEGIN" not in repr(
        CertificateSettings(signing_key=pem_of(key), signer_certificate_file=tmp_path / "dsc.pem")
    )


def test_a_key_that_is_not_ecdsa_p256_is_refused(tmp_path: Path) -> None:
    _, certificate = make_signing_material()
    (tmp_path / "dsc.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings = CertificateSettings(signing_key=pem_of(rsa_key), signer_certificate_file=tmp_path / "dsc.pem")
    with pytest.raises(ValueError, match="P-256"):
        load_signer(settings)
