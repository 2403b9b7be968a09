"""Venues and road checkpoints: registration and signed QR codes by venue staff, citizens' check-ins by QR
code, and checkpoint crossings (entry/exit control data) recorded by checkpoint staff.

People are recorded by the keyed hash of their identity number (cloud/identity.py), never the number. A
check-in without a check-out counts as a stay of DEFAULT_DWELL; a crossing as CHECKPOINT_DWELL at the
checkpoint (queueing, the check itself). No stay counts for more than MAX_STAY, which bounds tracing's
index range scans (cloud/tracing.py).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cloud.access import Actor, Role
from cloud.errors import ConflictError, ForbiddenError, NotFoundError, UnavailableError, UnprocessableError
from cloud.identity import IdentityHasher, hash_identity_number
from cloud.qrcodes import (
    QrCodeError,
    QrSigner,
    QrVerifier,
    load_private_key,
    load_public_key,
    public_key_pem,
)
from cloud.storage.repository import Repository
from cloud.storage.venues import Checkin, Crossing, Venue
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock

DEFAULT_DWELL = timedelta(hours=1)
CHECKPOINT_DWELL = timedelta(minutes=15)
MAX_STAY = timedelta(hours=12)
RESCAN_WINDOW = timedelta(minutes=10)  # scanning the same venue again within this returns the same check-in
CROSSING_BACKDATE = timedelta(hours=24)  # a checkpoint that was offline may record crossings this late
CLOCK_SKEW = timedelta(minutes=2)

# Who manages venues and reads their records: venue and checkpoint staff of the ward, and admins.
VENUE_ROLES = frozenset({Role.VENUE_STAFF, Role.ADMIN})


class VenueKind(StrEnum):
    """A venue where citizens check in, or a road checkpoint whose staff record crossings."""

    VENUE = "venue"
    CHECKPOINT = "checkpoint"


@dataclass(frozen=True, slots=True)
class NewVenue:
    """What staff enter to register a venue or checkpoint."""

    kind: VenueKind
    name: str
    ward_id: str
    address: str


@dataclass(frozen=True, slots=True)
class VenueQr:
    """A venue's signed QR text and the key id that signed it."""

    venue: Venue
    text: str
    kid: str


@dataclass(frozen=True, slots=True)
class PublishedKey:
    """A public key that verifies venue QR codes; `current` signs new codes."""

    kid: str
    pem: str
    current: bool


@dataclass(frozen=True, slots=True)
class NewCrossing:
    """A crossing as checkpoint staff record it (the identity number is hashed, then forgotten)."""

    direction: str
    status_shown: str
    crossed_at: datetime | None = None
    identity_number: str | None = None  # typed in by the staff ...
    identity_hash: str | None = None  # ... or known from the holder of a scanned health QR code


def checked_out_until(checked_in_at: datetime, checked_out_at: datetime) -> datetime:
    """The end of a stay that was checked out (pure): the check-out, but at most MAX_STAY after check-in."""
    return min(checked_out_at, checked_in_at + MAX_STAY)


def check_crossing_time(crossed_at: datetime, now: datetime) -> None:
    """UnprocessableError unless a crossing's time is recent and not in the future (pure)."""
    if crossed_at > now + CLOCK_SKEW:
        raise UnprocessableError("crossed_at must not be in the future")
    if crossed_at < now - CROSSING_BACKDATE:
        raise UnprocessableError(
            f"crossed_at must be within the last {CROSSING_BACKDATE.total_seconds():.0f} s"
        )


class VenueService:
    """Venues, their QR codes, check-ins and crossings; role, ward and ownership checked on every call."""

    def __init__(
        self,
        repository: Repository,
        clock: Clock,
        hasher: IdentityHasher | None,
        signer: QrSigner | None,
        verifier: QrVerifier | None,
    ) -> None:
        self._repo = repository
        self._clock = clock
        self._hasher = hasher
        self._signer = signer
        self._verifier = verifier

    # --- venues and their QR codes (venue staff) ---

    def register(self, actor: Actor, new: NewVenue) -> Venue:
        """Register a venue or checkpoint in one of the staff member's wards."""
        actor.require(VENUE_ROLES, "registering a venue")
        if not actor.sees(new.ward_id):
            raise ForbiddenError(f"you do not serve ward {new.ward_id}")
        return self._repo.venues.add(
            kind=new.kind.value,
            name=new.name,
            ward_id=new.ward_id,
            address=new.address,
            created_by=actor.username,
            now=self._now(),
        )

    def get(self, actor: Actor, venue_id: int) -> Venue:
        """One venue of the staff member's wards (404 for another ward's)."""
        actor.require(VENUE_ROLES, "reading a venue")
        venue = self._repo.venues.get(venue_id)
        if venue is None:
            raise NotFoundError(f"venue {venue_id} not found")
        actor.check_ward(venue.ward_id, f"venue {venue_id}")
        return venue

    def list(
        self,
        actor: Actor,
        *,
        ward: str | None = None,
        kind: VenueKind | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Venue]:
        """Venues of the staff member's wards (or one of them)."""
        actor.require(VENUE_ROLES, "listing venues")
        wards = actor.ward_filter
        if ward is not None:
            wards = frozenset({ward}) if actor.sees(ward) else frozenset()
        return self._repo.venues.list(
            wards=wards, kind=kind.value if kind else None, limit=limit, offset=offset
        )

    def qr(self, actor: Actor, venue_id: int) -> VenueQr:
        """The venue's QR text, signed now with the hub's current key."""
        venue = self.get(actor, venue_id)
        signer = self._require_signer()
        issued_at = int(self._clock.now())
        text = signer.sign(venue.id, VenueKind(venue.kind).value, venue.ward_id, issued_at)
        return VenueQr(venue, text, signer.kid)

    def public_keys(self) -> builtins.list[PublishedKey]:
        """Every key that verifies venue QR codes (the current one first); public, for offline verifiers."""
        if self._verifier is None:
            return []
        current = self._signer.kid if self._signer is not None else None
        keys = [
            PublishedKey(kid, public_key_pem(key), kid == current) for kid, key in self._verifier.keys.items()
        ]
        return sorted(keys, key=lambda k: (not k.current, k.kid))

    # --- check-ins (citizens) ---

    def check_in(self, actor: Actor, qr_text: str) -> tuple[Checkin, Venue]:
        """Check the calling citizen in at a scanned QR code's venue (422: a forged or altered code)."""
        actor.require({Role.CITIZEN}, "checking in")
        if self._verifier is None:
            raise UnavailableError("venue QR codes are not enabled on this hub (venue_qr_key_file unset)")
        try:
            code = self._verifier.verify(qr_text)
        except QrCodeError as exc:
            raise UnprocessableError(f"QR code refused: {exc}") from None
        venue = self._repo.venues.get(code.venue_id)
        if venue is None or venue.ward_id != code.ward_id or venue.kind != code.kind:
            raise UnprocessableError("QR code refused: it names no venue of this hub")
        if code.kind != VenueKind.VENUE.value:
            raise UnprocessableError("a checkpoint's code is for its staff; citizens do not check in there")
        identity_hash = self._own_identity_hash(actor)
        now = self._now()
        with self._repo.write() as conn:
            # A second scan of the same code (a retry, a double tap) returns the open check-in.
            for recent in self._repo.venues.list_checkins(identity_hash=identity_hash, limit=1, conn=conn):
                if (
                    recent.venue_id == venue.id
                    and recent.checked_out_at is None
                    and now - recent.checked_in_at < RESCAN_WINDOW
                ):
                    return recent, venue
            checkin = self._repo.venues.add_checkin(
                venue_id=venue.id,
                identity_hash=identity_hash,
                checked_in_at=now,
                present_until=now + DEFAULT_DWELL,
                conn=conn,
            )
        return checkin, venue

    def check_out(self, actor: Actor, checkin_id: int) -> tuple[Checkin, Venue]:
        """Record that the calling citizen left (409 if they already checked out)."""
        actor.require({Role.CITIZEN}, "checking out")
        identity_hash = self._own_identity_hash(actor)
        checkin = self._repo.venues.get_checkin(checkin_id)
        if checkin is None or checkin.identity_hash != identity_hash:
            raise NotFoundError(f"check-in {checkin_id} not found")
        now = max(self._now(), checkin.checked_in_at)
        updated = self._repo.venues.check_out(
            checkin_id, checked_out_at=now, present_until=checked_out_until(checkin.checked_in_at, now)
        )
        if updated is None:
            raise ConflictError(f"check-in {checkin_id} is already checked out")
        venue = self._repo.venues.get(updated.venue_id)
        assert venue is not None
        return updated, venue

    def list_own_checkins(
        self, actor: Actor, *, limit: int = 50, offset: int = 0
    ) -> builtins.list[tuple[Checkin, Venue]]:
        """The calling citizen's check-ins, newest first, with their venues."""
        actor.require({Role.CITIZEN}, "listing your check-ins")
        found = self._repo.venues.list_checkins(
            identity_hash=self._own_identity_hash(actor), limit=limit, offset=offset
        )
        venues = self._repo.venues.get_many({c.venue_id for c in found})
        return [(c, venues[c.venue_id]) for c in found]

    def list_venue_checkins(
        self, actor: Actor, venue_id: int, *, limit: int = 50, offset: int = 0
    ) -> builtins.list[Checkin]:
        """Check-ins at a venue of the staff member's wards, newest first."""
        venue = self.get(actor, venue_id)
        return self._repo.venues.list_checkins(venue_id=venue.id, limit=limit, offset=offset)

    # --- crossings (checkpoint staff) ---

    def record_crossing(self, actor: Actor, venue_id: int, new: NewCrossing) -> Crossing:
        """Record a person crossing a checkpoint of the staff member's wards."""
        venue = self.get(actor, venue_id)
        if venue.kind != VenueKind.CHECKPOINT:
            raise UnprocessableError(f"venue {venue_id} is not a checkpoint; citizens check in there")
        now = self._now()
        crossed_at = new.crossed_at or now
        check_crossing_time(crossed_at, now)
        if new.identity_hash is not None:
            identity_hash = new.identity_hash
        elif new.identity_number is not None:
            identity_hash = self._hash(new.identity_number)
        else:
            raise UnprocessableError("a crossing needs the person: an identity number or a health QR code")
        return self._repo.venues.add_crossing(
            venue_id=venue.id,
            identity_hash=identity_hash,
            direction=new.direction,
            crossed_at=crossed_at,
            present_until=crossed_at + CHECKPOINT_DWELL,
            status_shown=new.status_shown,
            recorded_by=actor.username,
        )

    def list_crossings(
        self, actor: Actor, venue_id: int, *, limit: int = 50, offset: int = 0
    ) -> builtins.list[Crossing]:
        """Crossings at a checkpoint of the staff member's wards, newest first."""
        venue = self.get(actor, venue_id)
        return self._repo.venues.list_crossings(venue_id=venue.id, limit=limit, offset=offset)

    # --- helpers ---

    def _own_identity_hash(self, actor: Actor) -> str:
        citizen = self._repo.citizens.get(actor.citizen_id) if actor.citizen_id is not None else None
        if citizen is None:
            raise NotFoundError("citizen not found")
        return citizen.identity_hash

    def _hash(self, identity_number: str) -> str:
        return hash_identity_number(self._hasher, identity_number)

    def _require_signer(self) -> QrSigner:
        if self._signer is None:
            raise UnavailableError("venue QR codes are not enabled on this hub (venue_qr_key_file unset)")
        return self._signer

    def _now(self) -> datetime:
        return utc_from_timestamp(self._clock.now())


def load_qr_keys(
    private_pem: bytes | None, retired_public_pems: list[bytes]
) -> tuple[QrSigner | None, QrVerifier | None]:
    """The signer of the current key and a verifier of it and the retired ones (pure: bytes in)."""
    signer = QrSigner(load_private_key(private_pem)) if private_pem is not None else None
    public = [load_public_key(pem) for pem in retired_public_pems]
    if signer is not None:
        public.insert(0, signer.public_key)
    if not public:
        return None, None
    return signer, QrVerifier(public)
