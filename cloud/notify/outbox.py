"""The notifications outbox as staff see it: pages of rows with their targets safe to show, and retrying a
row that failed (administrators)."""

from __future__ import annotations

import builtins
import logging
from dataclasses import replace
from urllib.parse import urlsplit

from cloud.access import Actor
from cloud.errors import ConflictError, NotFoundError
from cloud.storage.escalations import StoredNotification
from cloud.storage.repository import Repository
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock

log = logging.getLogger(__name__)

# Path segments this long are taken for tokens (chat webhooks carry their secret in the path) and hidden.
TOKEN_SEGMENT_MIN = 16
HIDDEN = "***"


def display_target(channel: str, target: str) -> str:
    """A target fit to show: a webhook URL without credentials, query, fragment or token-like path segments;
    e-mail recipients as they are."""
    if channel != "webhook":
        return target
    try:
        parts = urlsplit(target)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return HIDDEN
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    segments = [HIDDEN if len(s) >= TOKEN_SEGMENT_MIN else s for s in parts.path.split("/")]
    return f"{parts.scheme}://{netloc}{'/'.join(segments)}"


def displayed(row: StoredNotification) -> StoredNotification:
    """The row with its target (and the target wherever the last error quotes it) made safe to show."""
    target = display_target(row.channel, row.target)
    error = row.last_error.replace(row.target, target) if row.last_error and row.target else row.last_error
    return replace(row, target=target, last_error=error)


class Outbox:
    """Reading the outbox by ward, and sending failed notifications again."""

    def __init__(self, repository: Repository, clock: Clock) -> None:
        self._repo = repository
        self._clock = clock

    def list(
        self,
        actor: Actor,
        *,
        status: str | None = None,
        ward: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[StoredNotification]:
        """Notifications of the actor's wards (or of one of them), newest first, targets made safe."""
        wards = actor.ward_filter
        if ward is not None:
            wards = frozenset({ward}) if actor.sees(ward) else frozenset()
        rows = self._repo.notifications.page(wards=wards, status=status, limit=limit, offset=offset)
        return [displayed(row) for row in rows]

    def retry(self, actor: Actor, notification_id: int) -> StoredNotification:
        """failed -> pending, with no attempt counted and due now (ConflictError for any other status)."""
        now = utc_from_timestamp(self._clock.now())
        records = self._repo.notifications
        with self._repo.write() as conn:
            row = records.get(notification_id, conn=conn)
            if row is None or not actor.sees(row.ward_id):
                raise NotFoundError("notification not found")
            if row.status != "failed":
                raise ConflictError(f"notification {notification_id} is {row.status}, not failed")
            records.requeue(conn, notification_id, now)
        log.info("notifications: #%d (%s) queued again by %s", notification_id, row.channel, actor.username)
        again = records.get(notification_id)
        assert again is not None  # outbox rows are never deleted
        return displayed(again)
