"""Webhook signatures (pure): HMAC-SHA256 over the timestamp, a dot and the exact body bytes.

Headers: `X-Qmon-Timestamp: <unix seconds, ASCII decimal>` and
`X-Qmon-Signature: sha256=<lowercase hex of HMAC-SHA256(key, timestamp + b"." + body)>`. A receiver
recomputes it over the raw body it received, compares in constant time, and rejects timestamps older than a
few minutes (replays); `X-Qmon-Delivery` (the notification id) lets it drop a retried duplicate.
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Qmon-Timestamp"
SIGNATURE_HEADER = "X-Qmon-Signature"
DELIVERY_HEADER = "X-Qmon-Delivery"
PREFIX = "sha256="


def sign(key: bytes, timestamp: int, body: bytes) -> str:
    """The signature header value for this body sent at `timestamp`."""
    message = str(timestamp).encode("ascii") + b"." + body
    return PREFIX + hmac.new(key, message, hashlib.sha256).hexdigest()


def signature_headers(key: bytes, timestamp: int, body: bytes) -> dict[str, str]:
    """The timestamp and signature headers."""
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(key, timestamp, body)}


def verify(
    key: bytes, timestamp: str, signature: str, body: bytes, now: float, tolerance_s: float = 300
) -> bool:
    """What a receiver does: a well-formed, fresh timestamp and a matching signature."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(key, int(timestamp), body), signature)
