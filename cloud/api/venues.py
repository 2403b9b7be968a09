"""Venue and checkpoint routes: staff register venues, print their signed QR codes, record crossings
and read their wards' records (`/venues`); citizens check in by QR code (`/citizens/me/checkins`); anyone
fetches the public keys that verify the codes offline (`/venues/qr-keys`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from cloud.api.citizens import WARD_PATTERN
from cloud.api.deps import ActorDep, CitizenDep, HubDep
from cloud.api.params import Offset
from cloud.errors import UnprocessableError
from cloud.identity import normalize_identity_number
from cloud.qrcodes import MAX_QR_TEXT, render_png, render_svg
from cloud.storage.venues import Checkin, Crossing, Venue
from cloud.venues import NewCrossing, NewVenue, VenueKind

router = APIRouter(prefix="/venues", tags=["venues"])
own_router = APIRouter(prefix="/citizens/me/checkins", tags=["venues"])

_BODY = ConfigDict(extra="forbid", str_strip_whitespace=True)
Limit = Annotated[int, Query(ge=1, le=500)]
MAX_ID = 2**31 - 1  # ids are 32-bit on PostgreSQL: larger ones are refused as 422, never sent to the database
VenueId = Annotated[int, Path(ge=1, le=MAX_ID)]
CheckinId = Annotated[int, Path(ge=1, le=2**63 - 1)]
WardQuery = Annotated[str | None, Query(pattern=WARD_PATTERN)]
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # no control characters (PostgreSQL refuses NUL in text)


class VenueIn(BaseModel):
    """A venue (citizens check in by its QR code) or a road checkpoint (its staff record crossings)."""

    model_config = _BODY

    kind: VenueKind
    name: str = Field(min_length=1, max_length=200, pattern=PRINTABLE)
    ward_id: str = Field(pattern=WARD_PATTERN, description="The ward whose venue staff manage it.")
    address: str = Field(min_length=1, max_length=300, pattern=PRINTABLE)


class VenueOut(BaseModel):
    """A registered venue or checkpoint."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: VenueKind
    name: str
    ward_id: str
    address: str
    created_by: str
    created_at: datetime


class VenueQrOut(BaseModel):
    """A venue's signed QR text (docs/PROTOCOL.md, "Venue QR codes")."""

    venue_id: int
    text: str = Field(description="The text the QR code holds: `QMV1:<payload>.<signature>`.")
    kid: str = Field(description="Id of the hub key that signed it (see /venues/qr-keys).")


class QrKeyOut(BaseModel):
    """A public key that verifies venue QR codes offline."""

    kid: str
    alg: Literal["ES256"] = "ES256"
    public_key_pem: str = Field(description="PEM SubjectPublicKeyInfo of the ECDSA P-256 key.")
    current: bool = Field(description="True for the key that signs new codes; others are retired.")


class CheckinIn(BaseModel):
    """A scanned venue QR code."""

    model_config = _BODY

    qr: str = Field(min_length=1, max_length=MAX_QR_TEXT, description="The text of the scanned QR code.")


class CheckinOut(BaseModel):
    """A check-in at a venue (`present_until`: check-out, or check-in plus the default dwell)."""

    id: int
    venue_id: int
    venue_name: str | None = Field(None, description="Given to the citizen who checked in.")
    checked_in_at: datetime
    checked_out_at: datetime | None
    present_until: datetime


class CrossingIn(BaseModel):
    """A person crossing a checkpoint, as its staff record it."""

    model_config = _BODY

    identity_number: str | None = Field(
        None, max_length=32, description="9 (CMND) or 12 (CCCD) digits; kept only hashed. Or `health_pass`."
    )
    health_pass: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_QR_TEXT,
        description="The scanned health QR code (`QMH1:`): verified, its holder and colour recorded.",
    )
    direction: Literal["in", "out"]
    status_shown: Literal["green", "yellow", "red"] | None = Field(
        None, description="The health QR status the person showed (required with `identity_number`)."
    )
    crossed_at: AwareDatetime | None = Field(
        None,
        description="When they crossed (default: now); at most 24 h ago, for checkpoints that were offline.",
    )

    @field_validator("identity_number")
    @classmethod
    def _check_number(cls, value: str | None) -> str | None:
        return None if value is None else normalize_identity_number(value)

    @model_validator(mode="after")
    def _one_person(self) -> Self:
        if (self.identity_number is None) == (self.health_pass is None):
            raise ValueError("give the person as exactly one of identity_number and health_pass")
        if self.identity_number is not None and self.status_shown is None:
            raise ValueError("status_shown is required with identity_number")
        return self


class CrossingOut(BaseModel):
    """A recorded crossing (the person is kept only as a keyed hash, not shown)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    venue_id: int
    direction: str
    crossed_at: datetime
    status_shown: str
    recorded_by: str


def _venue_out(venue: Venue) -> VenueOut:
    return VenueOut.model_validate(venue)


def _checkin_out(checkin: Checkin, venue: Venue | None = None) -> CheckinOut:
    return CheckinOut(
        id=checkin.id,
        venue_id=checkin.venue_id,
        venue_name=venue.name if venue is not None else None,
        checked_in_at=checkin.checked_in_at,
        checked_out_at=checkin.checked_out_at,
        present_until=checkin.present_until,
    )


def _crossing_out(crossing: Crossing) -> CrossingOut:
    return CrossingOut.model_validate(crossing)


@router.get("/qr-keys", response_model=list[QrKeyOut])
def list_qr_keys(hub: HubDep) -> list[QrKeyOut]:
    """The public keys that verify venue QR codes (no login: verifiers fetch them once and work offline)."""
    return [QrKeyOut(kid=k.kid, public_key_pem=k.pem, current=k.current) for k in hub.venues.public_keys()]


@router.post("", response_model=VenueOut, status_code=status.HTTP_201_CREATED)
def register_venue(body: VenueIn, actor: ActorDep, hub: HubDep) -> VenueOut:
    """Register a venue or checkpoint in one of the caller's wards (venue staff, admin)."""
    new = NewVenue(kind=body.kind, name=body.name, ward_id=body.ward_id, address=body.address)
    return _venue_out(hub.venues.register(actor, new))


@router.get("", response_model=list[VenueOut])
def list_venues(
    actor: ActorDep,
    hub: HubDep,
    kind: Annotated[VenueKind | None, Query()] = None,
    ward: WardQuery = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[VenueOut]:
    """Venues and checkpoints of the caller's wards (or one of them)."""
    return [_venue_out(v) for v in hub.venues.list(actor, ward=ward, kind=kind, limit=limit, offset=offset)]


@router.get("/{venue_id}", response_model=VenueOut)
def get_venue(venue_id: VenueId, actor: ActorDep, hub: HubDep) -> VenueOut:
    """One venue or checkpoint of the caller's wards."""
    return _venue_out(hub.venues.get(actor, venue_id))


@router.get("/{venue_id}/qr", response_model=VenueQrOut)
def get_venue_qr(venue_id: VenueId, actor: ActorDep, hub: HubDep) -> VenueQrOut:
    """The venue's signed QR text."""
    qr = hub.venues.qr(actor, venue_id)
    return VenueQrOut(venue_id=qr.venue.id, text=qr.text, kid=qr.kid)


def _image_responses(media_type: str) -> dict[int | str, dict[str, object]]:
    return {200: {"content": {media_type: {}}, "description": "The QR code to print."}}


@router.get("/{venue_id}/qr.png", response_class=Response, responses=_image_responses("image/png"))
def get_venue_qr_png(venue_id: VenueId, actor: ActorDep, hub: HubDep) -> Response:
    """The venue's signed QR code as a PNG image, to print."""
    qr = hub.venues.qr(actor, venue_id)
    return Response(render_png(qr.text), media_type="image/png")


@router.get("/{venue_id}/qr.svg", response_class=Response, responses=_image_responses("image/svg+xml"))
def get_venue_qr_svg(venue_id: VenueId, actor: ActorDep, hub: HubDep) -> Response:
    """The venue's signed QR code as an SVG image, to print at any size."""
    qr = hub.venues.qr(actor, venue_id)
    return Response(render_svg(qr.text), media_type="image/svg+xml")


@router.get("/{venue_id}/checkins", response_model=list[CheckinOut])
def list_venue_checkins(
    venue_id: VenueId, actor: ActorDep, hub: HubDep, limit: Limit = 50, offset: Offset = 0
) -> list[CheckinOut]:
    """Check-ins at a venue of the caller's wards, newest first (the people are not shown)."""
    return [
        _checkin_out(c) for c in hub.venues.list_venue_checkins(actor, venue_id, limit=limit, offset=offset)
    ]


@router.post("/{venue_id}/crossings", response_model=CrossingOut, status_code=status.HTTP_201_CREATED)
def record_crossing(venue_id: VenueId, body: CrossingIn, actor: ActorDep, hub: HubDep) -> CrossingOut:
    """Record a person crossing a checkpoint of the caller's wards (entry/exit control data)."""
    if body.health_pass is not None:
        scanned = hub.health_passes.scan(body.health_pass)
        shown = scanned.health_pass.status.value
        if body.status_shown is not None and body.status_shown != shown:
            raise UnprocessableError(
                f"status_shown {body.status_shown} contradicts the scanned code ({shown})"
            )
        new = NewCrossing(body.direction, shown, body.crossed_at, identity_hash=scanned.identity_hash)
    else:
        assert body.status_shown is not None  # checked with the body
        new = NewCrossing(
            body.direction, body.status_shown, body.crossed_at, identity_number=body.identity_number
        )
    return _crossing_out(hub.venues.record_crossing(actor, venue_id, new))


@router.get("/{venue_id}/crossings", response_model=list[CrossingOut])
def list_crossings(
    venue_id: VenueId, actor: ActorDep, hub: HubDep, limit: Limit = 50, offset: Offset = 0
) -> list[CrossingOut]:
    """Crossings at a checkpoint of the caller's wards, newest first."""
    return [_crossing_out(c) for c in hub.venues.list_crossings(actor, venue_id, limit=limit, offset=offset)]


@own_router.post("", response_model=CheckinOut, status_code=status.HTTP_201_CREATED)
def check_in(body: CheckinIn, actor: CitizenDep, hub: HubDep) -> CheckinOut:
    """Check in at a venue by its scanned QR code (422 if the code is forged, altered or unknown)."""
    checkin, venue = hub.venues.check_in(actor, body.qr)
    return _checkin_out(checkin, venue)


@own_router.get("", response_model=list[CheckinOut])
def list_own_checkins(
    actor: CitizenDep, hub: HubDep, limit: Limit = 50, offset: Offset = 0
) -> list[CheckinOut]:
    """The calling citizen's check-ins, newest first."""
    return [_checkin_out(c, v) for c, v in hub.venues.list_own_checkins(actor, limit=limit, offset=offset)]


@own_router.post("/{checkin_id}/checkout", response_model=CheckinOut)
def check_out(checkin_id: CheckinId, actor: CitizenDep, hub: HubDep) -> CheckinOut:
    """Record that the calling citizen left the venue (409 if already checked out)."""
    checkin, venue = hub.venues.check_out(actor, checkin_id)
    return _checkin_out(checkin, venue)
