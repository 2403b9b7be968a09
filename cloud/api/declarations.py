"""Declaration routes: a citizen files and reads their own (`/citizens/me/declarations`); officers read
those concerning their wards (`/declarations`)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cloud.api.citizens import WARD_PATTERN
from cloud.api.deps import CitizenDep, HubDep, OfficerDep
from cloud.api.params import Offset, RecordId
from cloud.declarations import DeclarationKind, NewDeclaration, WardDeclaration
from cloud.storage.records import Citizen, Declaration

router = APIRouter(prefix="/declarations", tags=["declarations"])
own_router = APIRouter(prefix="/citizens/me/declarations", tags=["declarations"])

_BODY = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Symptom(StrEnum):
    """The symptoms a health declaration asks about."""

    FEVER = "fever"
    COUGH = "cough"
    SHORTNESS_OF_BREATH = "shortness_of_breath"
    SORE_THROAT = "sore_throat"
    LOSS_OF_TASTE_OR_SMELL = "loss_of_taste_or_smell"
    FATIGUE = "fatigue"
    MUSCLE_ACHE = "muscle_ache"
    HEADACHE = "headache"
    RUNNY_NOSE = "runny_nose"
    DIARRHOEA = "diarrhoea"
    NAUSEA_OR_VOMITING = "nausea_or_vomiting"


class VisitIn(BaseModel):
    """A place visited on a day of the last 14."""

    model_config = _BODY

    place: str = Field(min_length=1, max_length=200)
    visited_on: date


class HealthDeclarationIn(BaseModel):
    """Symptoms now, contact with a case, and where the citizen has been in the last 14 days."""

    model_config = _BODY

    kind: Literal["health"]
    symptoms: list[Symptom] = Field(default_factory=list, max_length=len(Symptom))
    exposure: bool = Field(description="In contact with a confirmed or suspected case in the last 14 days.")
    exposure_detail: str | None = Field(None, min_length=1, max_length=1000)
    travel: list[VisitIn] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if len(set(self.symptoms)) != len(self.symptoms):
            raise ValueError("symptoms must not repeat")
        if self.exposure_detail is not None and not self.exposure:
            raise ValueError("exposure_detail is only for exposure: true")
        return self


class TravelDeclarationIn(BaseModel):
    """A domestic journey: from where to where, how, and when."""

    model_config = _BODY

    kind: Literal["travel"]
    origin: str = Field(min_length=1, max_length=200)
    destination: str = Field(min_length=1, max_length=200)
    means: Literal["car", "motorbike", "bus", "train", "plane", "boat", "bicycle", "other"]
    vehicle: str | None = Field(
        None, min_length=1, max_length=50, description="Flight, train or plate number."
    )
    departs_on: date
    arrives_on: date

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.arrives_on < self.departs_on:
            raise ValueError("arrives_on must not be before departs_on")
        return self


class PlaceIn(BaseModel):
    """A place in a ward: the ward's officers receive the report."""

    model_config = _BODY

    ward_id: str = Field(pattern=WARD_PATTERN)
    description: str = Field(min_length=1, max_length=300, description="Address or landmark.")


class FeedbackIn(BaseModel):
    """A citizen's report to the authorities about a place (the reporter is not shown to officers)."""

    model_config = _BODY

    kind: Literal["feedback"]
    category: Literal["suspected_quarantine_breach", "crowding", "unsafe_checkpoint", "other"]
    place: PlaceIn
    description: str = Field(min_length=1, max_length=2000)
    observed_on: date | None = None


DeclarationIn = Annotated[HealthDeclarationIn | TravelDeclarationIn | FeedbackIn, Field(discriminator="kind")]


class DeclarationOut(BaseModel):
    """A declaration as filed."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    ward_id: str = Field(description="The ward whose officers read it.")
    filed_at: datetime
    details: dict[str, Any]


class FilerOut(BaseModel):
    """Who filed a health or travel declaration, for the ward's follow-up."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    full_name: str
    birth_date: date
    phone: str | None
    address: str | None


class WardDeclarationOut(DeclarationOut):
    """A declaration as the ward's officers see it (`citizen` is null for feedback reports)."""

    citizen: FilerOut | None


def _new(body: HealthDeclarationIn | TravelDeclarationIn | FeedbackIn) -> NewDeclaration:
    details = body.model_dump(mode="json", exclude={"kind"})
    if isinstance(body, HealthDeclarationIn):
        return NewDeclaration(DeclarationKind.HEALTH, details, [v.visited_on for v in body.travel])
    if isinstance(body, TravelDeclarationIn):
        return NewDeclaration(DeclarationKind.TRAVEL, details, [body.departs_on, body.arrives_on])
    dates = [body.observed_on] if body.observed_on else []
    return NewDeclaration(DeclarationKind.FEEDBACK, details, dates, place_ward_id=body.place.ward_id)


def _out(declaration: Declaration) -> DeclarationOut:
    return DeclarationOut.model_validate(declaration)


def _ward_out(found: WardDeclaration) -> WardDeclarationOut:
    citizen: Citizen | None = found.citizen
    return WardDeclarationOut(
        **DeclarationOut.model_validate(found.declaration).model_dump(),
        citizen=FilerOut.model_validate(citizen) if citizen else None,
    )


Limit = Annotated[int, Query(ge=1, le=500)]


@own_router.post("", response_model=DeclarationOut, status_code=status.HTTP_201_CREATED)
def file_declaration(body: DeclarationIn, actor: CitizenDep, hub: HubDep) -> DeclarationOut:
    """File a health, travel or feedback declaration (`kind` says which)."""
    return _out(hub.declarations.file(actor, _new(body)))


@own_router.get("", response_model=list[DeclarationOut])
def list_own_declarations(
    actor: CitizenDep,
    hub: HubDep,
    kind: Annotated[DeclarationKind | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[DeclarationOut]:
    """The calling citizen's declarations, newest first."""
    return [_out(d) for d in hub.declarations.list_own(actor, kind=kind, limit=limit, offset=offset)]


@own_router.get("/{declaration_id}", response_model=DeclarationOut)
def get_own_declaration(declaration_id: RecordId, actor: CitizenDep, hub: HubDep) -> DeclarationOut:
    """One of the calling citizen's declarations."""
    return _out(hub.declarations.get_own(actor, declaration_id))


@router.get("", response_model=list[WardDeclarationOut])
def list_ward_declarations(
    actor: OfficerDep,
    hub: HubDep,
    kind: Annotated[DeclarationKind | None, Query()] = None,
    ward: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[WardDeclarationOut]:
    """Declarations concerning the caller's wards (or one of them), newest first."""
    found = hub.declarations.list_for_wards(actor, ward=ward, kind=kind, limit=limit, offset=offset)
    return [_ward_out(d) for d in found]


@router.get("/{declaration_id}", response_model=WardDeclarationOut)
def get_ward_declaration(declaration_id: RecordId, actor: OfficerDep, hub: HubDep) -> WardDeclarationOut:
    """One declaration concerning one of the caller's wards."""
    return _ward_out(hub.declarations.get_for_ward(actor, declaration_id))
