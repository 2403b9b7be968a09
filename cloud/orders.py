"""Quarantine orders: who is quarantined where, watched by which bracelet or facility room, until when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from cloud.access import MANAGERS, Actor
from cloud.errors import ConflictError, ForbiddenError, InvalidRequestError, NotFoundError
from cloud.identity import IdentityHasher, hash_identity_number
from cloud.release import (
    Release,
    ReleasePolicy,
    ReleaseReason,
    ReleaseSample,
    check_release_request,
    check_release_sample,
)
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
    identity_number: str | None = None  # kept only as its keyed hash: lets lab results release the person


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

    def __init__(
        self,
        repository: Repository,
        clock: Clock,
        hasher: IdentityHasher | None = None,
        release_policy: ReleasePolicy | None = None,
    ) -> None:
        self._repo = repository
        self._clock = clock
        self._hasher = hasher
        self._policy = release_policy or ReleasePolicy()

    def create(self, actor: Actor, new: NewOrder) -> Order:
        """Open an active order; a bracelet must be registered and free, a room may hold several orders.

        With an identity number, the person already on record under it (tracing's or an earlier order's)
        is taken as recorded; they must not have a pending or active order."""
        actor.require(MANAGERS, "creating an order")
        if not actor.sees(new.ward_id):
            raise ForbiddenError(f"you do not serve ward {new.ward_id}")
        if new.ends_at <= new.starts_at:
            raise InvalidRequestError("ends_at must be after starts_at")
        if (new.device_id is None) == (new.room_id is None):
            raise InvalidRequestError("give exactly one of device_id (home) or room_id (facility)")
        identity_hash = None
        if new.identity_number is not None:
            identity_hash = hash_identity_number(self._hasher, new.identity_number)
        now = self._now()
        try:
            with self._repo.write() as conn:
                if identity_hash is not None:
                    self._check_no_open_order(identity_hash, actor, conn)
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
                    identity_hash=identity_hash,
                    conn=conn,
                )
        except IntegrityError:  # a concurrent order took the device or the person after the checks
            raise ConflictError(
                f"device {new.device_id} already serves an active order, or the person has an open one"
            ) from None
        self._repo.orders.notify_changed(order.subject)
        return order

    def _check_no_open_order(self, identity_hash: str, actor: Actor, conn: Connection) -> None:
        existing = self._repo.orders.open_order_of(identity_hash, conn=conn)
        if existing is None:
            return
        if actor.sees(existing.ward_id):
            raise ConflictError(
                f"this person already has {existing.status} order {existing.id}: change that order instead"
            )
        raise ConflictError("this person already has a pending or active order in another ward")

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

    def update(self, actor: Actor, order_id: int, *, ends_at: datetime) -> Order:
        """Extend or shorten an active or pending order."""
        actor.require(MANAGERS, "changing an order")
        now = self._now()
        with self._repo.write() as conn:
            order = self._open_order(actor, order_id, conn)
            if ends_at <= order.starts_at:
                raise InvalidRequestError("ends_at must be after the order's starts_at")
            updated = self._repo.orders.update(order_id, now=now, ends_at=ends_at, conn=conn)
        assert updated is not None
        self._notify(updated)
        return updated

    def end(self, actor: Actor, order_id: int, release: Release) -> Order:
        """End an active or pending order now, for a reason the release policy accepts (cloud/release.py):
        a negative sample of the person, or a reason without a test and a note."""
        actor.require(MANAGERS, "ending an order")
        now = self._now()
        with self._repo.write() as conn:
            order = self._open_order(actor, order_id, conn)
            check_release_request(release, order.status, self._policy)
            if release.reason == ReleaseReason.NEGATIVE_TEST:
                assert release.sample_id is not None
                check_release_sample(
                    self._release_sample(release.sample_id, order.person.identity_hash, conn),
                    sample_id=release.sample_id,
                    person_identified=order.person.identified,
                    order_starts_at=order.starts_at,
                    policy=self._policy,
                    now=now,
                )
            # One that has not started (or a pending one, never monitored) keeps an empty window.
            new_end = max(min(order.ends_at, now), order.starts_at)
            note = release.note.strip() if release.note and release.note.strip() else None
            updated = self._repo.orders.end(
                order_id,
                now=now,
                ends_at=new_end,
                ended_by=actor.username,
                reason=release.reason.value,
                sample_id=release.sample_id,
                note=note,
                conn=conn,
            )
        assert updated is not None
        self._notify(updated)
        return updated

    def _open_order(self, actor: Actor, order_id: int, conn: Connection) -> Order:
        order = self._repo.orders.get(order_id, conn=conn, lock=True)
        if order is None or not actor.sees(order.ward_id):
            raise NotFoundError(f"order {order_id} not found")
        if order.status not in (ACTIVE, PENDING):
            raise ConflictError(f"order {order_id} has ended and cannot change")
        return order

    def _release_sample(
        self, sample_id: int, identity_hash: str | None, conn: Connection
    ) -> ReleaseSample | None:
        sample = self._repo.labs.get_sample(sample_id, conn=conn)
        if sample is None or identity_hash is None:
            return None
        if sample.pooled:
            of_person = identity_hash in self._repo.labs.members(sample_id, conn=conn)
        else:
            of_person = sample.identity_hash == identity_hash
        return ReleaseSample(
            sample.id, sample.kind, sample.status, sample.collected_at, sample.pooled, of_person
        )

    def _notify(self, order: Order) -> None:
        if order.device_id is not None or order.room_id is not None:  # a pending one was never watched
            self._repo.orders.notify_changed(order.subject)

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
