"""Each transport and message layer rejects bad input with its own error."""

from __future__ import annotations

import zlib

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.certificates import (
    Base45Error,
    CborError,
    CertificateError,
    CoseError,
    Layer,
    PrefixError,
    ZlibError,
    codec,
    cose,
    cwt,
)
from tests.unit.certificates.builders import issue, make_signer, make_verifier


def test_layers_round_trip() -> None:
    data = bytes(range(256)) * 3

    assert codec.unwrap(codec.wrap(data)) == data
    assert codec.decode_base45(codec.encode_base45(b"Hello!!")) == b"Hello!!"
    assert codec.encode_base45(b"Hello!!") == "%69 VD92EX0"  # RFC 9285, section 4.3


@pytest.mark.parametrize("text", ["", "HC1", "hc1:ABC", "HC2:ABC", "NCFOXN%TS3DH"])
def test_missing_prefix_is_a_prefix_error(text: str) -> None:
    with pytest.raises(PrefixError) as caught:
        make_verifier(make_signer()).verify(text)
    assert caught.value.layer is Layer.PREFIX


@pytest.mark.parametrize("text", ["HC1:abc", "HC1:A", "HC1:GGW", "HC1:ABC=", "HC1:ÄBC"])
def test_bad_base45_is_a_base45_error(text: str) -> None:
    # lower case and '=' are outside the alphabet; one trailing char is no whole byte; GGW is > 0xFFFF.
    with pytest.raises(Base45Error) as caught:
        make_verifier(make_signer()).verify(text)
    assert caught.value.layer is Layer.BASE45


def test_uncompressed_cose_is_a_zlib_error() -> None:
    signer = make_signer()
    cose_bytes = codec.unwrap(issue(signer))

    with pytest.raises(ZlibError) as caught:
        make_verifier(signer).verify(codec.add_prefix(codec.encode_base45(cose_bytes)))
    assert caught.value.layer is Layer.ZLIB


@pytest.mark.parametrize(
    "data",
    [
        zlib.compress(b"x" * 100)[:-5],  # truncated
        zlib.compress(b"x" * 100) + b"junk",  # trailing bytes
        zlib.compress(b"\0" * (codec.MAX_COSE_BYTES + 1)),  # inflates too far
    ],
    ids=["truncated", "trailing", "bomb"],
)
def test_broken_zlib_is_a_zlib_error(data: bytes) -> None:
    with pytest.raises(ZlibError):
        codec.decompress(data)


@pytest.mark.parametrize(
    "item",
    [
        b"\xff",
        cbor2.dumps([1, 2, 3]),
        cbor2.dumps(cbor2.CBORTag(17, [b"", {}, b"", b""])),
        cbor2.dumps(cbor2.CBORTag(18, ["", {}, b"", b""])),
        cbor2.dumps(cbor2.CBORTag(18, [b"", [], b"", b""])),
        cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps([1]), {}, b"", b""])),
        cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b"", b""])) + b"\x00",
    ],
    ids=[
        "not-cbor",
        "not-sign1",
        "wrong-tag",
        "protected-text",
        "unprotected-array",
        "protected-array",
        "trailing",
    ],
)
def test_malformed_cose_is_a_cose_error(item: bytes) -> None:
    with pytest.raises(CoseError):
        cose.decode_sign1(item)


def test_cwt_and_bare_sign1_tags_are_both_accepted() -> None:
    message = cose.decode_sign1(codec.unwrap(issue(make_signer())))
    body = [message.protected, {}, message.payload, message.signature]

    assert cose.decode_sign1(cbor2.dumps(cbor2.CBORTag(61, cbor2.CBORTag(18, body)))) == message
    assert cose.decode_sign1(cbor2.dumps(body)) == message


def test_unsupported_algorithm_is_a_cose_error() -> None:
    signer = make_signer()
    message = cose.decode_sign1(codec.unwrap(issue(signer)))
    protected = cbor2.dumps({1: -8, 4: signer.kid})  # EdDSA: not allowed for the DCC
    forged = cose.CoseSign1(protected, {1: -8, 4: signer.kid}, {}, message.payload, message.signature)

    with pytest.raises(CoseError, match="algorithm"):
        make_verifier(signer).verify_cose(cose.encode_sign1(forged))


def test_duplicate_header_keys_are_refused() -> None:
    # {4: h'00', 4: h'01'} written by hand: cbor2 will not encode a duplicate key.
    protected = b"\xa2\x04\x41\x00\x04\x41\x01"
    with pytest.raises(CoseError):
        cose.decode_sign1(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, b"", b""])))


@pytest.mark.parametrize(
    "claims",
    [
        [1, 2],
        {4: 2, 6: 1},
        {4: 2, 6: 1, -260: {1: "text"}},
        {4: 2, 6: 1, -260: {1: {1: "int key"}}},
        {4: "soon", 6: 1, -260: {1: {}}},
        {4: 2, 6: True, -260: {1: {}}},
        {4: float("inf"), 6: 1, -260: {1: {}}},
        {1: 84, 4: 2, 6: 1, -260: {1: {}}},
    ],
    ids=["not-map", "no-hcert", "hcert-text", "int-keys", "exp-text", "iat-bool", "exp-inf", "iss-int"],
)
def test_bad_cwt_claims_are_a_cbor_error(claims: object) -> None:
    with pytest.raises(CborError) as caught:
        cwt.decode_claims(cbor2.dumps(claims))
    assert caught.value.layer is Layer.CBOR


@given(st.text(max_size=200))
def test_any_text_fails_with_a_certificate_error(text: str) -> None:
    verifier = make_verifier(make_signer())
    with pytest.raises(CertificateError):
        verifier.verify(text)


@given(st.binary(max_size=300))
def test_any_compressed_bytes_fail_with_a_certificate_error(data: bytes) -> None:
    verifier = make_verifier(make_signer())
    with pytest.raises(CertificateError):
        verifier.verify(codec.wrap(data))
