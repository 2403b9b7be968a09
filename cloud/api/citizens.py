"""Citizen routes: self-registration, the citizen's own record, staff finding a citizen by identity number."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cloud.api.deps import CitizenDep, HubDep, StaffDep
from cloud.api.ratelimit import ClientDep, LimiterDep
from cloud.auth import MIN_PASSWORD_LENGTH
from cloud.citizens import NewCitizen
from cloud.identity import normalize_identity_number
from cloud.ratelimit import LimitedAction
from cloud.storage.records import Citizen

router = APIRouter(prefix="/citizens", tags=["citizens"])

WARD_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
PHONE_PATTERN = r"^\+?[0-9 ()-]{6,31}$"


class IdentityNumberIn(BaseModel):
    """A national identity number: 9 digits (CMND) or 12 digits (CCCD); spaces are ignored."""

    model_config = ConfigDict(extra="forbid")

    identity_number: str = Field(max_length=32)

    @field_validator("identity_number")
    @classmethod
    def _check_number(cls, value: str) -> str:
        return normalize_identity_number(value)


class RegistrationIn(IdentityNumberIn):
    """A citizen's self-registration: only what the public-health features use."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    full_name: str = Field(min_length=1, max_length=200)
    birth_date: date
    ward_id: str = Field(pattern=WARD_PATTERN, description="The ward the citizen lives in.")
    phone: str | None = Field(None, pattern=PHONE_PATTERN)
    address: str | None = Field(None, min_length=1, max_length=300)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=256)


class CitizenOut(BaseModel):
    """A citizen as staff see them (never the identity number, which the hub does not keep)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    full_name: str
    birth_date: date
    phone: str | None
    ward_id: str
    address: str | None


class MyCitizenOut(CitizenOut):
    """The citizen's own record, with the handle they log in with."""

    handle: str = Field(description="The user name for /api/v1/auth/token.")
    created_at: datetime


def _mine(citizen: Citizen) -> MyCitizenOut:
    return MyCitizenOut.model_validate(citizen)


@router.post("/register", response_model=MyCitizenOut, status_code=status.HTTP_201_CREATED)
def register(body: RegistrationIn, hub: HubDep, limiter: LimiterDep, client: ClientDep) -> MyCitizenOut:
    """Create a citizen account; log in with the returned `handle` (409 if the number is registered).

    Registrations are limited per client address (429 with Retry-After)."""
    limiter.hit(LimitedAction.REGISTRATION, client)
    new = NewCitizen(
        identity_number=body.identity_number,
        full_name=body.full_name,
        birth_date=body.birth_date,
        ward_id=body.ward_id,
        password=body.password,
        phone=body.phone,
        address=body.address,
    )
    return _mine(hub.citizens.register(new))


@router.get("/me", response_model=MyCitizenOut)
def read_me(actor: CitizenDep, hub: HubDep) -> MyCitizenOut:
    """The calling citizen's own record."""
    return _mine(hub.citizens.me(actor))


# POST, not GET: the number stays out of URLs, and so out of access logs and browser histories.
@router.post("/lookup", response_model=CitizenOut)
def look_up(body: IdentityNumberIn, actor: StaffDep, hub: HubDep, limiter: LimiterDep) -> CitizenOut:
    """The citizen with this identity number, if they live in one of the caller's wards (404 otherwise).

    Look-ups are limited per staff account (429 with Retry-After)."""
    limiter.hit(LimitedAction.LOOKUP, actor.username)
    return CitizenOut.model_validate(hub.citizens.find(actor, body.identity_number))
