"""Vaccination services: sites and slots (vaccinators of the site's ward, admins), citizens' bookings, doses
one by one and in bulk, adverse events. Role, ward and ownership are checked on every call.

Bulk uploads are all-or-nothing: every row is checked before any is stored; a file with a bad row stores
nothing and the report names each bad line. Stored doses are unique per (person, product, dose number), so
uploading the same file again (or a corrected file that repeats good rows) stores each dose once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter

from sqlalchemy.exc import IntegrityError

from cloud.access import Actor, Role
from cloud.dose_files import DoseFileFormat, DoseFileParser, ParsedDoses, RowError
from cloud.errors import ConflictError, NotFoundError, UnavailableError, UnprocessableError
from cloud.identity import IdentityHasher, hash_identity_number
from cloud.storage.records import Citizen
from cloud.storage.repository import Repository
from cloud.storage.vaccination import AdverseEvent, Booking, DoseRecord, Slot, VaccinationSite
from cloud.vaccination import Severity, check_administered_at, check_dose, product_for
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock

# Who runs vaccination: the ward's vaccinators; an admin serves every ward.
VACCINATION_STAFF = frozenset({Role.VACCINATOR, Role.ADMIN})
MAX_SLOT_LEAD = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class NewDose:
    """A dose as a vaccinator enters it (the identity number is hashed, then forgotten)."""

    identity_number: str
    product: str
    lot: str
    dose_number: int
    series_doses: int | None
    site_id: int
    administered_at: datetime


@dataclass(frozen=True, slots=True)
class UploadReport:
    """The outcome of a bulk upload: rows read, newly stored, already stored; or why nothing was stored."""

    site_id: int
    rows: int
    inserted: int
    already_recorded: int
    error_count: int
    errors: tuple[RowError, ...]

    @property
    def accepted(self) -> bool:
        """True if the file was stored (no bad row)."""
        return self.error_count == 0


def day_bounds(moment: datetime) -> tuple[datetime, datetime]:
    """The local day (in `moment`'s own UTC offset) that contains it: [midnight, next midnight) (pure)."""
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


class VaccinationService:
    """Sites, slots, bookings, doses and adverse events."""

    def __init__(
        self, repository: Repository, clock: Clock, hasher: IdentityHasher | None, *, bulk_max_rows: int
    ) -> None:
        self._repo = repository
        self._records = repository.vaccination
        self._clock = clock
        self._hasher = hasher
        self._bulk_max_rows = bulk_max_rows

    def _now(self) -> datetime:
        return utc_from_timestamp(self._clock.now())

    # --- sites and slots ---

    def create_site(
        self, actor: Actor, *, name: str, ward_id: str, address: str | None, daily_capacity: int
    ) -> VaccinationSite:
        """Register a vaccination site in one of the caller's wards."""
        actor.require(VACCINATION_STAFF, "registering a vaccination site")
        actor.check_ward(ward_id, "ward")
        return self._records.add_site(
            name=name,
            ward_id=ward_id,
            address=address,
            daily_capacity=daily_capacity,
            created_by=actor.username,
            now=self._now(),
        )

    def list_sites(self, actor: Actor, *, ward: str | None, limit: int, offset: int) -> list[VaccinationSite]:
        """Sites a caller may see: a vaccinator's wards, every ward for an admin or a citizen (to book)."""
        actor.require({*VACCINATION_STAFF, Role.CITIZEN}, "listing vaccination sites")
        wards = None if actor.role is Role.CITIZEN else actor.ward_filter
        if ward is not None:
            wards = frozenset({ward}) if wards is None or ward in wards else frozenset()
        return self._records.list_sites(wards=wards, limit=limit, offset=offset)

    def get_site(self, actor: Actor, site_id: int) -> VaccinationSite:
        """One site (404 for a vaccinator of another ward)."""
        actor.require({*VACCINATION_STAFF, Role.CITIZEN}, "reading a vaccination site")
        site = self._records.get_site(site_id)
        if site is None or (actor.role is not Role.CITIZEN and not actor.sees(site.ward_id)):
            raise NotFoundError(f"vaccination site {site_id} not found")
        return site

    def _staff_site(self, actor: Actor, site_id: int, action: str) -> VaccinationSite:
        actor.require(VACCINATION_STAFF, action)
        site = self._records.get_site(site_id)
        if site is None or not actor.sees(site.ward_id):
            raise NotFoundError(f"vaccination site {site_id} not found")
        return site

    def add_slot(self, actor: Actor, site_id: int, *, starts_at: datetime, capacity: int) -> Slot:
        """Open an appointment slot; the day's slots together stay within the site's daily capacity."""
        site = self._staff_site(actor, site_id, "opening appointment slots")
        now = self._now()
        if not now < starts_at <= now + MAX_SLOT_LEAD:
            raise UnprocessableError(f"starts_at must be in the next {MAX_SLOT_LEAD.days} days")
        start, end = day_bounds(starts_at)
        try:
            # One write transaction (SQLite: serialised writers) for the sum and the insert.
            with self._repo.write() as conn:
                planned = self._records.slot_capacity_between(site.id, start, end, conn=conn)
                if planned + capacity > site.daily_capacity:
                    raise ConflictError(
                        f"the site's daily capacity is {site.daily_capacity}; {planned} already in slots "
                        "that day"
                    )
                return self._records.add_slot(
                    site_id=site.id, starts_at=starts_at, capacity=capacity, now=now, conn=conn
                )
        except IntegrityError:
            raise ConflictError("the site already has a slot starting then") from None

    def list_slots(self, actor: Actor, site_id: int, *, on: datetime | None) -> list[Slot]:
        """A site's slots (of the day containing `on`, else from now on)."""
        site = self.get_site(actor, site_id)
        if on is not None:
            start, end = day_bounds(on)
            return self._records.list_slots(site.id, start=start, end=end)
        return self._records.list_slots(site.id, start=self._now())

    # --- bookings ---

    def book(self, actor: Actor, slot_id: int) -> Booking:
        """Book a place in a future slot for the calling citizen (409 when full or already booked)."""
        citizen = self._citizen(actor, "booking a vaccination slot")
        slot = self._records.get_slot(slot_id)
        if slot is None:
            raise NotFoundError(f"slot {slot_id} not found")
        if slot.starts_at <= self._now():
            raise UnprocessableError("this slot has already started")
        try:
            with self._repo.write() as conn:
                # The conditional UPDATE is the capacity check: concurrent bookings cannot both take the
                # last place, whatever the database's isolation level.
                if not self._records.take_place(conn, slot.id):
                    raise ConflictError("this slot is full")
                return self._records.add_booking(
                    conn, slot_id=slot.id, citizen_id=citizen.id, now=self._now()
                )
        except IntegrityError:
            raise ConflictError("you already booked this slot") from None

    def cancel(self, actor: Actor, booking_id: int) -> Booking:
        """Cancel one of the calling citizen's live bookings; its place is free again."""
        citizen = self._citizen(actor, "cancelling a booking")
        booking = self._records.cancel_booking(booking_id, citizen.id, self._now())
        if booking is None:
            raise NotFoundError(f"booking {booking_id} not found (or already cancelled)")
        return booking

    def my_bookings(self, actor: Actor) -> list[Booking]:
        """The calling citizen's bookings, newest first."""
        return self._records.list_bookings(self._citizen(actor, "listing your bookings").id)

    # --- doses ---

    def record_dose(self, actor: Actor, new: NewDose) -> tuple[DoseRecord, bool]:
        """Record a dose given at a site of the caller's wards; (record, False) if it was already recorded."""
        site = self._staff_site(actor, new.site_id, "recording a dose")
        now = self._now()
        try:
            product = product_for(new.product)
            series = new.series_doses if new.series_doses is not None else product.standard_series
            check_dose(new.dose_number, series, new.lot, new.administered_at, now)
        except ValueError as exc:
            raise UnprocessableError(str(exc)) from None
        identity_hash = self._hash(new.identity_number)
        values = {
            "identity_hash": identity_hash,
            "product": product.code,
            "lot": new.lot,
            "dose_number": new.dose_number,
            "series_doses": series,
            "site_id": site.id,
            "ward_id": site.ward_id,
            "administered_at": new.administered_at,
            "recorded_by": actor.username,
            "recorded_at": now,
        }
        created = self._records.add_dose(values)
        if created is not None:
            return created, True
        existing = self._records.list_doses(identity_hash=identity_hash, limit=100)
        same = [d for d in existing if d.product == product.code and d.dose_number == new.dose_number]
        if not same or not actor.sees(same[0].ward_id):
            raise ConflictError("this dose of this product is already recorded for this person")
        return same[0], False

    def start_upload(self, actor: Actor, site_id: int, file_format: DoseFileFormat) -> DoseFileParser:
        """Check the caller may upload for the site, then hand out the parser to feed the body to."""
        self._staff_site(actor, site_id, "uploading doses")
        hasher = self._require_hasher()
        return DoseFileParser(file_format, hasher.hash_normalized, self._now(), max_rows=self._bulk_max_rows)

    def commit_upload(self, actor: Actor, site_id: int, parsed: ParsedDoses) -> UploadReport:
        """Store every row of a parsed file in one transaction, or nothing if any row was refused."""
        site = self._staff_site(actor, site_id, "uploading doses")
        rows = parsed.rows
        if parsed.error_count:
            return UploadReport(site.id, len(rows), 0, 0, parsed.error_count, tuple(parsed.errors))
        now = self._now()
        bulk = self._records.bulk
        recorded_at = bulk.ts(now)
        by = actor.username
        site_key, ward = site.id, site.ward_id
        ts = bulk.ts
        # Tuples in DOSE_COLUMNS order; on PostgreSQL `ts` returns the datetime itself (binary COPY).
        prepared = [
            (identity, product, lot, dose, series, site_key, ward, ts(at), by, recorded_at)
            for identity, product, lot, dose, series, at in rows
        ]
        # In key order: concurrent uploads that share doses lock them in the same order (no deadlock), and
        # the unique index is filled front to back instead of at random.
        prepared.sort(key=itemgetter(0))
        with self._repo.write() as conn:
            inserted = self._records.insert_doses(conn, prepared)
        return UploadReport(site.id, len(rows), inserted, len(rows) - inserted, 0, ())

    def list_doses(
        self, actor: Actor, *, ward: str | None, site_id: int | None, limit: int, offset: int
    ) -> list[DoseRecord]:
        """Doses given in the caller's wards (or one ward, or one site), newest first."""
        actor.require(VACCINATION_STAFF, "listing doses")
        wards = actor.ward_filter
        if ward is not None:
            wards = frozenset({ward}) if actor.sees(ward) else frozenset()
        return self._records.list_doses(wards=wards, site_id=site_id, limit=limit, offset=offset)

    def find_doses(self, actor: Actor, identity_number: str) -> list[DoseRecord]:
        """A person's doses given in the caller's wards (to pick the next dose number)."""
        actor.require(VACCINATION_STAFF, "looking up a person's doses")
        return self._records.list_doses(
            identity_hash=self._hash(identity_number), wards=actor.ward_filter, limit=100
        )

    def get_dose(self, actor: Actor, dose_id: int) -> DoseRecord:
        """One dose: of the caller's wards for staff, the citizen's own for a citizen (404 otherwise)."""
        dose = self._records.get_dose(dose_id)
        if actor.role is Role.CITIZEN:
            citizen = self._citizen(actor, "reading your doses")
            if dose is None or dose.identity_hash != citizen.identity_hash:
                raise NotFoundError(f"dose {dose_id} not found")
            return dose
        actor.require(VACCINATION_STAFF, "reading a dose")
        if dose is None or not actor.sees(dose.ward_id):
            raise NotFoundError(f"dose {dose_id} not found")
        return dose

    def my_doses(self, actor: Actor) -> list[DoseRecord]:
        """The calling citizen's doses, newest first."""
        citizen = self._citizen(actor, "listing your doses")
        return self._records.list_doses(identity_hash=citizen.identity_hash, limit=100)

    # --- adverse events ---

    def report_adverse_event(
        self, actor: Actor, dose_id: int, *, severity: Severity, onset_at: datetime, description: str
    ) -> AdverseEvent:
        """Report an adverse event after a dose: by a vaccinator of its ward, or by the vaccinated citizen."""
        dose = self.get_dose(actor, dose_id)
        now = self._now()
        try:
            check_administered_at(onset_at, now)
        except ValueError:
            raise UnprocessableError("onset_at needs a UTC offset and must not be in the future") from None
        if onset_at < dose.administered_at:
            raise UnprocessableError("onset_at must not be before the dose was given")
        values = {
            "dose_id": dose.id,
            "ward_id": dose.ward_id,
            "severity": severity.value,
            "onset_at": onset_at,
            "description": description,
            "reported_by": actor.username,
            "reporter_role": actor.role.value,
            "reported_at": now,
        }
        return self._records.add_adverse_event(values)

    def list_adverse_events(self, actor: Actor, dose_id: int) -> list[AdverseEvent]:
        """The adverse events reported against one dose the caller may read."""
        dose = self.get_dose(actor, dose_id)
        return self._records.list_adverse_events(dose_ids=[dose.id])

    # --- helpers ---

    def _citizen(self, actor: Actor, action: str) -> Citizen:
        actor.require({Role.CITIZEN}, action)
        citizen = self._repo.citizens.get(actor.citizen_id) if actor.citizen_id is not None else None
        if citizen is None:
            raise NotFoundError("citizen not found")
        return citizen

    def _require_hasher(self) -> IdentityHasher:
        if self._hasher is None:
            raise UnavailableError("dose records are not enabled on this hub (identity_hash_key unset)")
        return self._hasher

    def _hash(self, identity_number: str) -> str:
        return hash_identity_number(self._hasher, identity_number)
