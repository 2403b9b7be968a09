"""The release policy: why an order may end, and which lab sample releases its person (pure, no I/O).

Ending an order takes a reason. `negative_test` cites a negative sample of the order's person (their own,
or a pool they were in) of an accepted kind, collected during the order and at most `max_sample_age`
before the ending. `completed` (the term is served) is accepted only when the hub does not require a
test. The others need no test but a note saying why: `transferred` (to a hospital or another facility),
`cleared` (a pending order whose traced contact was ruled out) and `entered_in_error`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cloud.errors import ConflictError, UnprocessableError

PENDING = "pending"
NEGATIVE = "negative"


class ReleaseReason(StrEnum):
    """Why an order ended."""

    NEGATIVE_TEST = "negative_test"
    COMPLETED = "completed"
    TRANSFERRED = "transferred"
    CLEARED = "cleared"
    ENTERED_IN_ERROR = "entered_in_error"


# Reasons that release without a test must say why in a note.
NOTE_REQUIRED = frozenset({ReleaseReason.TRANSFERRED, ReleaseReason.CLEARED, ReleaseReason.ENTERED_IN_ERROR})
NO_TEST_REASONS = ", ".join(sorted(NOTE_REQUIRED))


@dataclass(frozen=True, slots=True)
class ReleasePolicy:
    """What ending an order needs (HubSettings.order_release)."""

    require_negative_test: bool = True
    sample_kinds: frozenset[str] = frozenset({"pcr", "rapid_antigen"})
    max_sample_age: timedelta = timedelta(hours=72)


@dataclass(frozen=True, slots=True)
class Release:
    """An officer's request to end an order: the reason, the releasing sample's id, a note."""

    reason: ReleaseReason
    sample_id: int | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ReleaseSample:
    """What the policy needs of the cited sample: its kind, result, collection time, and whether the order's
    person gave it (their own sample, or a pool they were a member of)."""

    id: int
    kind: str
    status: str
    collected_at: datetime | None
    pooled: bool
    of_person: bool


def check_release_request(release: Release, order_status: str, policy: ReleasePolicy) -> None:
    """Refuse a release whose reason does not fit the order or the policy, before any sample is read.

    UnprocessableError (422) for what the request lacks, ConflictError (409) for a reason the order's state
    does not allow."""
    reason = release.reason
    if reason in NOTE_REQUIRED and not (release.note and release.note.strip()):
        raise UnprocessableError(f"ending an order as {reason} needs a note saying why")
    if reason == ReleaseReason.CLEARED and order_status != PENDING:
        raise ConflictError(
            f"only a pending order can be cleared; this one is {order_status} (end it with another reason)"
        )
    if reason == ReleaseReason.COMPLETED and policy.require_negative_test:
        raise UnprocessableError(
            "this hub's release policy requires a negative test: end the order with reason negative_test "
            f"and release_sample_id, or with a reason that needs no test ({NO_TEST_REASONS}) and a note"
        )
    if reason == ReleaseReason.NEGATIVE_TEST and release.sample_id is None:
        raise UnprocessableError("reason negative_test needs release_sample_id: the id of a negative sample")
    if reason != ReleaseReason.NEGATIVE_TEST and release.sample_id is not None:
        raise UnprocessableError(f"release_sample_id goes with reason negative_test, not {reason}")


def check_release_sample(
    sample: ReleaseSample | None,
    *,
    sample_id: int,
    person_identified: bool,
    order_starts_at: datetime,
    policy: ReleasePolicy,
    now: datetime,
) -> None:
    """UnprocessableError (422) unless `sample` releases the order's person now: theirs, of an accepted kind,
    negative, collected during the order and within the policy's age."""
    if not person_identified:
        raise UnprocessableError(
            "this order's person has no identity number on record, so no lab sample can be matched to them: "
            f"end the order with a reason that needs no test ({NO_TEST_REASONS}) and a note"
        )
    if sample is None:
        raise UnprocessableError(f"sample {sample_id} not found")
    if not sample.of_person:
        what = "a pool with" if sample.pooled else "a sample of"
        raise UnprocessableError(f"sample {sample_id} is not {what} this order's person")
    if sample.kind not in policy.sample_kinds:
        accepted = ", ".join(sorted(policy.sample_kinds))
        raise UnprocessableError(f"sample {sample_id} is {sample.kind}; this hub releases on {accepted} only")
    if sample.status != NEGATIVE:
        detail = "has no result yet" if sample.status == PENDING else f"is {sample.status}"
        raise UnprocessableError(f"sample {sample_id} {detail}; only a negative sample releases an order")
    if sample.collected_at is None:
        raise UnprocessableError(f"sample {sample_id} has no collection time")
    if sample.collected_at < order_starts_at:
        raise UnprocessableError(
            f"sample {sample_id} was collected on {sample.collected_at:%Y-%m-%d %H:%M} UTC, before the order "
            f"started ({order_starts_at:%Y-%m-%d %H:%M} UTC)"
        )
    oldest = now - policy.max_sample_age
    if sample.collected_at < oldest:
        hours = policy.max_sample_age.total_seconds() / 3600
        raise UnprocessableError(
            f"sample {sample_id} was collected on {sample.collected_at:%Y-%m-%d %H:%M} UTC, more than "
            f"{hours:g} hours ago; a release needs one collected since {oldest:%Y-%m-%d %H:%M} UTC"
        )
