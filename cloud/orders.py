"""Quarantine orders: who is quarantined where, watched by which bracelet or facility room, until when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from cloud.access import MANAGERS, Actor
from cloud.errors import ConflictError, ForbiddenError, InvalidRequestError, NotFoundError
from cloud.storage.records import Order
from cloud.storage.repository import Repository
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock

ACTIVE, ENDED, PENDING = "active", "ended", "pending"


@dataclass(frozen=True, slots=True)
class NewOrder:
    """What an officer enters to place someone in quarantine: at home with a bracelet (`device_id`), or
    in a camera-watched room of an isolation facility (`room_id`; `site_id` is then the facility's box)."""

    full_name: str
    phone: str | None
    ward_id: str
    address: str
    site_id: str
    device_id: str | None
    starts_at: datetime
    ends_at: datetime
    room_id: str | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a pending order is monitored once it starts: a bracelet at home or a facility room, the edge
    site watching it, and the address (when tracing could not confirm it)."""

    site_id: str
    device_id: str | None = None
    room_id: str | None = None
    address: str | None = None


class OrderService:
    """Creating, reading, extending and ending orders within the actor's wards."""

    def __init__(self, repository: Repository, clock: Clock) -> None:
        self._repo = repository
        self._clock = clock

    def create(self, actor: Actor, new: NewOrder) -> Order:
        """Open an active order; a bracelet must be registered and free, a room may hold several orders."""
        actor.require(MANAGERS, "creating an order")
        if not actor.sees(new.ward_id):
            raise ForbiddenError(f"you do not serve ward {new.ward_id}")
        if new.ends_at <= new.starts_at:
            raise InvalidRequestError("ends_at must be after starts_at")
        if (new.device_id is None) == (new.room_id is None):
            raise InvalidRequestError("give exactly one of device_id (home) or room_id (facility)")
        now = self._now()
        try:
            with self._repo.write() as conn:
                if new.device_id is not None:
                    self._check_device_free(new.device_id, conn)
                order = self._repo.orders.create(
                    full_name=new.full_name,
                    phone=new.phone,
                    ward_id=new.ward_id,
                    address=new.address,
                    site_id=new.site_id,
                    device_id=new.device_id,
                    room_id=new.room_id,
                    starts_at=new.starts_at,
                    ends_at=new.ends_at,
                    created_by=actor.username,
                    now=now,
                    conn=conn,
                )
        except IntegrityError:  # a concurrent order took the device between the check and the insert
            raise ConflictError(f"device {new.device_id} already serves an active order") from None
        self._repo.orders.notify_changed(order.subject)
        return order

    def _check_device_free(self, device_id: str, conn: Connection) -> None:
        if self._repo.devices.get(device_id, conn=conn) is None:
            raise InvalidRequestError(f"device {device_id} is not registered; register it first")
        if self._repo.orders.list(wards=None, status=ACTIVE, device_id=device_id, limit=1, conn=conn):
            raise ConflictError(f"device {device_id} already serves an active order")

    def get(self, actor: Actor, order_id: int) -> Order:
        """One order of the actor's wards."""
        order = self._repo.orders.get(order_id)
        if order is None or not actor.sees(order.ward_id):
            raise NotFoundError(f"order {order_id} not found")
        return order

    def list(
        self,
        actor: Actor,
        *,
        ward: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Order]:
        """Orders of the actor's wards (or of one of them), newest first."""
        wards = actor.ward_filter
        if ward is not None:
            wards = frozenset({ward}) if actor.sees(ward) else frozenset()
        return self._repo.orders.list(wards=wards, status=status, limit=limit, offset=offset)

    def update(
        self, actor: Actor, order_id: int, *, ends_at: datetime | None = None, end: bool = False
    ) -> Order:
        """Extend or shorten an active or pending order (`ends_at`), or end it now (`end`)."""
        actor.require(MANAGERS, "changing an order")
        now = self._now()
        with self._repo.write() as conn:
            order = self._repo.orders.get(order_id, conn=conn, lock=True)
            if order is None or not actor.sees(order.ward_id):
                raise NotFoundError(f"order {order_id} not found")
            if order.status not in (ACTIVE, PENDING):
                raise ConflictError(f"order {order_id} has ended and cannot change")
            new_end = ends_at if ends_at is not None else order.ends_at
            if end:
                new_end = min(new_end, now)
                if order.status == PENDING:
                    # Never monitored (a traced contact cleared before being fitted): an empty window.
                    new_end = max(new_end, order.starts_at)
            if new_end <= order.starts_at and not (end and order.status == PENDING):
                raise InvalidRequestError("ends_at must be after the order's starts_at")
            updated = self._repo.orders.update(
                order_id, now=now, ends_at=new_end, status=ENDED if end else None, conn=conn
            )
        assert updated is not None
        if updated.device_id is not None or updated.room_id is not None:  # a pending one was never watched
            self._repo.orders.notify_changed(updated.subject)
        return updated

    def activate(self, actor: Actor, order_id: int, placement: Placement) -> Order:
        """Start monitoring a pending order (one tracing made): its bracelet (registered and free) or its
        facility room, the site that watches it, and the address once it is confirmed."""
        actor.require(MANAGERS, "activating an order")
        if (placement.device_id is None) == (placement.room_id is None):
            raise InvalidRequestError("give exactly one of device_id (home) or room_id (facility)")
        now = self._now()
        try:
            with self._repo.write() as conn:
                order = self._repo.orders.get(order_id, conn=conn, lock=True)
                if order is None or not actor.sees(order.ward_id):
                    raise NotFoundError(f"order {order_id} not found")
                if order.status != PENDING:
                    raise ConflictError(f"order {order_id} is {order.status}, not pending")
                if order.ends_at <= now:
                    raise ConflictError(
                        f"order {order_id} ended on {order.ends_at:%Y-%m-%d}; place a new one"
                    )
                if placement.device_id is not None:
                    self._check_device_free(placement.device_id, conn)
                updated = self._repo.orders.activate(
                    order_id,
                    site_id=placement.site_id,
                    device_id=placement.device_id,
                    room_id=placement.room_id,
                    address=placement.address,
                    now=now,
                    conn=conn,
                )
        except IntegrityError:  # a concurrent order took the device between the check and the update
            raise ConflictError(f"device {placement.device_id} already serves an active order") from None
        assert updated is not None
        self._repo.orders.notify_changed(updated.subject)
        return updated

    def _now(self) -> datetime:
        return utc_from_timestamp(self._clock.now())
