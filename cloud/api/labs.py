"""Lab routes: register samples (single or pooled), list them and the retests to do, enter results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from fastapi import APIRouter, Path, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from cloud.api.citizens import WARD_PATTERN
from cloud.api.deps import ActorDep, HubDep
from cloud.api.params import Offset
from cloud.identity import normalize_identity_number
from cloud.labs import MAX_POOL, MIN_POOL, NewSample, ResultOutcome, SampleKind, SampleResult
from cloud.storage.labs import Case, Sample

router = APIRouter(prefix="/samples", tags=["labs"])

_BODY = ConfigDict(extra="forbid", str_strip_whitespace=True)
Limit = Annotated[int, Query(ge=1, le=500)]
IdentityNumber = Annotated[str, Field(max_length=32)]
SampleId = Annotated[int, Path(ge=1, le=2**31 - 1)]
WardQuery = Annotated[str | None, Query(pattern=WARD_PATTERN)]


class SampleIn(BaseModel):
    """A sample: of one person (`identity_number`) or a pool (`members`, in tube order)."""

    model_config = _BODY

    kind: SampleKind
    ward_id: str = Field(pattern=WARD_PATTERN, description="The ward where the sample was collected.")
    collected_at: AwareDatetime
    identity_number: IdentityNumber | None = Field(None, description="One person's 9 or 12 digits.")
    members: list[IdentityNumber] | None = Field(
        None,
        min_length=MIN_POOL,
        max_length=MAX_POOL,
        description="A pool's members' identity numbers; a positive pool retests each of them.",
    )

    @field_validator("identity_number")
    @classmethod
    def _check_number(cls, value: str | None) -> str | None:
        return normalize_identity_number(value) if value is not None else None

    @field_validator("members")
    @classmethod
    def _check_members(cls, value: list[str] | None) -> list[str] | None:
        return [normalize_identity_number(v) for v in value] if value is not None else None

    @model_validator(mode="after")
    def _check_one(self) -> Self:
        if (self.identity_number is None) == (self.members is None):
            raise ValueError("give identity_number (one person) or members (a pool), not both")
        return self


class ResultIn(BaseModel):
    """A sample's result; `collected_at` is needed for a retest whose collection time the hub lacks."""

    model_config = _BODY

    result: SampleResult
    collected_at: AwareDatetime | None = None


class SampleOut(BaseModel):
    """A sample and its result (people are kept as keyed hashes and not shown)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: SampleKind
    pooled: bool
    member_count: int = Field(description="Members of a pool (0 for one person's sample).")
    ward_id: str
    collected_at: datetime | None
    status: Literal["pending", "positive", "negative", "invalid"]
    retest_of: int | None = Field(description="The positive pool this individual retest comes from.")
    pool_position: int | None = Field(description="A retest's member's place in that pool (1-based).")
    registered_by: str
    registered_at: datetime
    resulted_by: str | None
    resulted_at: datetime | None


class CaseOut(BaseModel):
    """A confirmed case."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ward_id: str
    confirmed_at: datetime
    source_sample_id: int
    status: str


class ResultOut(BaseModel):
    """A result and what it led to."""

    sample: SampleOut
    retests: list[SampleOut] = Field(description="A positive pool's new individual samples, pending.")
    case: CaseOut | None = Field(description="A positive person's case (new, or the open one they had).")
    case_created: bool


def sample_out(sample: Sample) -> SampleOut:
    """The API view of a sample."""
    return SampleOut.model_validate(sample)


def case_out(case: Case) -> CaseOut:
    """The API view of a case (without the person's hash)."""
    return CaseOut.model_validate(case)


def _result_out(outcome: ResultOutcome) -> ResultOut:
    return ResultOut(
        sample=sample_out(outcome.sample),
        retests=[sample_out(s) for s in outcome.retests],
        case=case_out(outcome.case) if outcome.case is not None else None,
        case_created=outcome.case_created,
    )


@router.post("", response_model=SampleOut, status_code=status.HTTP_201_CREATED)
def register_sample(body: SampleIn, actor: ActorDep, hub: HubDep) -> SampleOut:
    """Register a sample collected in one of the caller's wards (lab, admin)."""
    new = NewSample(
        kind=body.kind,
        ward_id=body.ward_id,
        collected_at=body.collected_at,
        identity_number=body.identity_number,
        members=tuple(body.members or ()),
    )
    return sample_out(hub.labs.register(actor, new))


@router.get("", response_model=list[SampleOut])
def list_samples(
    actor: ActorDep,
    hub: HubDep,
    status: Annotated[Literal["pending", "positive", "negative", "invalid"] | None, Query()] = None,
    ward: WardQuery = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[SampleOut]:
    """Samples of the caller's wards (or one of them), newest first."""
    found = hub.labs.list(actor, ward=ward, status=status, limit=limit, offset=offset)
    return [sample_out(s) for s in found]


@router.get("/to-retest", response_model=list[SampleOut])
def list_to_retest(
    actor: ActorDep,
    hub: HubDep,
    ward: WardQuery = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[SampleOut]:
    """Pending individual retests of positive pools in the caller's wards, newest first."""
    found = hub.labs.list(actor, ward=ward, status="pending", retests_only=True, limit=limit, offset=offset)
    return [sample_out(s) for s in found]


@router.get("/{sample_id}", response_model=SampleOut)
def get_sample(sample_id: SampleId, actor: ActorDep, hub: HubDep) -> SampleOut:
    """One sample of the caller's wards."""
    return sample_out(hub.labs.get(actor, sample_id))


@router.post("/{sample_id}/result", response_model=ResultOut)
def enter_result(sample_id: SampleId, body: ResultIn, actor: ActorDep, hub: HubDep) -> ResultOut:
    """Enter a pending sample's result (409 if it has one): a positive pool is retested member by member,
    a positive person becomes a case."""
    return _result_out(hub.labs.enter_result(actor, sample_id, body.result, body.collected_at))
