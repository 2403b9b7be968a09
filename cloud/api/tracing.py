"""Case and tracing routes: list and read cases, compute a case's F1/F2 contacts with the evidence, and turn
the contacts into pending quarantine orders in one call."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, Self

from fastapi import APIRouter, Path, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from cloud.api.citizens import WARD_PATTERN
from cloud.api.deps import ActorDep, HubDep
from cloud.api.labs import CaseOut, case_out
from cloud.api.params import Offset
from cloud.tracing import QUARANTINE_DAYS, Contact, Level, Trace

router = APIRouter(prefix="/cases", tags=["tracing"])

_BODY = ConfigDict(extra="forbid")
Limit = Annotated[int, Query(ge=1, le=500)]
CaseId = Annotated[int, Path(ge=1, le=2**31 - 1)]
WardQuery = Annotated[str | None, Query(pattern=WARD_PATTERN)]


class WindowIn(BaseModel):
    """The infectious window (default: from two days before the case's sample to now; at most 28 days)."""

    model_config = _BODY

    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None

    @model_validator(mode="after")
    def _check_order(self) -> Self:
        if self.window_start and self.window_end and self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self


class TraceIn(WindowIn):
    """What to trace."""

    include_f2: bool = Field(True, description="Also the contacts of the F1 contacts.")


class OrdersIn(WindowIn):
    """Which contacts to quarantine, and for how long."""

    levels: list[Level] = Field(
        default_factory=lambda: [Level.F1], min_length=1, max_length=2, description="Contact levels to order."
    )
    quarantine_days: int = Field(QUARANTINE_DAYS, ge=1, le=30)


class EvidenceOut(BaseModel):
    """Why someone is a contact."""

    kind: Literal["checkin", "crossing", "household"]
    via: str = Field(description="`case`, or the person_ref of the F1 contact they met.")
    venue_id: int | None
    venue_name: str | None
    start: datetime | None = Field(description="Start of the overlap (inside the window).")
    end: datetime | None
    overlap_s: float = Field(description="How long they were at the same place at the same time.")
    address: str | None = Field(description="The shared address of a household.")


class PersonOut(BaseModel):
    """A registered citizen's details for the tracing call."""

    model_config = ConfigDict(from_attributes=True)

    full_name: str
    birth_date: date
    phone: str | None
    ward_id: str
    address: str | None


class ContactOut(BaseModel):
    """A contact of the case."""

    person_ref: str = Field(description="The keyed hash of the person's identity number (never the number).")
    level: Level
    ward_id: str | None = Field(description="The ward that quarantines them: their own, or the place's.")
    person: PersonOut | None = Field(description="Null if they are not a registered citizen.")
    evidence: list[EvidenceOut]


class TraceOut(BaseModel):
    """A case's contacts over the window."""

    case: CaseOut
    window_start: datetime
    window_end: datetime
    contacts: list[ContactOut]


class ContactOrderOut(BaseModel):
    """A contact's quarantine order: made now (`pending`, waiting for a bracelet or room) or already there."""

    person_ref: str
    level: Level
    ward_id: str
    order_id: int
    person_id: int
    created: bool


class OrdersOut(BaseModel):
    """The orders of a case's contacts."""

    case: CaseOut
    orders: list[ContactOrderOut]


def _venue_name(trace: Trace, venue_id: int | None) -> str | None:
    venue = trace.venues.get(venue_id) if venue_id is not None else None
    return venue.name if venue is not None else None


def _contact_out(contact: Contact, trace: Trace) -> ContactOut:
    citizen = trace.citizens.get(contact.identity_hash)
    return ContactOut(
        person_ref=contact.identity_hash,
        level=contact.level,
        ward_id=contact.ward_id,
        person=PersonOut.model_validate(citizen) if citizen else None,
        evidence=[
            EvidenceOut(
                kind=e.kind,  # type: ignore[arg-type]
                via=e.via,
                venue_id=e.venue_id,
                venue_name=_venue_name(trace, e.venue_id),
                start=e.start,
                end=e.end,
                overlap_s=e.overlap.total_seconds(),
                address=e.address,
            )
            for e in contact.evidence
        ],
    )


@router.get("", response_model=list[CaseOut])
def list_cases(
    actor: ActorDep,
    hub: HubDep,
    status: Annotated[Literal["open", "closed"] | None, Query()] = None,
    ward: WardQuery = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[CaseOut]:
    """Cases of the caller's wards, newest first (tracing, lab, admin)."""
    return [
        case_out(c)
        for c in hub.tracing.list_cases(actor, ward=ward, status=status, limit=limit, offset=offset)
    ]


@router.get("/{case_id}", response_model=CaseOut)
def get_case(case_id: CaseId, actor: ActorDep, hub: HubDep) -> CaseOut:
    """One case of the caller's wards."""
    return case_out(hub.tracing.get_case(actor, case_id))


@router.post("/{case_id}/contacts", response_model=TraceOut)
def trace_contacts(case_id: CaseId, body: TraceIn, actor: ActorDep, hub: HubDep) -> TraceOut:
    """The case's F1 (and F2) contacts over the window, each with the evidence (tracing, admin)."""
    trace = hub.tracing.trace(
        actor, case_id, start=body.window_start, end=body.window_end, include_f2=body.include_f2
    )
    return TraceOut(
        case=case_out(trace.case),
        window_start=trace.start,
        window_end=trace.end,
        contacts=[_contact_out(c, trace) for c in trace.contacts],
    )


@router.post("/{case_id}/orders", response_model=OrdersOut, status_code=status.HTTP_200_OK)
def order_contacts(case_id: CaseId, body: OrdersIn, actor: ActorDep, hub: HubDep) -> OrdersOut:
    """Give each contact of the chosen levels a pending quarantine order in their ward, in one transaction;
    a contact who already has a pending or active order keeps it (calling again changes nothing)."""
    trace, placed = hub.tracing.place_orders(
        actor,
        case_id,
        levels=body.levels,
        days=body.quarantine_days,
        start=body.window_start,
        end=body.window_end,
    )
    return OrdersOut(
        case=case_out(trace.case),
        orders=[
            ContactOrderOut(
                person_ref=p.contact.identity_hash,
                level=p.contact.level,
                ward_id=p.contact.ward_id or trace.case.ward_id,
                order_id=p.placed.order_id,
                person_id=p.placed.person_id,
                created=p.placed.created,
            )
            for p in placed
        ],
    )
