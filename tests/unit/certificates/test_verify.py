"""Issue -> verify, and every way verification must fail: tampering, time, unknown keys, key usage."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from cloud.certificates import (
    CertificateError,
    CertificateKind,
    CoseError,
    ExpiredError,
    KeyUsageError,
    Layer,
    NotYetValidError,
    SignatureError,
    Signer,
    UnknownKeyError,
    Verifier,
    codec,
    cose,
    key_id,
)
from cloud.certificates.cose import CoseSign1
from tests.unit.certificates.builders import (
    EXPIRES_AT,
    ISSUED_AT,
    issue,
    make_certificate,
    make_signer,
    make_signing_material,
    make_verifier,
)


@pytest.mark.parametrize("algorithm", ["ES256", "PS256"])
def test_issued_certificate_verifies(algorithm: str) -> None:
    signer = make_signer(algorithm)
    code = issue(signer)

    result = make_verifier(signer).verify(code)

    assert code.startswith("HC1:")
    assert result.certificate == make_certificate()
    assert result.kid == signer.kid == key_id(signer.certificate)
    assert (result.issuer, result.issued_at, result.expires_at) == ("VN", ISSUED_AT, EXPIRES_AT)


def test_kid_is_the_first_8_bytes_of_the_sha256_of_the_der_certificate() -> None:
    signer = make_signer()
    assert signer.kid == hashlib.sha256(signer.certificate.public_bytes(Encoding.DER)).digest()[:8]


def _tampered(code: str, part: str) -> str:
    message = cose.decode_sign1(codec.unwrap(code))
    data = bytearray(getattr(message, part))
    data[len(data) // 2] ^= 0x01
    fields = {name: getattr(message, name) for name in CoseSign1.__slots__}
    fields[part] = bytes(data)
    return codec.wrap(cose.encode_sign1(CoseSign1(**fields)))


@pytest.mark.parametrize("algorithm", ["ES256", "PS256"])
@pytest.mark.parametrize("part", ["payload", "signature", "protected"])
def test_one_flipped_bit_in_a_signed_part_fails_the_signature(algorithm: str, part: str) -> None:
    signer = make_signer(algorithm)
    code = _tampered(issue(signer), part)

    with pytest.raises(CertificateError) as caught:
        make_verifier(signer).verify(code)

    # A flipped protected-header bit can also change the kid or alg, which is caught before the signature.
    expected = (SignatureError,) if part != "protected" else (SignatureError, UnknownKeyError, CoseError)
    assert isinstance(caught.value, expected)


def test_tampered_payload_fails_with_the_signature_layer() -> None:
    signer = make_signer()

    with pytest.raises(SignatureError) as caught:
        make_verifier(signer).verify(_tampered(issue(signer), "payload"))

    assert caught.value.layer is Layer.SIGNATURE


def test_no_single_byte_change_of_the_cose_message_verifies() -> None:
    signer = make_signer()
    data = codec.unwrap(issue(signer))
    verifier = make_verifier(signer)

    for index in range(len(data)):
        mutated = bytearray(data)
        mutated[index] ^= 0x80
        with pytest.raises(CertificateError):
            verifier.verify_cose(bytes(mutated))


def test_certificate_expires_at_its_expiry() -> None:
    signer = make_signer()
    code = issue(signer)

    assert make_verifier(signer, now=EXPIRES_AT).verify(code)
    with pytest.raises(ExpiredError) as caught:
        make_verifier(signer, now=EXPIRES_AT + 1).verify(code)
    assert caught.value.layer is Layer.EXPIRED


def test_certificate_issued_after_the_clock_is_not_yet_valid() -> None:
    signer = make_signer()
    code = issue(signer)

    with pytest.raises(NotYetValidError):
        make_verifier(signer, now=ISSUED_AT - 1).verify(code)


def test_clock_skew_tolerates_an_issuer_clock_slightly_ahead() -> None:
    signer = make_signer()
    verifier = Verifier({signer.kid: signer.certificate}, now=lambda: ISSUED_AT - 30, clock_skew=60)

    assert verifier.verify(issue(signer))


def test_verifier_reads_its_injected_clock_on_every_verification() -> None:
    signer = make_signer()
    code = issue(signer)
    clock = [ISSUED_AT]
    verifier = Verifier({signer.kid: signer.certificate}, now=lambda: clock[0])

    verifier.verify(code)
    clock[0] = EXPIRES_AT + 3600
    with pytest.raises(ExpiredError):
        verifier.verify(code)


def test_unknown_kid_fails() -> None:
    signer, stranger = make_signer(slot=0), make_signer(slot=1)

    with pytest.raises(UnknownKeyError) as caught:
        make_verifier(stranger).verify(issue(signer))

    assert caught.value.layer is Layer.UNKNOWN_KEY


def test_right_kid_with_the_wrong_key_fails_the_signature() -> None:
    signer, impostor = make_signer(slot=0), make_signer(slot=1)
    verifier = Verifier({impostor.kid: signer.certificate}, now=lambda: ISSUED_AT)

    with pytest.raises(SignatureError):
        verifier.verify(issue(impostor))


def test_trust_list_may_hold_bare_public_keys() -> None:
    signer = make_signer()
    public_key = signer.certificate.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    verifier = Verifier({signer.kid: public_key}, now=lambda: ISSUED_AT)

    assert verifier.verify(issue(signer)).kid == signer.kid


def test_signer_restricted_to_tests_may_not_sign_a_vaccination() -> None:
    signer = make_signer(slot=2, kinds=[CertificateKind.TEST])

    with pytest.raises(KeyUsageError):
        make_verifier(signer).verify(issue(signer))


def test_signer_restricted_to_vaccinations_signs_them() -> None:
    signer = make_signer(slot=2, kinds=[CertificateKind.VACCINATION, CertificateKind.RECOVERY])

    assert make_verifier(signer).verify(issue(signer)).certificate.kind is CertificateKind.VACCINATION


def test_signer_refuses_a_key_that_is_not_its_certificates() -> None:
    key, _ = make_signing_material(slot=0)
    _, other_certificate = make_signing_material(slot=1)

    with pytest.raises(ValueError, match="does not belong"):
        Signer(key, other_certificate, issuer="VN")


def test_signer_refuses_an_expiry_before_issue() -> None:
    with pytest.raises(ValueError, match="expire after"):
        make_signer().issue(make_certificate(), issued_at=ISSUED_AT, expires_at=ISSUED_AT)
