"""Typed failures of the certificate chain: each names the layer that rejected the input."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class Layer(StrEnum):
    """Where in `HC1:` -> base45 -> zlib -> COSE -> CBOR -> checks a certificate was rejected."""

    PREFIX = "prefix"
    BASE45 = "base45"
    ZLIB = "zlib"
    COSE = "cose"
    CBOR = "cbor"
    UNKNOWN_KEY = "unknown_key"
    SIGNATURE = "signature"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    KEY_USAGE = "key_usage"
    PAYLOAD = "payload"


class CertificateError(Exception):
    """A health certificate could not be encoded, decoded or trusted."""

    layer: ClassVar[Layer]


class PrefixError(CertificateError):
    """The text does not start with the `HC1:` context identifier."""

    layer = Layer.PREFIX


class Base45Error(CertificateError):
    """The text after the prefix is not valid base45."""

    layer = Layer.BASE45


class ZlibError(CertificateError):
    """The decoded bytes are not one complete zlib stream (or inflate past the size limit)."""

    layer = Layer.ZLIB


class CoseError(CertificateError):
    """The bytes are not a well-formed COSE_Sign1 message with usable headers."""

    layer = Layer.COSE


class CborError(CertificateError):
    """The signed payload is not a CBOR Web Token carrying a health certificate."""

    layer = Layer.CBOR


class UnknownKeyError(CertificateError):
    """No key in the trust list has the message's key id."""

    layer = Layer.UNKNOWN_KEY


class SignatureError(CertificateError):
    """The signature does not verify under the trusted key."""

    layer = Layer.SIGNATURE


class NotYetValidError(CertificateError):
    """The certificate was issued after the verifier's clock (issued-at in the future)."""

    layer = Layer.NOT_YET_VALID


class ExpiredError(CertificateError):
    """The verifier's clock is past the certificate's expiry."""

    layer = Layer.EXPIRED


class KeyUsageError(CertificateError):
    """The signer's X.509 certificate is not allowed to sign this kind of health certificate."""

    layer = Layer.KEY_USAGE


class PayloadError(CertificateError):
    """The health certificate does not match the EU DCC schema (or holds more than one entry)."""

    layer = Layer.PAYLOAD
