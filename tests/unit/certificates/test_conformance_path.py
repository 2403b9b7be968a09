"""A certificate qmon issues passes every step the EU test vectors are checked with, on the same code."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from cloud.certificates import codec
from tests.conformance.eu_dcc import STEPS, VECTORS_DIR, Vector
from tests.unit.certificates.builders import ISSUED_AT, issue, make_certificate, make_signer


def _as_vector() -> Vector:
    """A qmon-issued certificate laid out as a dgc-testdata vector file, every flag true."""
    signer = make_signer()
    prefixed = issue(signer)
    base45_text = codec.strip_prefix(prefixed)
    compressed = codec.decode_base45(base45_text)
    cose_bytes = codec.decompress(compressed)
    payload = make_certificate().to_payload()
    raw = {
        "JSON": payload,
        "CBOR": cbor2.dumps(payload).hex(),
        "COSE": cose_bytes.hex(),
        "COMPRESSED": compressed.hex(),
        "BASE45": base45_text,
        "PREFIX": prefixed,
        "TESTCTX": {
            "VERSION": 1,
            "SCHEMA": "1.3.0",
            "CERTIFICATE": base64.b64encode(signer.certificate.public_bytes(Encoding.DER)).decode(),
            "VALIDATIONCLOCK": datetime.fromtimestamp(ISSUED_AT + 3600, UTC).isoformat(),
            "DESCRIPTION": "VALID: issued by qmon",
        },
        "EXPECTEDRESULTS": {name: True for name in STEPS if name != "EXPECTEDPICTUREDECODE"},
    }
    return Vector(VECTORS_DIR / "QMON" / "2DCode" / "raw" / "1.json", raw)


@pytest.mark.parametrize("expectation", [name for name in STEPS if name != "EXPECTEDPICTUREDECODE"])
def test_qmon_certificate_passes_conformance_step(expectation: str) -> None:
    vector = _as_vector()
    step = STEPS[expectation]

    assert not step.missing_inputs(vector)
    step.check(vector)


def test_vector_paths_are_relative_to_the_repository() -> None:
    repository = Path(__file__).resolve().parents[3]
    expected = repository.parent / "shared" / "conformance" / "eu-dcc"
    assert expected == VECTORS_DIR
