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

from cloud.errors import UnavailableError, UnprocessableError
from qmon.keyed_hash import hmac_sha256_states

# 9 digits: the old identity card (CMND); 12 digits: the citizen identity card (CCCD).
IDENTITY_NUMBER_PATTERN = re.compile(r"^(?:[0-9]{9}|[0-9]{12})$")
IDENTITY_HASH_LENGTH = 64  # hex digits of HMAC-SHA256


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
        # HMAC's keyed inner and outer states, computed once: hash_normalized copies them instead of keying
        # a new HMAC per number, a third of the cost on bulk paths.
        self._inner, self._outer = hmac_sha256_states(self._key)

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


def hash_identity_number(hasher: IdentityHasher | None, identity_number: str) -> str:
    """The keyed hash of a number a request gave: 503 (UnavailableError) when the hub takes no identity
    numbers (identity_hash_key unset), 422 (UnprocessableError) when the number is malformed."""
    if hasher is None:
        raise UnavailableError("identity numbers are not accepted on this hub (identity_hash_key unset)")
    try:
        return hasher.hash(identity_number)
    except ValueError as exc:
        raise UnprocessableError(str(exc)) from None
