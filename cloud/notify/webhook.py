"""Webhook notifications: a signed JSON POST per notification to the ward's gateway, with httpx."""

from __future__ import annotations

import json

import httpx

from cloud.notify.notifier import DELIVERED, Delivery, Notification
from cloud.notify.settings import ANY_WARD, WebhookTarget
from cloud.notify.signing import DELIVERY_HEADER, signature_headers
from qmon.clock import Clock

# Answers that are worth another try; any other 4xx (and 3xx: redirects are not followed) is final.
RETRY_STATUSES = frozenset({408, 425, 429})


def encode_body(payload: dict[str, object]) -> bytes:
    """The exact body bytes that are sent and signed: compact JSON, sorted keys, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


class WebhookNotifier:
    """POSTs each notification to its target URL, signed with the key of the alert's ward."""

    channel = "webhook"

    def __init__(
        self,
        webhooks: dict[str, WebhookTarget],
        clock: Clock,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._keys = {ward: target.key() for ward, target in webhooks.items()}
        self._clock = clock
        self._client = client or httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self._own_client = client is None

    async def deliver(self, notification: Notification) -> Delivery:
        """POST once: 2xx delivered; 408/425/429, 5xx, timeouts, connection errors retried; else final."""
        key = self._keys.get(notification.ward_id) or self._keys.get(ANY_WARD)
        if key is None:
            return Delivery(False, permanent=True, error=f"no webhook configured for {notification.ward_id}")
        body = encode_body(notification.payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "qmon-hub",
            DELIVERY_HEADER: str(notification.id),
            **signature_headers(key, int(self._clock.now()), body),
        }
        try:
            response = await self._client.post(notification.target, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return Delivery(False, error=f"timeout: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return Delivery(False, error=f"{type(exc).__name__}: {exc}"[:500])
        status = response.status_code
        if 200 <= status < 300:
            return DELIVERED
        error = f"HTTP {status}: {response.text[:200]}"
        retry = status >= 500 or status in RETRY_STATUSES
        return Delivery(False, permanent=not retry, error=error)

    async def aclose(self) -> None:
        """Close the HTTP client (if this notifier made it)."""
        if self._own_client:
            await self._client.aclose()
