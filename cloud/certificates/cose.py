"""COSE_Sign1 messages (RFC 9052) as the EU DCC uses them: ES256 or PS256, key id in the header.

Built on cbor2 and cryptography directly rather than a COSE library: the DCC needs one message type and
two algorithms, and the Sig_structure is a four-element CBOR array, so the whole of it is a few lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from cloud.certificates._cbor import loads_exact
from cloud.certificates.errors import CoseError, SignatureError

COSE_SIGN1_TAG = 18
CWT_TAG = 61
HEADER_ALG = 1
HEADER_KID = 4

_P256_COORDINATE_BYTES = 32

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class Algorithm(IntEnum):
    """COSE algorithm identifiers allowed for the DCC."""

    ES256 = -7
    PS256 = -37


@dataclass(frozen=True, slots=True)
class CoseSign1:
    """One COSE_Sign1 message; `protected` keeps the exact bytes that were signed."""

    protected: bytes
    protected_header: Mapping[Any, Any]
    unprotected_header: Mapping[Any, Any]
    payload: bytes
    signature: bytes

    @property
    def kid(self) -> bytes | None:
        """The key id: from the protected header if present there, else from the unprotected one.

        An unprotected kid is only a hint for finding the key (RFC 9052 section 3.1); when the protected
        header names a kid, an unprotected one is ignored, so that nobody can redirect verification to
        another key by editing unsigned bytes.
        """
        if HEADER_KID in self.protected_header:
            kid = self.protected_header[HEADER_KID]
        else:
            kid = self.unprotected_header.get(HEADER_KID)
        if kid is None:
            return None
        if not isinstance(kid, bytes):
            raise CoseError("kid is not a byte string")
        return kid

    @property
    def algorithm(self) -> Algorithm:
        """The signature algorithm named in the headers (protected first)."""
        alg = self.protected_header.get(HEADER_ALG, self.unprotected_header.get(HEADER_ALG))
        try:
            return Algorithm(alg)
        except ValueError:
            raise CoseError(f"unsupported COSE algorithm {alg!r}") from None


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """The bytes that are actually signed: ["Signature1", protected, external_aad = h'', payload]."""
    return cbor2.dumps(["Signature1", protected, b"", payload])


def decode_sign1(data: bytes) -> CoseSign1:
    """Parse a COSE_Sign1 message (tag 18, optionally wrapped in CWT tag 61, or untagged)."""
    try:
        item = loads_exact(data)
    except ValueError as exc:
        raise CoseError(f"not CBOR: {exc}") from exc
    if isinstance(item, cbor2.CBORTag) and item.tag == CWT_TAG:
        item = item.value
    if isinstance(item, cbor2.CBORTag):
        if item.tag != COSE_SIGN1_TAG:
            raise CoseError(f"CBOR tag {item.tag} is not COSE_Sign1 ({COSE_SIGN1_TAG})")
        item = item.value
    # cbor2 decodes the contents of a tag immutably: a tuple and a frozendict rather than list and dict.
    if not isinstance(item, list | tuple) or len(item) != 4:
        raise CoseError("COSE_Sign1 must be an array of four elements")
    protected, unprotected, payload, signature = item
    if not isinstance(protected, bytes) or not isinstance(payload, bytes) or not isinstance(signature, bytes):
        raise CoseError("protected header, payload and signature must be byte strings")
    if not isinstance(unprotected, Mapping):
        raise CoseError("unprotected header must be a map")
    if protected:
        try:
            protected_header = loads_exact(protected)
        except ValueError as exc:
            raise CoseError(f"protected header is not CBOR: {exc}") from exc
        if not isinstance(protected_header, Mapping):
            raise CoseError("protected header must be a map")
    else:
        protected_header = {}
    return CoseSign1(protected, protected_header, unprotected, payload, signature)


def encode_sign1(message: CoseSign1) -> bytes:
    """Serialise a COSE_Sign1 message with tag 18."""
    body = [message.protected, dict(message.unprotected_header), message.payload, message.signature]
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, body))


def sign(payload: bytes, private_key: PrivateKey, kid: bytes) -> CoseSign1:
    """Sign `payload`, with alg and kid in the protected header as the DCC specification asks."""
    algorithm = _algorithm_for(private_key)
    protected = cbor2.dumps({HEADER_ALG: int(algorithm), HEADER_KID: kid})
    to_sign = sig_structure(protected, payload)
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private_key.sign(to_sign, ec.ECDSA(hashes.SHA256())))
        # COSE carries r || s at fixed width, not the DER that OpenSSL produces.
        signature = r.to_bytes(_P256_COORDINATE_BYTES, "big") + s.to_bytes(_P256_COORDINATE_BYTES, "big")
    else:
        signature = private_key.sign(to_sign, _pss(), hashes.SHA256())
    return CoseSign1(protected, {HEADER_ALG: int(algorithm), HEADER_KID: kid}, {}, payload, signature)


def verify_signature(message: CoseSign1, public_key: PublicKey) -> None:
    """Check the signature of `message` under `public_key`; raise SignatureError if it does not hold."""
    algorithm = message.algorithm
    to_verify = sig_structure(message.protected, message.payload)
    try:
        if algorithm is Algorithm.ES256:
            if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
                raise SignatureError("ES256 needs a P-256 key")
            if len(message.signature) != 2 * _P256_COORDINATE_BYTES:
                raise SignatureError(f"ES256 signature has {len(message.signature)} bytes, not 64")
            r = int.from_bytes(message.signature[:_P256_COORDINATE_BYTES], "big")
            s = int.from_bytes(message.signature[_P256_COORDINATE_BYTES:], "big")
            public_key.verify(encode_dss_signature(r, s), to_verify, ec.ECDSA(hashes.SHA256()))
        else:
            if not isinstance(public_key, rsa.RSAPublicKey):
                raise SignatureError("PS256 needs an RSA key")
            public_key.verify(message.signature, to_verify, _pss(), hashes.SHA256())
    except InvalidSignature:
        raise SignatureError("signature does not verify") from None


def _algorithm_for(private_key: PrivateKey) -> Algorithm:
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        if private_key.curve.name != "secp256r1":
            raise ValueError("the DCC allows ECDSA on P-256 only")
        return Algorithm.ES256
    if isinstance(private_key, rsa.RSAPrivateKey):
        return Algorithm.PS256
    raise TypeError(f"unsupported signing key {type(private_key).__name__}")


def _pss() -> padding.PSS:
    # RFC 8230: PS256 uses MGF1 with SHA-256 and a salt as long as the hash.
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
