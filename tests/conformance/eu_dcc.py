"""The checks behind each EXPECTEDRESULTS flag of the EU DCC test vectors (dgc-testdata README).

Each check runs one validation step of the README on the fields it names and raises StepFailed (or a
CertificateError from the code under test) when the step does not succeed. Anything else escaping a
check is a bug in qmon or in the check, and errors the test instead of counting as an expected failure.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cbor2
from cryptography import x509

from cloud.certificates import codec
from cloud.certificates.cose import decode_sign1
from cloud.certificates.cwt import decode_claims, decode_hcert
from cloud.certificates.errors import (
    Base45Error,
    CborError,
    CoseError,
    ExpiredError,
    KeyUsageError,
    NotYetValidError,
    PayloadError,
    PrefixError,
    SignatureError,
    UnknownKeyError,
    ZlibError,
)
from cloud.certificates.keys import trust_list_from_certificates
from cloud.certificates.model import HealthCertificate
from cloud.certificates.verifier import Verifier, check_validity

VECTORS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "eu-dcc"


class StepFailed(Exception):
    """The step ran and its result did not match the vector's own fields."""


@dataclass(frozen=True)
class Vector:
    """One test-vector file."""

    path: Path
    raw: Mapping[str, Any]

    @property
    def name(self) -> str:
        """Country folder and file stem, e.g. `DE/1`."""
        relative = self.path.relative_to(VECTORS_DIR)
        return f"{relative.parts[0]}/{self.path.stem}"

    def field(self, name: str) -> Any:
        """A top-level field, or a TESTCTX field as `TESTCTX.NAME`."""
        if name.startswith("TESTCTX."):
            return self.raw.get("TESTCTX", {})[name.removeprefix("TESTCTX.")]
        return self.raw[name]

    def has(self, name: str) -> bool:
        """Whether the field is present and not empty."""
        try:
            return self.field(name) not in (None, "")
        except KeyError:
            return False

    def hex_field(self, name: str) -> bytes:
        """A hex-encoded field as bytes."""
        return bytes.fromhex(self.field(name))

    @property
    def clock(self) -> float:
        """TESTCTX.VALIDATIONCLOCK in epoch seconds (UTC when it names no zone)."""
        moment = datetime.fromisoformat(self.field("TESTCTX.VALIDATIONCLOCK"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()

    def verifier(self) -> Verifier:
        """A verifier trusting only this vector's signer certificate, at its validation clock."""
        der = base64.b64decode(self.field("TESTCTX.CERTIFICATE"))
        certificate = x509.load_der_x509_certificate(der)
        clock = self.clock if self.has("TESTCTX.VALIDATIONCLOCK") else 0.0
        return Verifier(trust_list_from_certificates([certificate]), now=lambda: clock)


def load_vectors() -> list[Vector]:
    """Every JSON file under the vectors folder, in a stable order."""
    return [
        Vector(path, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(VECTORS_DIR.rglob("*.json"))
    ]


def _expect_equal(actual: Any, expected: Any, what: str) -> None:
    if actual != expected:
        raise StepFailed(f"{what} differs from the vector")


def _cbor_field_hcert(vector: Vector) -> Mapping[str, Any]:
    """The DCC in the CBOR field: that field is the DCC itself in most vectors, but the whole CWT (the
    COSE payload, which the README's step 6 compares it with) in some countries' vectors."""
    data = vector.hex_field("CBOR")
    try:
        return decode_hcert(data)
    except CborError as bare_error:
        try:
            return decode_claims(data).hcert
        except CborError:
            raise bare_error from None


def check_valid_object(vector: Vector) -> None:
    """Code generation 1: the JSON object conforms to the schema."""
    HealthCertificate.from_payload(vector.field("JSON"))


def check_encode(vector: Vector) -> None:
    """Code generation 2: CBOR made by qmon from the JSON equals the vector's CBOR (compared decoded)."""
    ours = cbor2.dumps(HealthCertificate.from_payload(vector.field("JSON")).to_payload())
    _expect_equal(decode_hcert(ours), _cbor_field_hcert(vector), "encoded CBOR")


def check_picture_decode(vector: Vector) -> None:
    """Validation 1: the QR code in the PNG reads back as PREFIX."""
    import cv2
    import numpy as np
    import zxingcpp

    try:
        png = base64.b64decode(vector.field("2DCODE"), validate=True)
    except binascii.Error as exc:
        raise StepFailed(f"2DCODE is not base64: {exc}") from exc
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise StepFailed("2DCODE is not a readable image")
    codes = [code for code in zxingcpp.read_barcodes(image) if code.format == zxingcpp.BarcodeFormat.QRCode]
    if len(codes) != 1:
        raise StepFailed(f"found {len(codes)} QR codes in the picture")
    _expect_equal(codes[0].text, vector.field("PREFIX"), "QR text")


def check_unprefix(vector: Vector) -> None:
    """Validation 2: PREFIX without its `HC1:` equals BASE45."""
    _expect_equal(codec.strip_prefix(vector.field("PREFIX")), vector.field("BASE45"), "unprefixed text")


def check_base45_decode(vector: Vector) -> None:
    """Validation 3: BASE45 decodes to COMPRESSED (or, where a vector has none, inflates to COSE)."""
    decoded = codec.decode_base45(vector.field("BASE45"))
    if vector.has("COMPRESSED"):
        _expect_equal(decoded, vector.hex_field("COMPRESSED"), "base45-decoded bytes")
    else:
        _expect_equal(codec.decompress(decoded), vector.hex_field("COSE"), "base45-decoded COSE")


def check_expiration(vector: Vector) -> None:
    """Validation 4: the CWT is within issued-at .. expiry at VALIDATIONCLOCK."""
    claims = decode_claims(decode_sign1(vector.hex_field("COSE")).payload)
    check_validity(claims, vector.clock)


def check_verify(vector: Vector) -> None:
    """Validation 5: the COSE signature verifies with the signer certificate in TESTCTX."""
    vector.verifier().authenticate(vector.hex_field("COSE"))


def check_decode(vector: Vector) -> None:
    """Validation 6: CBOR decodes to the JSON, and (where given) COSE carries that same CBOR."""
    hcert = _cbor_field_hcert(vector)
    _expect_equal(hcert, vector.field("JSON"), "decoded CBOR")
    if vector.has("COSE"):
        claims = decode_claims(decode_sign1(vector.hex_field("COSE")).payload)
        _expect_equal(claims.hcert, hcert, "health certificate inside COSE")


def check_valid_json(vector: Vector) -> None:
    """Validation 7: the whole chain from PREFIX decodes to the JSON."""
    _message, claims = codec.decode_unverified(vector.field("PREFIX"))
    _expect_equal(claims.hcert, vector.field("JSON"), "decoded health certificate")


def check_schema(vector: Vector) -> None:
    """Validation 8: the decoded certificate conforms to the schema (exactly one entry)."""
    HealthCertificate.from_payload(_cbor_field_hcert(vector))


def check_compression(vector: Vector) -> None:
    """Validation 9: COMPRESSED inflates to COSE."""
    _expect_equal(
        codec.decompress(vector.hex_field("COMPRESSED")), vector.hex_field("COSE"), "inflated bytes"
    )


def check_key_usage(vector: Vector) -> None:
    """COSE verifies, and the signer certificate's key-usage OIDs allow this kind of certificate."""
    authentic = vector.verifier().authenticate(vector.hex_field("COSE"))
    authentic.signer.check_key_usage(HealthCertificate.from_payload(authentic.claims.hcert).kind)


@dataclass(frozen=True)
class Step:
    """A check, the vector fields it needs (the README's mandatory fields; `A|B` means either), and the
    failures that count as this step failing: any other error is a bug, not an expected failure."""

    check: Callable[[Vector], None]
    inputs: tuple[str, ...]
    failures: tuple[type[Exception], ...]

    def missing_inputs(self, vector: Vector) -> list[str]:
        """The needed fields this vector lacks."""
        return [need for need in self.inputs if not any(vector.has(name) for name in need.split("|"))]


_CHAIN_TO_COSE = (PrefixError, Base45Error, ZlibError, CoseError, CborError)
_AUTHENTICATION = (CoseError, UnknownKeyError, SignatureError, CborError)

STEPS: Mapping[str, Step] = {
    "EXPECTEDVALIDOBJECT": Step(check_valid_object, ("JSON",), (PayloadError,)),
    "EXPECTEDENCODE": Step(check_encode, ("JSON", "CBOR"), (PayloadError, CborError, StepFailed)),
    "EXPECTEDPICTUREDECODE": Step(check_picture_decode, ("2DCODE", "PREFIX"), (StepFailed,)),
    "EXPECTEDUNPREFIX": Step(check_unprefix, ("PREFIX", "BASE45"), (PrefixError, StepFailed)),
    "EXPECTEDB45DECODE": Step(
        check_base45_decode, ("BASE45", "COMPRESSED|COSE"), (Base45Error, ZlibError, StepFailed)
    ),
    "EXPECTEDEXPIRATIONCHECK": Step(
        check_expiration, ("COSE", "TESTCTX.VALIDATIONCLOCK"), (ExpiredError, NotYetValidError)
    ),
    "EXPECTEDVERIFY": Step(check_verify, ("COSE", "TESTCTX.CERTIFICATE"), _AUTHENTICATION),
    "EXPECTEDDECODE": Step(check_decode, ("CBOR", "JSON"), (CborError, CoseError, StepFailed)),
    "EXPECTEDVALIDJSON": Step(check_valid_json, ("PREFIX", "JSON"), (*_CHAIN_TO_COSE, StepFailed)),
    "EXPECTEDSCHEMAVALIDATION": Step(check_schema, ("CBOR",), (CborError, PayloadError)),
    "EXPECTEDCOMPRESSION": Step(check_compression, ("COMPRESSED", "COSE"), (ZlibError, StepFailed)),
    "EXPECTEDKEYUSAGE": Step(
        check_key_usage, ("COSE", "TESTCTX.CERTIFICATE"), (*_AUTHENTICATION, PayloadError, KeyUsageError)
    ),
}
