"""Citizens: self-registration, their own record, and staff finding one by identity number.

A citizen logs in with a handle the hub gives at registration (`c-` and 8 letters or digits), not with
the phone (optional, and often shared by a family) nor the identity number (which would then travel in
every login form and sit in the token's subject).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from sqlalchemy.exc import IntegrityError

from cloud.access import STAFF, Actor, Role
from cloud.auth import CITIZEN_HANDLE_PATTERN, Passwords
from cloud.errors import ConflictError, NotFoundError, UnavailableError, UnprocessableError
from cloud.identity import IdentityHasher, hash_identity_number
from cloud.storage.records import Citizen
from cloud.storage.repository import Repository
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock

HANDLE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read out over the phone
HANDLE_ATTEMPTS = 5
OLDEST_BIRTH_YEAR = 1900


@dataclass(frozen=True, slots=True)
class NewCitizen:
    """What a citizen enters to register (the identity number is hashed, then forgotten)."""

    identity_number: str
    full_name: str
    birth_date: date
    ward_id: str
    password: str
    phone: str | None = None
    address: str | None = None


def make_handle() -> str:
    """A random login handle, `c-` and 8 characters of HANDLE_ALPHABET."""
    handle = "c-" + "".join(secrets.choice(HANDLE_ALPHABET) for _ in range(8))
    assert CITIZEN_HANDLE_PATTERN.match(handle)
    return handle


class CitizenService:
    """Registering citizens, reading a citizen's own record, and staff look-ups by identity number."""

    def __init__(
        self, repository: Repository, passwords: Passwords, clock: Clock, hasher: IdentityHasher | None
    ) -> None:
        self._repo = repository
        self._passwords = passwords
        self._clock = clock
        self._hasher = hasher

    def register(self, new: NewCitizen) -> Citizen:
        """Create a citizen account (ConflictError if one exists for this identity number)."""
        hasher = self._require_hasher()
        today = utc_from_timestamp(self._clock.now()).date()
        if not date(OLDEST_BIRTH_YEAR, 1, 1) <= new.birth_date <= today:
            raise UnprocessableError(f"birth_date must be between {OLDEST_BIRTH_YEAR}-01-01 and today")
        identity_hash = self._hash(hasher, new.identity_number)
        if self._repo.citizens.by_identity_hash(identity_hash) is not None:
            raise ConflictError("an account already exists for this identity number")
        password_hash = self._passwords.hash(new.password)
        now = utc_from_timestamp(self._clock.now())
        for _ in range(HANDLE_ATTEMPTS):
            handle = make_handle()
            if self._repo.citizens.by_handle(handle) or self._repo.officers.get(handle):
                continue
            try:
                return self._repo.citizens.add(
                    handle=handle,
                    identity_hash=identity_hash,
                    password_hash=password_hash,
                    full_name=new.full_name,
                    birth_date=new.birth_date,
                    phone=new.phone,
                    ward_id=new.ward_id,
                    address=new.address,
                    now=now,
                )
            except IntegrityError:  # a concurrent registration of the same number (or, rarely, handle)
                if self._repo.citizens.by_identity_hash(identity_hash) is not None:
                    raise ConflictError("an account already exists for this identity number") from None
        raise UnavailableError("could not allocate a handle; try again")

    def me(self, actor: Actor) -> Citizen:
        """The calling citizen's own record."""
        actor.require({Role.CITIZEN}, "reading your citizen record")
        citizen = self._repo.citizens.get(actor.citizen_id) if actor.citizen_id is not None else None
        if citizen is None:
            raise NotFoundError("citizen not found")
        return citizen

    def find(self, actor: Actor, identity_number: str) -> Citizen:
        """The citizen with this identity number, if they live in one of the staff member's wards."""
        actor.require(STAFF, "finding a citizen")
        identity_hash = self._hash(self._require_hasher(), identity_number)
        citizen = self._repo.citizens.by_identity_hash(identity_hash)
        if citizen is None or not actor.sees(citizen.ward_id):
            raise NotFoundError("no citizen with this identity number in your wards")
        return citizen

    def _require_hasher(self) -> IdentityHasher:
        if self._hasher is None:
            raise UnavailableError("citizen accounts are not enabled on this hub (identity_hash_key unset)")
        return self._hasher

    @staticmethod
    def _hash(hasher: IdentityHasher, identity_number: str) -> str:
        return hash_identity_number(hasher, identity_number)
