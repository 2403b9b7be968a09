"""Who may do what: officer roles and the ward scope every service call is checked against."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from cloud.errors import ForbiddenError, NotFoundError


class Role(StrEnum):
    """An officer's role. Ward officers handle alerts; supervisors also manage orders and devices."""

    WARD_OFFICER = "ward_officer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


MANAGERS = frozenset({Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller: name, role and the wards they serve (an admin serves all)."""

    username: str
    role: Role
    wards: frozenset[str]

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
