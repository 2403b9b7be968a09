"""Daily aggregates per ward (`/aggregates/daily`, and `/aggregates/daily.csv` to export) and the wards'
names and populations (`/wards`) that vaccination coverage divides by."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from cloud.access import Actor, Role
from cloud.aggregates import AGGREGATE_ROLES, MAX_DAYS, DailyAggregate, write_csv
from cloud.api.citizens import WARD_PATTERN
from cloud.api.deps import HubDep, require_roles
from cloud.storage.aggregates import Ward

router = APIRouter(prefix="/aggregates", tags=["aggregates"])
wards_router = APIRouter(prefix="/wards", tags=["aggregates"])

ReaderDep = Annotated[Actor, Depends(require_roles(*AGGREGATE_ROLES))]
AdminDep = Annotated[Actor, Depends(require_roles(Role.ADMIN))]
WardQuery = Annotated[
    str | None,
    Query(pattern=WARD_PATTERN, description="One ward (default: every ward of the caller; an admin: all)."),
]
From = Annotated[date, Query(alias="from", description="First local day (YYYY-MM-DD), included.")]
To = Annotated[
    date,
    Query(
        alias="to",
        description=f"Last local day (YYYY-MM-DD), included; not after today; at most {MAX_DAYS} days.",
    ),
]


class DailyAggregateOut(BaseModel):
    """One ward's local day: counts of that day; people in quarantine and vaccinated as of its end."""

    model_config = ConfigDict(from_attributes=True)

    ward_id: str
    date: date
    declarations_health: int
    declarations_travel: int
    declarations_feedback: int = Field(description="Feedback reports about places in the ward.")
    checkins: int = Field(description="Check-ins at the ward's venues.")
    crossings_in: int = Field(description="Entries recorded at the ward's checkpoints.")
    crossings_out: int = Field(description="Exits recorded at the ward's checkpoints.")
    tests_pcr: int = Field(description="PCR samples with a result that day (a pool counts once).")
    tests_rapid_antigen: int = Field(description="Rapid antigen samples with a result that day.")
    tests_positive: int = Field(description="Positive results of individual samples (pools left out).")
    tests_negative: int = Field(description="Negative results of individual samples (pools left out).")
    positivity: float | None = Field(description="tests_positive / (positive + negative); null: no results.")
    cases_new: int = Field(description="Cases confirmed that day.")
    in_quarantine: int = Field(description="People under an active order at the day's end (today: now).")
    doses: int = Field(description="Doses given in the ward that day.")
    people_vaccinated: int = Field(description="People with at least one dose given in the ward, by then.")
    people_fully_vaccinated: int = Field(
        description="People whose series was completed in the ward, by then."
    )
    population: int | None = Field(description="The ward's population (null: unknown).")
    coverage_at_least_one: float | None = Field(description="people_vaccinated / population.")
    coverage_complete: float | None = Field(description="people_fully_vaccinated / population.")


class WardIn(BaseModel):
    """A ward's name and population (null: unknown)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    population: int | None = Field(None, ge=1, le=2_000_000_000)


class WardOut(BaseModel):
    """A registered ward."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    population: int | None
    updated_at: datetime


def _daily(hub: HubDep, actor: Actor, ward: str | None, start: date, end: date) -> list[DailyAggregate]:
    return hub.aggregates.daily(actor, ward=ward, start=start, end=end)


@router.get("/daily", response_model=list[DailyAggregateOut])
def daily_aggregates(
    actor: ReaderDep, hub: HubDep, start: From, end: To, ward: WardQuery = None
) -> list[DailyAggregateOut]:
    """One row per ward and local day over the range, days without activity as zeros."""
    return [DailyAggregateOut.model_validate(row) for row in _daily(hub, actor, ward, start, end)]


@router.get(
    "/daily.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "A header line, then one line per ward and day."}
    },
)
def daily_aggregates_csv(
    actor: ReaderDep, hub: HubDep, start: From, end: To, ward: WardQuery = None
) -> Response:
    """The daily aggregates as a CSV attachment (the JSON route's fields as columns; empty for null)."""
    text = write_csv(_daily(hub, actor, ward, start, end))
    filename = f"qmon-daily-{ward or 'wards'}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        content=text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@wards_router.get("", response_model=list[WardOut])
def list_wards(actor: ReaderDep, hub: HubDep) -> list[WardOut]:
    """The registered wards the caller serves (an admin: all), by id."""
    return [WardOut.model_validate(w) for w in hub.aggregates.list_wards(actor)]


@wards_router.put("/{ward_id}", response_model=WardOut)
def put_ward(
    ward_id: Annotated[str, Path(pattern=WARD_PATTERN)], body: WardIn, actor: AdminDep, hub: HubDep
) -> WardOut:
    """Register a ward or replace its name and population (admins)."""
    ward: Ward = hub.aggregates.put_ward(actor, ward_id, name=body.name, population=body.population)
    return WardOut.model_validate(ward)
