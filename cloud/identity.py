"""National identity numbers: normalised, then kept only as a keyed hash (HMAC-SHA256), never in clear.

A keyed hash, not a plain one: identity numbers are short and structured (a 12-digit CCCD starts with a
province code, a sex-and-century digit and the birth year), so an unkeyed SHA-256 of every possible number
is a few hours of work. Without the key a stolen database reveals nothing; with it, staff can still find
a citizen by the number they are shown. The key cannot be rotated without the numbers, so it must never
change (see HubSettings.identity_hash_key).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from pydantic import SecretStr

# 9 digits: the old identity card (CMND); 12 digits: the citizen identity card (CCCD).
IDENTITY_NUMBER_PATTERN = re.compile(r"^(?:[0-9]{9}|[0-9]{12})$")
IDENTITY_HASH_LENGTH = 64  # hex digits of HMAC-SHA256
_SHA256_BLOCK = 64


def normalize_identity_number(raw: str) -> str:
    """The number without whitespace; ValueError unless it is 9 digits (CMND) or 12 digits (CCCD)."""
    number = "".join(raw.split())
    if not IDENTITY_NUMBER_PATTERN.match(number):
        raise ValueError("identity number must be 9 digits (CMND) or 12 digits (CCCD)")
    return number


class IdentityHasher:
    """Keyed hashes of identity numbers: equal numbers (after normalising) give equal hashes."""

    def __init__(self, key: SecretStr) -> None:
        self._key = key.get_secret_value().encode()
        # HMAC's keyed inner and outer hash states (RFC 2104), computed once: hash_normalized copies them
        # instead of keying a new HMAC per number, a third of the cost on bulk paths.
        block = self._key if len(self._key) <= _SHA256_BLOCK else hashlib.sha256(self._key).digest()
        block = block.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def hash(self, raw: str) -> str:
        """The hex HMAC-SHA256 of the normalised number (ValueError for a malformed number)."""
        number = normalize_identity_number(raw)
        return hmac.new(self._key, number.encode("ascii"), hashlib.sha256).hexdigest()

    def hash_normalized(self, number: str) -> str:
        """The same hash for a number already normalised and checked (bulk paths: no per-number keying)."""
        inner = self._inner.copy()
        inner.update(number.encode("ascii"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()
