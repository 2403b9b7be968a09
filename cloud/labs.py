"""Testing: lab staff register samples (PCR or rapid antigen, of one person or pooled) and enter results.

A positive pool is not a diagnosis: each of its members gets a new individual sample, pending, that the
lab finds in its "to retest" list (with the member's place in the pool, since the hub keeps no identity
number). A positive individual sample makes its person a case, unless they already have an open one. An
invalid result changes nothing else: the lab registers a new sample.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cloud.access import Actor, Role
from cloud.errors import ConflictError, ForbiddenError, NotFoundError, UnprocessableError
from cloud.identity import IdentityHasher, hash_identity_number
from cloud.storage.labs import Case, Sample
from cloud.storage.repository import Repository
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock

LAB_ROLES = frozenset({Role.LAB, Role.ADMIN})
MIN_POOL, MAX_POOL = 2, 30  # Vietnam pooled up to 10 (PCR) and more in screening; 30 bounds a request
COLLECTION_LOOKBACK = timedelta(days=14)
CLOCK_SKEW = timedelta(minutes=2)


class SampleKind(StrEnum):
    """The test a sample is for."""

    PCR = "pcr"
    RAPID_ANTIGEN = "rapid_antigen"


class SampleResult(StrEnum):
    """A sample's result."""

    POSITIVE = "positive"
    NEGATIVE = "negative"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class NewSample:
    """A sample as the lab registers it: one person's (`identity_number`) or a pool's (`members`)."""

    kind: SampleKind
    ward_id: str
    collected_at: datetime
    identity_number: str | None = None
    members: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class ResultOutcome:
    """What a result led to: the sample, the retests of a positive pool, the case of a positive person."""

    sample: Sample
    retests: list[Sample]
    case: Case | None
    case_created: bool


def check_collected_at(collected_at: datetime, now: datetime) -> None:
    """UnprocessableError unless a collection time is in the last two weeks and not in the future (pure)."""
    if collected_at > now + CLOCK_SKEW:
        raise UnprocessableError("collected_at must not be in the future")
    if collected_at < now - COLLECTION_LOOKBACK:
        raise UnprocessableError(f"collected_at must be within the last {COLLECTION_LOOKBACK.days} days")


def check_pool(member_hashes: Sequence[str]) -> None:
    """UnprocessableError unless a pool has MIN_POOL..MAX_POOL distinct members (pure)."""
    if not MIN_POOL <= len(member_hashes) <= MAX_POOL:
        raise UnprocessableError(f"a pool has {MIN_POOL} to {MAX_POOL} members")
    if len(set(member_hashes)) != len(member_hashes):
        raise UnprocessableError("a pool lists the same identity number twice")


class LabService:
    """Samples, results, retests and cases, with the lab's role and wards checked on every call."""

    def __init__(self, repository: Repository, clock: Clock, hasher: IdentityHasher | None) -> None:
        self._repo = repository
        self._clock = clock
        self._hasher = hasher

    def register(self, actor: Actor, new: NewSample) -> Sample:
        """Register a sample collected in one of the lab's wards."""
        actor.require(LAB_ROLES, "registering a sample")
        if not actor.sees(new.ward_id):
            raise ForbiddenError(f"you do not serve ward {new.ward_id}")
        now = self._now()
        check_collected_at(new.collected_at, now)
        if (new.identity_number is None) == (not new.members):
            raise UnprocessableError("give identity_number (one person) or members (a pool), not both")
        identity_hash = self._hash(new.identity_number) if new.identity_number is not None else None
        members = [self._hash(number) for number in new.members]
        if members:
            check_pool(members)
        return self._repo.labs.add_sample(
            kind=new.kind.value,
            ward_id=new.ward_id,
            collected_at=new.collected_at,
            identity_hash=identity_hash,
            members=members,
            registered_by=actor.username,
            now=now,
        )

    def get(self, actor: Actor, sample_id: int) -> Sample:
        """One sample of the lab's wards (404 for another ward's)."""
        actor.require(LAB_ROLES, "reading a sample")
        sample = self._repo.labs.get_sample(sample_id)
        if sample is None:
            raise NotFoundError(f"sample {sample_id} not found")
        actor.check_ward(sample.ward_id, f"sample {sample_id}")
        return sample

    def list(
        self,
        actor: Actor,
        *,
        ward: str | None = None,
        status: str | None = None,
        retests_only: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Sample]:
        """Samples of the lab's wards (or one of them), newest first."""
        actor.require(LAB_ROLES, "listing samples")
        wards = actor.ward_filter
        if ward is not None:
            wards = frozenset({ward}) if actor.sees(ward) else frozenset()
        return self._repo.labs.list_samples(
            wards=wards, status=status, retests_only=retests_only, limit=limit, offset=offset
        )

    def enter_result(
        self, actor: Actor, sample_id: int, result: SampleResult, collected_at: datetime | None = None
    ) -> ResultOutcome:
        """Record a pending sample's result, then retest a positive pool or open a positive person's case."""
        actor.require(LAB_ROLES, "entering a result")
        now = self._now()
        with self._repo.write() as conn:
            sample = self._repo.labs.get_sample(sample_id, conn=conn, lock=True)
            if sample is None:
                raise NotFoundError(f"sample {sample_id} not found")
            actor.check_ward(sample.ward_id, f"sample {sample_id}")
            if sample.status != "pending":
                raise ConflictError(f"sample {sample_id} already has a result ({sample.status})")
            collected = sample.collected_at or collected_at
            if collected is None:
                raise UnprocessableError("this retest has no collection time yet: give collected_at")
            if collected_at is not None and sample.collected_at is None:
                check_collected_at(collected_at, now)
            self._repo.labs.set_result(
                sample_id,
                status=result.value,
                collected_at=collected,
                resulted_by=actor.username,
                now=now,
                conn=conn,
            )
            retests: builtins.list[Sample] = []
            case: Case | None = None
            created = False
            if result is SampleResult.POSITIVE and sample.pooled:
                retests = [
                    self._repo.labs.add_sample(
                        kind=sample.kind,
                        ward_id=sample.ward_id,
                        collected_at=None,
                        identity_hash=member,
                        members=(),
                        registered_by=actor.username,
                        now=now,
                        retest_of=sample.id,
                        conn=conn,
                    )
                    for member in self._repo.labs.members(sample.id, conn=conn)
                ]
            elif result is SampleResult.POSITIVE:
                assert sample.identity_hash is not None
                case = self._repo.labs.open_case(sample.identity_hash, conn=conn)
                if case is None:
                    case = self._repo.labs.add_case(
                        identity_hash=sample.identity_hash,
                        ward_id=sample.ward_id,
                        confirmed_at=now,
                        source_sample_id=sample.id,
                        conn=conn,
                    )
                    created = True
            updated = self._repo.labs.get_sample(sample_id, conn=conn)
        assert updated is not None
        return ResultOutcome(updated, retests, case, created)

    def _hash(self, identity_number: str) -> str:
        return hash_identity_number(self._hasher, identity_number)

    def _now(self) -> datetime:
        return utc_from_timestamp(self._clock.now())
