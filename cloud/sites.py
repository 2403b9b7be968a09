"""Edge sites' online/offline status and facility rooms' last state, as the officers see them."""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from cloud.access import Actor
from cloud.errors import NotFoundError
from cloud.storage.records import RoomStatus, SiteStatusRecord
from cloud.storage.repository import Repository


@dataclass(frozen=True, slots=True)
class RoomView:
    """A facility room serving the actor's wards: its active orders and its last reading (None: none yet)."""

    site_id: str
    room_id: str
    order_ids: builtins.list[int]
    status: RoomStatus | None


class SiteService:
    """Status of the sites that serve the actor's wards' active orders (an admin: every site)."""

    def __init__(self, repository: Repository) -> None:
        self._repo = repository

    def list(self, actor: Actor) -> builtins.list[SiteStatusRecord]:
        """Statuses of the actor's sites."""
        wards = actor.ward_filter
        site_ids = None if wards is None else self._repo.orders.site_ids(wards)
        return self._repo.sites.list(site_ids)

    def get(self, actor: Actor, site_id: str) -> SiteStatusRecord:
        """One site's status (404 outside the actor's wards or when it never reported)."""
        wards = actor.ward_filter
        if wards is not None and site_id not in self._repo.orders.site_ids(wards):
            raise NotFoundError(f"site {site_id} not found")
        found = self._repo.sites.list([site_id])
        if not found:
            raise NotFoundError(f"site {site_id} not found")
        return found[0]

    def rooms(self, actor: Actor) -> builtins.list[RoomView]:
        """The facility rooms of the actor's wards' active orders, with their last readings."""
        rooms = self._repo.orders.rooms(actor.ward_filter)
        statuses = {(r.site_id, r.room_id): r for r in self._repo.rooms.list(rooms.keys())}
        return [RoomView(s, r, ids, statuses.get((s, r))) for (s, r), ids in rooms.items()]
