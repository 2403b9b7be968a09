"""The `Notifier` port: one delivery channel (webhook, e-mail), and what one attempt yields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Notification:
    """A notification taken from the outbox for one delivery attempt."""

    id: int
    alert_id: int
    ward_id: str
    channel: str
    target: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of one attempt: delivered, or an error that is retried unless `permanent`."""

    ok: bool
    permanent: bool = False
    error: str | None = None


DELIVERED = Delivery(True)


class Notifier(Protocol):
    """Delivers notifications of one channel."""

    channel: str

    async def deliver(self, notification: Notification) -> Delivery:
        """Try once; never raises for delivery failures (they are the Delivery's error)."""
        ...
