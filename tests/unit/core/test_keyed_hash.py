"""The precomputed HMAC-SHA256 states give hmac's own digests, for short, block-sized and long keys."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from qmon.keyed_hash import hmac_sha256_states


@pytest.mark.parametrize("key", [b"", b"k" * 16, b"b" * 64, b"long" * 40])
@pytest.mark.parametrize("prefix", [b"", b"qmon-adv-v1"])
def test_states_give_hmac_digests(key: bytes, prefix: bytes) -> None:
    inner, outer = hmac_sha256_states(key, prefix)
    for message in (b"", b"001203004567", bytes(range(200))):
        i = inner.copy()
        i.update(message)
        o = outer.copy()
        o.update(i.digest())
        assert o.digest() == hmac.digest(key, prefix + message, hashlib.sha256)
