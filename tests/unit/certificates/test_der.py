"""The fallback DER reader finds the same key-usage OIDs as cryptography, and fails closed."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.certificates import CertificateKind
from cloud.certificates.der import extended_key_usage
from cloud.certificates.keys import KEY_USAGE_OIDS, allowed_kinds
from tests.unit.certificates.builders import make_signing_material

# A TBSCertificate trimmed to what the reader walks: SEQUENCE { [3] { SEQUENCE { extensions } } }.
_EMPTY_EKU_EXTENSION = bytes.fromhex("3009" + "0603551d25" + "04023000")  # extendedKeyUsage = SEQUENCE {}
_BER_BASIC_CONSTRAINTS = bytes.fromhex("300c" + "0603551d13" + "0101ff" + "04023000")


def _tbs(*extensions: bytes) -> bytes:
    body = b"".join(extensions)
    inner = bytes([0x30, len(body)]) + body
    explicit = bytes([0xA3, len(inner)]) + inner
    return bytes([0x30, len(explicit)]) + explicit


@pytest.mark.parametrize(
    "kinds",
    [(), (CertificateKind.TEST,), (CertificateKind.VACCINATION, CertificateKind.RECOVERY)],
    ids=["none", "test", "vaccination-recovery"],
)
def test_reader_agrees_with_cryptography(kinds: tuple[CertificateKind, ...]) -> None:
    _key, certificate = make_signing_material(slot=3, kinds=kinds)

    found = extended_key_usage(certificate.tbs_certificate_bytes)

    if kinds:
        assert found == frozenset(
            oid for kind in kinds for oid in KEY_USAGE_OIDS[kind] if ".0.1847" not in oid
        )
        assert allowed_kinds(certificate) == set(kinds)
    else:
        assert found is None
        assert allowed_kinds(certificate) == set(CertificateKind)


def test_reader_reads_what_strict_der_refuses() -> None:
    assert extended_key_usage(_tbs(_BER_BASIC_CONSTRAINTS, _EMPTY_EKU_EXTENSION)) == frozenset()


@pytest.mark.parametrize(
    "data",
    [b"", b"\x30", b"\x30\x05\x01", b"\x31\x00", b"\x30\x84\xff\xff\xff\xff", _tbs(b"\x04\x00")],
    ids=["empty", "no-length", "short", "not-sequence", "huge-length", "extension-not-sequence"],
)
def test_reader_refuses_what_it_cannot_read(data: bytes) -> None:
    with pytest.raises(ValueError):
        extended_key_usage(data)


@given(st.binary(max_size=120))
def test_reader_raises_nothing_but_value_error(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        extended_key_usage(data)
