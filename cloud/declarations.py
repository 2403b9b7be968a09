"""Citizens' declarations: health, domestic travel and feedback, filed by a citizen, read by the owner and by
the officers of the ward the declaration concerns (the citizen's ward; for feedback, the reported place's).

Officers see who filed a health or travel declaration (they follow it up); a feedback report's author is
withheld from them, so that reporting a neighbour's breach does not expose the reporter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from cloud.access import OFFICERS, Actor, Role
from cloud.errors import NotFoundError, UnprocessableError
from cloud.storage.records import Citizen, Declaration
from cloud.storage.repository import Repository
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock

LOOKBACK_DAYS = 14  # the incubation period the health declaration's travel history covers
PLANNED_TRAVEL_DAYS = 30  # how far ahead a domestic travel declaration may be filed


class DeclarationKind(StrEnum):
    """What a declaration declares."""

    HEALTH = "health"
    TRAVEL = "travel"
    FEEDBACK = "feedback"


@dataclass(frozen=True, slots=True)
class NewDeclaration:
    """A validated declaration body: its kind, its details as stored, the dates it names and, for
    feedback, the ward of the reported place."""

    kind: DeclarationKind
    details: dict[str, Any]
    dates: Sequence[date] = field(default_factory=tuple)
    place_ward_id: str | None = None


@dataclass(frozen=True, slots=True)
class WardDeclaration:
    """A declaration as officers see it: with the citizen who filed it, except for feedback."""

    declaration: Declaration
    citizen: Citizen | None


def check_declared_dates(kind: DeclarationKind, dates: Sequence[date], today: date) -> None:
    """UnprocessableError unless every date is in the window the kind allows (pure)."""
    earliest = today - timedelta(days=LOOKBACK_DAYS)
    latest = today + timedelta(days=PLANNED_TRAVEL_DAYS) if kind is DeclarationKind.TRAVEL else today
    bad = sorted({d for d in dates if not earliest <= d <= latest})
    if bad:
        shown = ", ".join(d.isoformat() for d in bad)
        raise UnprocessableError(f"dates must be between {earliest} and {latest}: {shown}")


class DeclarationService:
    """Filing and reading declarations, with the owner's and the ward's scope checked on every call."""

    def __init__(self, repository: Repository, clock: Clock) -> None:
        self._repo = repository
        self._clock = clock

    def file(self, actor: Actor, new: NewDeclaration) -> Declaration:
        """File a declaration for the calling citizen (only a citizen files, never for someone else)."""
        actor.require({Role.CITIZEN}, "filing a declaration")
        citizen = self._repo.citizens.get(actor.citizen_id) if actor.citizen_id is not None else None
        if citizen is None:
            raise NotFoundError("citizen not found")
        now = utc_from_timestamp(self._clock.now())
        check_declared_dates(new.kind, new.dates, now.date())
        if new.kind is DeclarationKind.FEEDBACK:
            if new.place_ward_id is None:
                raise UnprocessableError("a feedback report needs the ward of the place")
            ward_id = new.place_ward_id
        else:
            ward_id = citizen.ward_id
        return self._repo.declarations.add(
            kind=new.kind.value, citizen_id=citizen.id, ward_id=ward_id, details=new.details, now=now
        )

    def list_own(
        self, actor: Actor, *, kind: DeclarationKind | None = None, limit: int = 50, offset: int = 0
    ) -> list[Declaration]:
        """The calling citizen's declarations, newest first."""
        actor.require({Role.CITIZEN}, "listing your declarations")
        if actor.citizen_id is None:
            return []
        return self._repo.declarations.list(
            citizen_id=actor.citizen_id, kind=kind.value if kind else None, limit=limit, offset=offset
        )

    def get_own(self, actor: Actor, declaration_id: int) -> Declaration:
        """One of the calling citizen's declarations (404 for anyone else's)."""
        actor.require({Role.CITIZEN}, "reading your declarations")
        declaration = self._repo.declarations.get(declaration_id)
        if declaration is None or actor.citizen_id is None or declaration.citizen_id != actor.citizen_id:
            raise NotFoundError(f"declaration {declaration_id} not found")
        return declaration

    def list_for_wards(
        self,
        actor: Actor,
        *,
        ward: str | None = None,
        kind: DeclarationKind | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[WardDeclaration]:
        """Declarations concerning the officer's wards (or one of them), newest first."""
        actor.require(OFFICERS, "reading a ward's declarations")
        wards = actor.ward_filter
        if ward is not None:
            wards = frozenset({ward}) if actor.sees(ward) else frozenset()
        found = self._repo.declarations.list(
            wards=wards, kind=kind.value if kind else None, limit=limit, offset=offset
        )
        return self._for_ward(found)

    def get_for_ward(self, actor: Actor, declaration_id: int) -> WardDeclaration:
        """One declaration concerning one of the officer's wards (404 for another ward's)."""
        actor.require(OFFICERS, "reading a ward's declarations")
        declaration = self._repo.declarations.get(declaration_id)
        if declaration is None or not actor.sees(declaration.ward_id):
            raise NotFoundError(f"declaration {declaration_id} not found")
        (found,) = self._for_ward([declaration])
        return found

    def _for_ward(self, found: Sequence[Declaration]) -> list[WardDeclaration]:
        # Feedback reports leave their author out: officers act on the place, not on the reporter.
        filers = self._repo.citizens.get_many(
            {d.citizen_id for d in found if d.kind != DeclarationKind.FEEDBACK}
        )
        return [
            WardDeclaration(d, None if d.kind == DeclarationKind.FEEDBACK else filers.get(d.citizen_id))
            for d in found
        ]
