"""The bracelet registry and each ward's device overview."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from cloud.access import MANAGERS, Actor, Role
from cloud.errors import ConflictError, NotFoundError
from cloud.storage.records import Device
from cloud.storage.repository import Repository
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock

DEVICE_KINDS = ("bracelet",)


class DeviceService:
    """Registering bracelets and showing officers the devices of their wards."""

    def __init__(self, repository: Repository, clock: Clock) -> None:
        self._repo = repository
        self._clock = clock

    def register(self, actor: Actor, device_id: str, kind: str = "bracelet") -> Device:
        """Add a bracelet to the registry (409 if it is there already)."""
        actor.require(MANAGERS, "registering a device")
        try:
            return self._repo.devices.register(device_id, kind, utc_from_timestamp(self._clock.now()))
        except IntegrityError:
            raise ConflictError(f"device {device_id} is already registered") from None

    def get(self, actor: Actor, device_id: str) -> Device:
        """One device: visible if it serves an order of the actor's wards; unassigned ones to managers."""
        device = self._repo.devices.get(device_id)
        if device is None or not self._visible(actor, device):
            raise NotFoundError(f"device {device_id} not found")
        return device

    def overview(
        self, actor: Actor, *, ward: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Device]:
        """Devices serving active orders of the actor's wards (an admin without `ward` sees every device)."""
        wards = actor.ward_filter
        if ward is not None:
            wards = frozenset({ward}) if actor.sees(ward) else frozenset()
        return self._repo.devices.overview(wards=wards, limit=limit, offset=offset)

    @staticmethod
    def _visible(actor: Actor, device: Device) -> bool:
        if actor.role is Role.ADMIN:
            return True
        if device.ward_id is None:
            return actor.role in MANAGERS
        return actor.sees(device.ward_id)
