"""Contact tracing: from a case and an infectious window to its F1 and F2 contacts, each with the evidence,
and from the contacts to pending quarantine orders in one call.

What makes a contact (F1 of the case; F2 of an F1, over the same window):
- presence at the same venue or checkpoint at overlapping times: check-ins (a check-in without check-out
  counts for the default dwell) and checkpoint crossings (counted as a short stay at the checkpoint);
- the same household: registered citizens whose address (case and surrounding spaces ignored) and ward
  are the same. Orders' addresses are not used: an order's person has no identity hash unless tracing made
  it, and facility orders share an address without sharing a household.
Health declarations are not used: their exposure answer names no case, so it cannot tie anyone to this one.

The default infectious window runs from two days before the source sample's collection to now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from cloud.access import Actor, Role
from cloud.errors import NotFoundError, UnprocessableError
from cloud.storage.labs import Case
from cloud.storage.records import Citizen
from cloud.storage.repository import Repository
from cloud.storage.tracing import Encounter, Housemate, Overlap, PlacedOrder, Presence
from cloud.storage.venues import Venue
from cloud.venues import MAX_STAY
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock

TRACING_ROLES = frozenset({Role.TRACING, Role.ADMIN})
CASE_READERS = frozenset({Role.TRACING, Role.LAB, Role.ADMIN})
INFECTIOUS_BEFORE = timedelta(days=2)
MAX_WINDOW = timedelta(days=28)
MAX_LOOKBACK = timedelta(days=365)  # how far back a window may start (records are not kept longer)
QUARANTINE_DAYS = 14
# Address of a contact who is not a registered citizen: the ward completes it when it fits the bracelet.
UNKNOWN_ADDRESS = "(to be confirmed by the ward)"


class Level(StrEnum):
    """How close a contact is to the case."""

    F1 = "F1"
    F2 = "F2"


class Evidence(NamedTuple):
    """Why someone is a contact: where, when and how long they overlapped with whom (`via`: the case, or the
    F1's identity hash for an F2). A NamedTuple: an F2 trace builds over 10,000 of them, and a frozen
    dataclass's construction costs three times as much."""

    kind: str  # "checkin", "crossing" or "household"
    via: str
    venue_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    address: str | None = None

    @property
    def overlap(self) -> timedelta:
        """How long the two were together (zero for a household)."""
        if self.start is None or self.end is None:
            return timedelta(0)
        return self.end - self.start


@dataclass(slots=True)
class Contact:
    """A contact: their level, the evidence, and the ward that will quarantine them (if known)."""

    identity_hash: str
    level: Level
    evidence: list[Evidence] = field(default_factory=list)
    ward_id: str | None = None
    overlap_s: float = 0.0  # the evidence's overlaps added up, in seconds (contacts are ranked by it)


@dataclass(frozen=True, slots=True)
class Trace:
    """A case's contacts over a window."""

    case: Case
    start: datetime
    end: datetime
    contacts: list[Contact]
    citizens: Mapping[str, Citizen]
    venues: Mapping[int, Venue]


@dataclass(frozen=True, slots=True)
class ContactOrder:
    """A contact's pending order (new) or the order they already had."""

    contact: Contact
    placed: PlacedOrder


def default_window(reference: datetime, now: datetime) -> tuple[datetime, datetime]:
    """The infectious window: from INFECTIOUS_BEFORE before the reference (sample, onset) to now (pure)."""
    return reference - INFECTIOUS_BEFORE, now


def check_window(start: datetime, end: datetime, now: datetime) -> None:
    """UnprocessableError unless the window is non-empty, at most MAX_WINDOW long, and between MAX_LOOKBACK
    ago and a day from now (pure)."""
    if start < now - MAX_LOOKBACK or end > now + timedelta(days=1):
        raise UnprocessableError(f"the window must lie between {MAX_LOOKBACK.days} days ago and tomorrow")
    if end <= start:
        raise UnprocessableError("the window must end after it starts")
    if end - start > MAX_WINDOW:
        raise UnprocessableError(f"the window must be at most {MAX_WINDOW.days} days long")


def clip_overlap(
    a: tuple[datetime, datetime], b: tuple[datetime, datetime], window: tuple[datetime, datetime]
) -> tuple[datetime, datetime] | None:
    """The common part of two intervals inside the window, or None if they do not overlap there (pure)."""
    start = max(a[0], b[0], window[0])
    end = min(a[1], b[1], window[1])
    return (start, end) if end > start else None


def collect_contacts(
    level: Level,
    encounters: Iterable[Encounter],
    housemates: Iterable[Housemate],
    window: tuple[datetime, datetime],
    exclude: set[str],
    via: Mapping[str, str],
) -> dict[str, Contact]:
    """Contacts of one level from the encounters and housemates of its sources (pure).

    `exclude` holds the people already found (the case, the F1s); `via` names each source as the evidence
    shows it ("case" for the case itself, else its identity hash).
    """
    sources: list[Presence] = []
    index: dict[Presence, int] = {}
    overlaps: list[Overlap] = []
    for encounter in encounters:
        common = clip_overlap(
            (encounter.source.start, encounter.source.end),
            (encounter.contact.start, encounter.contact.end),
            window,
        )
        if common is None:
            continue
        n = index.setdefault(encounter.source, len(sources))
        if n == len(sources):
            sources.append(encounter.source)
        contact = encounter.contact
        overlaps.append((n, contact.identity_hash, contact.venue_id, contact.source, common[0], common[1]))
    return contacts_from_overlaps(level, overlaps, sources, housemates, exclude, via)


def contacts_from_overlaps(
    level: Level,
    overlaps: Iterable[Overlap],
    sources: Sequence[Presence],
    housemates: Iterable[Housemate],
    exclude: set[str],
    via: Mapping[str, str],
) -> dict[str, Contact]:
    """Contacts of one level from the clipped overlaps with its sources' presences (each naming its source
    by index in `sources`) and from their housemates (pure); `exclude` and `via` as for collect_contacts."""
    via_source = [via[source.identity_hash] for source in sources]
    found: dict[str, Contact] = {}
    for n, who, venue_id, kind, start, end in overlaps:
        if who in exclude:
            continue
        contact = found.get(who)
        if contact is None:  # not setdefault: that would build a Contact per overlap (thousands at F2)
            contact = found[who] = Contact(who, level)
        contact.evidence.append(Evidence(kind, via_source[n], venue_id, start, end))
        contact.overlap_s += (end - start).total_seconds()
    for housemate in housemates:
        who = housemate.housemate_hash
        if who in exclude:
            continue
        contact = found.setdefault(who, Contact(who, level))
        contact.ward_id = housemate.ward_id
        contact.evidence.append(
            Evidence("household", via[housemate.identity_hash], address=housemate.address)
        )
    for contact in found.values():
        # by start; ties in a fixed order whatever order the database returned the rows in
        contact.evidence.sort(key=lambda e: (e.start is None, e.start, e.kind, e.via, e.venue_id or 0, e.end))
    return found


class TracingService:
    """Cases, their contacts, and the contacts' quarantine orders; tracing staff of the case's ward only."""

    def __init__(self, repository: Repository, clock: Clock) -> None:
        self._repo = repository
        self._clock = clock

    def get_case(self, actor: Actor, case_id: int) -> Case:
        """One case of the caller's wards."""
        actor.require(CASE_READERS, "reading a case")
        case = self._repo.labs.get_case(case_id)
        if case is None:
            raise NotFoundError(f"case {case_id} not found")
        actor.check_ward(case.ward_id, f"case {case_id}")
        return case

    def list_cases(
        self,
        actor: Actor,
        *,
        ward: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Case]:
        """Cases of the caller's wards (or one of them), newest first."""
        actor.require(CASE_READERS, "listing cases")
        wards = actor.ward_filter
        if ward is not None:
            wards = frozenset({ward}) if actor.sees(ward) else frozenset()
        return self._repo.labs.list_cases(wards=wards, status=status, limit=limit, offset=offset)

    def trace(
        self,
        actor: Actor,
        case_id: int,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        include_f2: bool = True,
    ) -> Trace:
        """The case's F1 (and F2) contacts over the window (default: two days before the sample to now)."""
        actor.require(TRACING_ROLES, "tracing contacts")
        case = self.get_case(actor, case_id)
        window = self._window(case, start, end)
        tracing = self._repo.tracing
        with self._repo.read() as conn:
            case_presences = tracing.presences([case.identity_hash], *window, MAX_STAY, conn=conn)
            known = {case.identity_hash}
            f1 = contacts_from_overlaps(
                Level.F1,
                tracing.overlaps(case_presences, MAX_STAY, window, known, conn=conn),
                case_presences,
                tracing.housemates([case.identity_hash], conn=conn),
                known,
                {case.identity_hash: "case"},
            )
            contacts = dict(f1)
            if include_f2 and f1:
                f1_presences = tracing.presences(f1.keys(), *window, MAX_STAY, conn=conn)
                known = {case.identity_hash, *f1}
                f2 = contacts_from_overlaps(
                    Level.F2,
                    tracing.overlaps(f1_presences, MAX_STAY, window, known, conn=conn),
                    f1_presences,
                    tracing.housemates(f1.keys(), conn=conn),
                    known,
                    {who: who for who in f1},
                )
                contacts.update(f2)
            people = tracing.citizens_by_hash(contacts.keys(), conn=conn)
            venues = self._repo.venues.get_many(
                {e.venue_id for c in contacts.values() for e in c.evidence if e.venue_id is not None},
                conn=conn,
            )
        for contact in contacts.values():
            contact.ward_id = _contact_ward(contact, people.get(contact.identity_hash), venues)
        ordered = sorted(contacts.values(), key=lambda c: (c.level, -c.overlap_s, c.identity_hash))
        return Trace(case, window[0], window[1], ordered, people, venues)

    def place_orders(
        self,
        actor: Actor,
        case_id: int,
        *,
        levels: Sequence[Level] = (Level.F1,),
        days: int = QUARANTINE_DAYS,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> tuple[Trace, list[ContactOrder]]:
        """Trace the case, then give every contact of these levels a pending order in their ward, in one
        transaction; a contact who already has a pending or active order keeps it (idempotent)."""
        trace = self.trace(actor, case_id, start=start, end=end, include_f2=Level.F2 in levels)
        now = self._now()
        placed: list[ContactOrder] = []
        with self._repo.write() as conn:
            for contact in trace.contacts:
                if contact.level not in levels:
                    continue
                citizen = trace.citizens.get(contact.identity_hash)
                order = self._repo.tracing.place_pending_order(
                    identity_hash=contact.identity_hash,
                    full_name=citizen.full_name if citizen else f"{contact.level} contact of case {case_id}",
                    phone=citizen.phone if citizen else None,
                    ward_id=contact.ward_id or trace.case.ward_id,
                    address=(citizen.address if citizen else None) or UNKNOWN_ADDRESS,
                    starts_at=now,
                    ends_at=now + timedelta(days=days),
                    created_by=actor.username,
                    now=now,
                    conn=conn,
                )
                placed.append(ContactOrder(contact, order))
        return trace, placed

    def _window(self, case: Case, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
        sample = self._repo.labs.get_sample(case.source_sample_id)
        reference = (sample.collected_at if sample else None) or case.confirmed_at
        now = self._now()
        default_start, default_end = default_window(reference, now)
        window = (start or default_start, end or default_end)
        check_window(*window, now)
        return window

    def _now(self) -> datetime:
        return utc_from_timestamp(self._clock.now())


def _contact_ward(contact: Contact, citizen: Citizen | None, venues: Mapping[int, Venue]) -> str | None:
    """Where the contact is quarantined: their own ward if registered, else the ward of the place they met."""
    if citizen is not None:
        return citizen.ward_id
    if contact.ward_id is not None:
        return contact.ward_id
    for evidence in contact.evidence:
        if evidence.venue_id is not None and evidence.venue_id in venues:
            return venues[evidence.venue_id].ward_id
    return None
