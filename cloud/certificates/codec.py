"""The transport layers of a DCC QR code: `HC1:` prefix, base45 (RFC 9285) and zlib.

Each layer has an encode and a decode function; decoders raise the error of their own layer, so a caller
can say which layer a scanned code failed at. `wrap` and `unwrap` run all three.
"""

from __future__ import annotations

import zlib

import base45

from cloud.certificates.cose import CoseSign1, decode_sign1
from cloud.certificates.cwt import CwtClaims, decode_claims
from cloud.certificates.errors import Base45Error, PrefixError, ZlibError

PREFIX = "HC1:"
# A QR code holds under 3 KiB; a COSE message that inflates past this is an attack, not a certificate.
MAX_COSE_BYTES = 64 * 1024


def add_prefix(text: str) -> str:
    """Put the `HC1:` context identifier in front of base45 text."""
    return PREFIX + text


def strip_prefix(text: str) -> str:
    """Remove the `HC1:` context identifier; raise PrefixError if it is missing or another one."""
    if not text.startswith(PREFIX):
        raise PrefixError(f"expected the {PREFIX!r} prefix, got {text[:4]!r}")
    return text[len(PREFIX) :]


def encode_base45(data: bytes) -> str:
    """Encode bytes as base45 text."""
    encoded: bytes = base45.b45encode(data)
    return encoded.decode("ascii")


def decode_base45(text: str) -> bytes:
    """Decode base45 text; raise Base45Error on a character or length that base45 does not allow."""
    try:
        decoded: bytes = base45.b45decode(text)
    except (ValueError, TypeError) as exc:
        raise Base45Error(str(exc)) from exc
    return decoded


def compress(data: bytes) -> bytes:
    """Compress with zlib at the highest level, as QR space is scarce."""
    return zlib.compress(data, 9)


def decompress(data: bytes) -> bytes:
    """Inflate one complete zlib stream of at most MAX_COSE_BYTES; raise ZlibError otherwise."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_COSE_BYTES)
    except zlib.error as exc:
        raise ZlibError(str(exc)) from exc
    if inflater.unconsumed_tail:
        raise ZlibError(f"inflates past {MAX_COSE_BYTES} bytes")
    if not inflater.eof:
        raise ZlibError("zlib stream is truncated")
    if inflater.unused_data:
        raise ZlibError(f"{len(inflater.unused_data)} bytes after the zlib stream")
    return out


def wrap(cose: bytes) -> str:
    """COSE bytes -> zlib -> base45 -> `HC1:` text, ready for a QR code."""
    return add_prefix(encode_base45(compress(cose)))


def unwrap(text: str) -> bytes:
    """`HC1:` text -> base45 -> zlib -> COSE bytes."""
    return decompress(decode_base45(strip_prefix(text)))


def decode_unverified(text: str) -> tuple[CoseSign1, CwtClaims]:
    """Decode a whole QR text into its COSE message and claims WITHOUT checking the signature.

    For inspection and tests only: trust nothing in the result until a Verifier has checked it.
    """
    message = decode_sign1(unwrap(text))
    return message, decode_claims(message.payload)
