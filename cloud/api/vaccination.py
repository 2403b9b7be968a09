"""Vaccination routes: sites and slots, doses (one by one and bulk files), adverse events (`/vaccination`,
vaccinators of the site's ward and admins); citizens' bookings, doses and adverse-event reports
(`/citizens/me/...`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cloud.api.citizens import WARD_PATTERN, IdentityNumberIn
from cloud.api.deps import ActorDep, CitizenDep, HubDep
from cloud.api.params import Offset
from cloud.api.ratelimit import LimiterDep
from cloud.dose_files import FIELDS, DoseFileFormat
from cloud.ratelimit import LimitedAction
from cloud.storage.vaccination import AdverseEvent, Booking, DoseRecord, Slot, VaccinationSite
from cloud.vaccination import PRODUCTS, Severity
from cloud.vaccination_service import NewDose, UploadReport

router = APIRouter(prefix="/vaccination", tags=["vaccination"])
own_router = APIRouter(prefix="/citizens/me", tags=["vaccination"])

_BODY = ConfigDict(extra="forbid", str_strip_whitespace=True)
_OUT = ConfigDict(from_attributes=True)
_UPLOAD_CHUNK = 1 << 20  # parse the body in pieces of about this size, off the event loop

MAX_ID = 2**63 - 1  # ids beyond the databases' 64-bit integers are refused as bad requests, not looked up
RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500)]
ProductCode = Annotated[
    str, Field(min_length=1, max_length=32, description=f"One of: {', '.join(PRODUCTS)}.")
]
DoseNumber = Annotated[int, Field(ge=1, le=9)]


class SiteIn(BaseModel):
    """A vaccination site in one of the caller's wards."""

    model_config = _BODY

    name: str = Field(min_length=1, max_length=200)
    ward_id: str = Field(pattern=WARD_PATTERN)
    address: str | None = Field(None, min_length=1, max_length=300)
    daily_capacity: int = Field(ge=1, le=100_000, description="Most doses a day, across its slots.")


class SiteOut(BaseModel):
    """A vaccination site."""

    model_config = _OUT

    id: int
    name: str
    ward_id: str
    address: str | None
    daily_capacity: int
    created_at: datetime


class SlotIn(BaseModel):
    """An appointment window: its start (with a UTC offset; the offset's day counts for the daily
    capacity) and how many people it takes."""

    model_config = _BODY

    starts_at: AwareDatetime
    capacity: int = Field(ge=1, le=10_000)


class SlotOut(BaseModel):
    """An appointment slot and how many places are booked."""

    model_config = _OUT

    id: int
    site_id: int
    starts_at: datetime
    capacity: int
    booked: int


class BookingIn(BaseModel):
    """The slot to book."""

    model_config = _BODY

    slot_id: int = Field(ge=1, le=MAX_ID)


class BookingOut(BaseModel):
    """A citizen's booking."""

    model_config = _OUT

    id: int
    slot_id: int
    status: str = Field(description="booked or cancelled")
    booked_at: datetime
    cancelled_at: datetime | None


class DoseIn(IdentityNumberIn):
    """A dose given: whom (identity number, stored only as a keyed hash), what, where and when."""

    model_config = _BODY

    product: ProductCode
    lot: str = Field(min_length=1, max_length=32)
    dose_number: DoseNumber
    series_doses: DoseNumber | None = Field(None, description="Doses in the series (default: the product's).")
    site_id: int = Field(ge=1, le=MAX_ID)
    administered_at: AwareDatetime


class DoseOut(BaseModel):
    """A recorded dose (the person is not shown: the hub keeps only a keyed hash of the number)."""

    model_config = _OUT

    id: int
    product: str
    product_name: str
    lot: str
    dose_number: int
    series_doses: int
    site_id: int
    ward_id: str
    administered_at: datetime
    recorded_at: datetime


class UploadErrorOut(BaseModel):
    """One refused line of a bulk file."""

    line: int = Field(description="Line number in the file (1 = the CSV header or the first NDJSON line).")
    message: str


class UploadReportOut(BaseModel):
    """What a bulk upload did: stored (no bad line) or nothing stored, with the first bad lines."""

    site_id: int
    stored: bool = Field(description="False: nothing was stored; fix the lines named and upload again.")
    rows: int = Field(description="Dose rows read (good ones, when the file was refused).")
    inserted: int
    already_recorded: int = Field(description="Rows whose (person, product, dose number) was stored before.")
    error_count: int
    errors: list[UploadErrorOut] = Field(description="The first 100 refused lines.")
    detail: str | None = None


class AdverseEventIn(BaseModel):
    """An adverse event following immunisation."""

    model_config = _BODY

    severity: Severity
    onset_at: AwareDatetime
    description: str = Field(min_length=1, max_length=2000)


class AdverseEventOut(BaseModel):
    """A reported adverse event."""

    model_config = _OUT

    id: int
    dose_id: int
    ward_id: str
    severity: str
    onset_at: datetime
    description: str
    reporter_role: str
    reported_at: datetime


class ProductOut(BaseModel):
    """A vaccine product the hub records (EU DCC value-set codes)."""

    model_config = _OUT

    code: str
    name: str
    manufacturer: str
    prophylaxis: str
    standard_series: int


def _site(site: VaccinationSite) -> SiteOut:
    return SiteOut.model_validate(site)


def _slot(slot: Slot) -> SlotOut:
    return SlotOut.model_validate(slot)


def _booking(booking: Booking) -> BookingOut:
    return BookingOut.model_validate(booking)


def _dose(dose: DoseRecord) -> DoseOut:
    product = PRODUCTS.get(dose.product)
    return DoseOut(
        id=dose.id,
        product=dose.product,
        product_name=product.name if product else dose.product,
        lot=dose.lot,
        dose_number=dose.dose_number,
        series_doses=dose.series_doses,
        site_id=dose.site_id,
        ward_id=dose.ward_id,
        administered_at=dose.administered_at,
        recorded_at=dose.recorded_at,
    )


def _event(event: AdverseEvent) -> AdverseEventOut:
    return AdverseEventOut.model_validate(event)


def _report(report: UploadReport, detail: str | None = None) -> UploadReportOut:
    return UploadReportOut(
        site_id=report.site_id,
        stored=report.accepted,
        rows=report.rows,
        inserted=report.inserted,
        already_recorded=report.already_recorded,
        error_count=report.error_count,
        errors=[UploadErrorOut(line=e.line, message=e.message) for e in report.errors],
        detail=detail,
    )


# --- products, sites and slots ---


@router.get("/products", response_model=list[ProductOut])
def list_products(_actor: ActorDep) -> list[ProductOut]:
    """The vaccine products doses may name."""
    return [ProductOut.model_validate(p) for p in PRODUCTS.values()]


@router.post("/sites", response_model=SiteOut, status_code=status.HTTP_201_CREATED)
def create_site(body: SiteIn, actor: ActorDep, hub: HubDep) -> SiteOut:
    """Register a vaccination site in one of the caller's wards (vaccinator, admin)."""
    site = hub.vaccination.create_site(
        actor, name=body.name, ward_id=body.ward_id, address=body.address, daily_capacity=body.daily_capacity
    )
    return _site(site)


@router.get("/sites", response_model=list[SiteOut])
def list_sites(
    actor: ActorDep,
    hub: HubDep,
    ward: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[SiteOut]:
    """Sites: a vaccinator's wards; every site for admins and citizens (who book at them)."""
    return [_site(s) for s in hub.vaccination.list_sites(actor, ward=ward, limit=limit, offset=offset)]


@router.get("/sites/{site_id}", response_model=SiteOut)
def get_site(site_id: RecordId, actor: ActorDep, hub: HubDep) -> SiteOut:
    """One site."""
    return _site(hub.vaccination.get_site(actor, site_id))


@router.post("/sites/{site_id}/slots", response_model=SlotOut, status_code=status.HTTP_201_CREATED)
def add_slot(site_id: RecordId, body: SlotIn, actor: ActorDep, hub: HubDep) -> SlotOut:
    """Open an appointment slot; a day's slots stay within the site's daily capacity (409 beyond)."""
    return _slot(hub.vaccination.add_slot(actor, site_id, starts_at=body.starts_at, capacity=body.capacity))


@router.get("/sites/{site_id}/slots", response_model=list[SlotOut])
def list_slots(
    site_id: RecordId,
    actor: ActorDep,
    hub: HubDep,
    on: Annotated[date | None, Query(description="A day (UTC); default: every slot from now on.")] = None,
) -> list[SlotOut]:
    """A site's slots with their booked counts."""
    moment = datetime.combine(on, time(), tzinfo=UTC) if on is not None else None
    return [_slot(s) for s in hub.vaccination.list_slots(actor, site_id, on=moment)]


# --- doses ---


@router.post(
    "/doses",
    response_model=DoseOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": DoseOut, "description": "This dose was already recorded: the stored record."}},
)
def record_dose(body: DoseIn, actor: ActorDep, hub: HubDep, response: Response) -> DoseOut:
    """Record a dose given at a site of the caller's wards (a repeat of a recorded dose answers 200)."""
    new = NewDose(
        identity_number=body.identity_number,
        product=body.product,
        lot=body.lot,
        dose_number=body.dose_number,
        series_doses=body.series_doses,
        site_id=body.site_id,
        administered_at=body.administered_at,
    )
    dose, created = hub.vaccination.record_dose(actor, new)
    if not created:
        response.status_code = status.HTTP_200_OK
    return _dose(dose)


_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A CSV file with a header line (columns "
        + ", ".join(FIELDS)
        + "; series_doses optional) or NDJSON (one JSON object per line with those fields); "
        "docs/RECORDS.md.",
        "content": {
            DoseFileFormat.CSV.value: {"schema": {"type": "string"}},
            DoseFileFormat.NDJSON.value: {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/sites/{site_id}/doses/bulk",
    response_model=UploadReportOut,
    openapi_extra=_UPLOAD_BODY,
    responses={
        415: {"description": "Neither text/csv nor application/x-ndjson."},
        422: {
            "description": "A line was refused and nothing was stored (the report); or a bad site id.",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/UploadReportOut"},
                            {"$ref": "#/components/schemas/HTTPValidationError"},
                        ]
                    }
                }
            },
        },
    },
)
async def upload_doses(site_id: RecordId, request: Request, actor: ActorDep, hub: HubDep) -> Any:
    """Upload a day's doses of a site that worked offline: all stored, or none if any line is bad.

    Doses already stored (same person, product and dose number) are skipped, so a re-upload is harmless.
    """
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        file_format = DoseFileFormat(media)
    except ValueError:
        return JSONResponse(
            {"detail": "send the file as text/csv or application/x-ndjson"},
            status_code=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        )
    service = hub.vaccination
    parser = await asyncio.to_thread(service.start_upload, actor, site_id, file_format)
    pending: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        pending.append(chunk)
        size += len(chunk)
        if size >= _UPLOAD_CHUNK:
            await asyncio.to_thread(parser.feed, b"".join(pending))
            pending, size = [], 0
            if parser.stopped:  # refused already: read no further
                break
    if pending:
        await asyncio.to_thread(parser.feed, b"".join(pending))
    parsed = await asyncio.to_thread(parser.finish)
    report = await asyncio.to_thread(service.commit_upload, actor, site_id, parsed)
    if not report.accepted:
        detail = f"{report.error_count} bad line(s); nothing was stored"
        body = _report(report, detail).model_dump(mode="json")
        return JSONResponse(body, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return _report(report)


@router.get("/doses", response_model=list[DoseOut])
def list_doses(
    actor: ActorDep,
    hub: HubDep,
    ward: Annotated[str | None, Query(max_length=64)] = None,
    site_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[DoseOut]:
    """Doses given in the caller's wards, newest first."""
    found = hub.vaccination.list_doses(actor, ward=ward, site_id=site_id, limit=limit, offset=offset)
    return [_dose(d) for d in found]


# POST: the identity number stays out of URLs and access logs.
@router.post("/doses/lookup", response_model=list[DoseOut])
def look_up_doses(body: IdentityNumberIn, actor: ActorDep, hub: HubDep, limiter: LimiterDep) -> list[DoseOut]:
    """A person's doses given in the caller's wards (look-ups are limited per account: 429, Retry-After)."""
    limiter.hit(LimitedAction.LOOKUP, actor.username)
    return [_dose(d) for d in hub.vaccination.find_doses(actor, body.identity_number)]


@router.get("/doses/{dose_id}", response_model=DoseOut)
def get_dose(dose_id: RecordId, actor: ActorDep, hub: HubDep) -> DoseOut:
    """One dose of the caller's wards."""
    return _dose(hub.vaccination.get_dose(actor, dose_id))


@router.post(
    "/doses/{dose_id}/adverse-events", response_model=AdverseEventOut, status_code=status.HTTP_201_CREATED
)
def report_adverse_event(
    dose_id: RecordId, body: AdverseEventIn, actor: ActorDep, hub: HubDep
) -> AdverseEventOut:
    """Report an adverse event after a dose of the caller's wards."""
    event = hub.vaccination.report_adverse_event(
        actor, dose_id, severity=body.severity, onset_at=body.onset_at, description=body.description
    )
    return _event(event)


@router.get("/doses/{dose_id}/adverse-events", response_model=list[AdverseEventOut])
def list_adverse_events(dose_id: RecordId, actor: ActorDep, hub: HubDep) -> list[AdverseEventOut]:
    """The adverse events reported against a dose."""
    return [_event(e) for e in hub.vaccination.list_adverse_events(actor, dose_id)]


# --- the citizen's own ---


@own_router.get("/doses", response_model=list[DoseOut])
def list_my_doses(actor: CitizenDep, hub: HubDep) -> list[DoseOut]:
    """The calling citizen's doses, newest first."""
    return [_dose(d) for d in hub.vaccination.my_doses(actor)]


@own_router.post(
    "/doses/{dose_id}/adverse-events", response_model=AdverseEventOut, status_code=status.HTTP_201_CREATED
)
def report_my_adverse_event(
    dose_id: RecordId, body: AdverseEventIn, actor: CitizenDep, hub: HubDep
) -> AdverseEventOut:
    """Report an adverse event after one of your own doses."""
    event = hub.vaccination.report_adverse_event(
        actor, dose_id, severity=body.severity, onset_at=body.onset_at, description=body.description
    )
    return _event(event)


@own_router.get("/doses/{dose_id}/adverse-events", response_model=list[AdverseEventOut])
def list_my_adverse_events(dose_id: RecordId, actor: CitizenDep, hub: HubDep) -> list[AdverseEventOut]:
    """The adverse events reported against one of your doses."""
    return [_event(e) for e in hub.vaccination.list_adverse_events(actor, dose_id)]


@own_router.post("/bookings", response_model=BookingOut, status_code=status.HTTP_201_CREATED)
def book_slot(body: BookingIn, actor: CitizenDep, hub: HubDep) -> BookingOut:
    """Book a place in a slot (409 when it is full or you already booked it)."""
    return _booking(hub.vaccination.book(actor, body.slot_id))


@own_router.get("/bookings", response_model=list[BookingOut])
def list_my_bookings(actor: CitizenDep, hub: HubDep) -> list[BookingOut]:
    """Your bookings, newest first."""
    return [_booking(b) for b in hub.vaccination.my_bookings(actor)]


@own_router.delete("/bookings/{booking_id}", response_model=BookingOut)
def cancel_booking(booking_id: RecordId, actor: CitizenDep, hub: HubDep) -> BookingOut:
    """Cancel one of your bookings; its place becomes free."""
    return _booking(hub.vaccination.cancel(actor, booking_id))
