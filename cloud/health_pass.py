"""A citizen's personal health QR code: green, yellow or red, from their case, test, quarantine and
vaccination records (docs/PROTOCOL.md §5). Pure: the facts and keys are passed in.

The status, first rule that applies:

- red: an open case, or a positive test collected in the last `positive_window` (14 days);
- yellow: under a quarantine order now (active, or pending after contact tracing); a test awaiting its
  result; or neither a complete vaccination series (its last dose at least `series_effective_after` ago,
  14 days) nor a negative test collected in the last `negative_valid` (72 hours);
- green: otherwise.

The code is `QMH1:` + base64url(JSON) + `.` + base64url(ES256 signature), signed with the hub's QR key (the
venue codes' scheme, cloud/qrcodes.py). It carries only the status, its validity and the citizen's handle
(which lets a checkpoint record the crossing without typing an identity number): not the name, not the
reasons, not the records. It is valid for `validity` (12 hours): a status that changes reaches the holder
with their next code, and an offline verifier never trusts an old one for long.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from cloud.qrcodes import VERSION, QrCodeError, QrSigner, QrVerifier

PREFIX = "QMH1:"
HANDLE_PATTERN_MAX = 32


class HealthStatus(StrEnum):
    """The colour a health QR code shows."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


@dataclass(frozen=True, slots=True)
class HealthFacts:
    """What the records say about one person, as of now."""

    open_case: bool
    last_positive_at: datetime | None  # collection time of their latest positive test
    last_negative_at: datetime | None  # collection time of their latest negative test
    pending_test: bool
    in_quarantine: bool
    series_completed_at: datetime | None  # when the dose completing a vaccination series was given


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """The windows the status rules use."""

    positive_window: timedelta = timedelta(days=14)
    negative_valid: timedelta = timedelta(hours=72)
    series_effective_after: timedelta = timedelta(days=14)
    validity: timedelta = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Assessment:
    """A status and the reasons for it (shown to the holder, never put in the code)."""

    status: HealthStatus
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HealthPass:
    """What a verified code says."""

    status: HealthStatus
    handle: str
    issued_at: datetime
    expires_at: datetime
    kid: str


def assess(facts: HealthFacts, now: datetime, policy: HealthPolicy = HealthPolicy()) -> Assessment:
    """The status the facts give at `now`, with every reason that applies to it."""
    red = []
    if facts.open_case:
        red.append("confirmed case under treatment or isolation")
    if facts.last_positive_at is not None and now - facts.last_positive_at <= policy.positive_window:
        red.append(f"positive test collected {facts.last_positive_at:%Y-%m-%d}")
    if red:
        return Assessment(HealthStatus.RED, tuple(red))
    yellow = []
    if facts.in_quarantine:
        yellow.append("under a quarantine order")
    if facts.pending_test:
        yellow.append("a test is awaiting its result")
    protected = (
        facts.series_completed_at is not None
        and now - facts.series_completed_at >= policy.series_effective_after
    )
    tested = facts.last_negative_at is not None and now - facts.last_negative_at <= policy.negative_valid
    if not protected and not tested:
        yellow.append("no complete vaccination series and no recent negative test")
    if yellow:
        return Assessment(HealthStatus.YELLOW, tuple(yellow))
    reasons = []
    if protected:
        reasons.append("vaccination series complete")
    if tested:
        reasons.append(f"negative test collected {facts.last_negative_at:%Y-%m-%d}")
    return Assessment(HealthStatus.GREEN, tuple(reasons))


def sign_pass(
    signer: QrSigner, status: HealthStatus, handle: str, now: datetime, policy: HealthPolicy = HealthPolicy()
) -> str:
    """The QR text of a pass for the citizen with `handle`, valid from `now` for the policy's validity."""
    issued = int(now.timestamp())
    payload = {"exp": issued + int(policy.validity.total_seconds()), "h": handle, "iat": issued}
    return signer.sign_payload(PREFIX, {**payload, "s": status.value, "v": VERSION})


def verify_pass(verifier: QrVerifier, text: str, now: datetime) -> HealthPass:
    """The pass a QR text holds, if it is signed by a known key and not expired (QrCodeError otherwise)."""
    payload = verifier.verify_payload(PREFIX, text, "health QR code")
    health_pass = _health_pass(payload)
    if now >= health_pass.expires_at:
        raise QrCodeError(f"expired at {health_pass.expires_at.isoformat()}")
    if health_pass.issued_at > now + timedelta(minutes=5):
        raise QrCodeError("issued in the future")
    return health_pass


def _health_pass(payload: Mapping[str, Any]) -> HealthPass:
    status, handle, issued, expires, kid = (payload.get(k) for k in ("s", "h", "iat", "exp", "kid"))
    if status not in {s.value for s in HealthStatus}:
        raise QrCodeError("malformed payload: status")
    if not isinstance(handle, str) or not 0 < len(handle) <= HANDLE_PATTERN_MAX:
        raise QrCodeError("malformed payload: holder")
    if type(issued) is not int or type(expires) is not int or expires <= issued or not isinstance(kid, str):
        raise QrCodeError("malformed payload: validity")
    return HealthPass(
        HealthStatus(status),
        handle,
        datetime.fromtimestamp(issued, UTC),
        datetime.fromtimestamp(expires, UTC),
        kid,
    )
