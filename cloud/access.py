"""Who may do what: roles, the ward scope staff are checked against, and a citizen's own records."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from cloud.errors import ForbiddenError, NotFoundError


class Role(StrEnum):
    """A caller's role.

    Ward officers handle alerts and read their wards' declarations; supervisors also manage orders and
    devices; admins serve every ward. Venue staff (venues and checkpoints), lab, tracing and vaccinator
    staff are ward-scoped like officers. A citizen is bound to one person record and serves no ward.
    """

    WARD_OFFICER = "ward_officer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    VENUE_STAFF = "venue_staff"
    LAB = "lab"
    TRACING = "tracing"
    VACCINATOR = "vaccinator"
    CITIZEN = "citizen"


MANAGERS = frozenset({Role.SUPERVISOR, Role.ADMIN})
# The quarantine monitoring roles: alerts, orders, devices, sites, snapshots, declarations of their wards.
OFFICERS = frozenset({Role.WARD_OFFICER, *MANAGERS})
# Every account the hub creates for an authority (not a citizen): ward-scoped, except an admin.
STAFF = frozenset(Role) - {Role.CITIZEN}


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller: name, role and the wards they serve (an admin serves all); a citizen
    serves no ward and carries the id of their own citizen record instead."""

    username: str
    role: Role
    wards: frozenset[str]
    citizen_id: int | None = None

    @property
    def ward_filter(self) -> frozenset[str] | None:
        """The wards to restrict queries to; None for an admin (every ward)."""
        return None if self.role is Role.ADMIN else self.wards

    def sees(self, ward_id: str) -> bool:
        """True if this actor may see objects of `ward_id`."""
        return self.role is Role.ADMIN or ward_id in self.wards

    def check_ward(self, ward_id: str, what: str) -> None:
        """Raise NotFoundError (not 403: another ward's objects are not even acknowledged) if out of scope."""
        if not self.sees(ward_id):
            raise NotFoundError(f"{what} not found")

    def require(self, roles: Collection[Role], action: str) -> None:
        """Raise ForbiddenError unless the actor has one of `roles`."""
        if self.role not in roles:
            allowed = ", ".join(sorted(r.value for r in roles))
            raise ForbiddenError(f"{action} needs one of the roles: {allowed}")
