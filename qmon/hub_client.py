"""A small client of the hub's REST API and live alert feed, as an officer's tool or a script would use it.

The demo, the benchmarks and the end-to-end tests drive the hub only through this API, with the same
authentication and per-ward authorization as everyone else.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from httpx_sse import aconnect_sse

# An idle connection is dropped by the client before the hub's server (uvicorn: 5 s) closes it: at equal
# timeouts a request sent ~5 s after the previous one can go out on a closing connection (ReadError).
KEEPALIVE_EXPIRY_S = 2.0


class HubError(RuntimeError):
    """The hub refused a request; carries the status code and the hub's message."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class AlertChange:
    """One message of the live feed: what changed (`kind`) and the alert after the change."""

    change_id: int
    kind: str
    alert: dict[str, Any]


class HubClient:
    """Signed-in access to one hub as one account."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_S),
        )

    @classmethod
    async def sign_in(cls, base_url: str, username: str, password: str) -> HubClient:
        """Exchange a user name and password for a token (OAuth2 password flow)."""
        async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as http:
            response = await http.post(
                "/api/v1/auth/token", data={"username": username, "password": password}
            )
        _check(response)
        return cls(base_url, response.json()["access_token"])

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def __aenter__(self) -> HubClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; the decoded JSON body, or HubError."""
        response = await self._http.request(method, path, **kwargs)
        _check(response)
        return response.json() if response.content else None

    async def register_device(self, device_id: str) -> dict[str, Any]:
        """Register a bracelet."""
        result: dict[str, Any] = await self.request("POST", "/api/v1/devices", json={"device_id": device_id})
        return result

    async def create_order(
        self,
        *,
        full_name: str,
        ward_id: str,
        address: str,
        site_id: str,
        starts_at: datetime,
        ends_at: datetime,
        device_id: str | None = None,
        room_id: str | None = None,
        phone: str | None = None,
    ) -> dict[str, Any]:
        """Place a person under a quarantine order: at home, watched by a site and a bracelet (`device_id`),
        or in a facility room watched by the facility's site and the room's camera (`room_id`)."""
        body = {
            "person": {"full_name": full_name, **({"phone": phone} if phone else {})},
            "ward_id": ward_id,
            "address": address,
            "site_id": site_id,
            "device_id": device_id,
            "room_id": room_id,
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
        }
        result: dict[str, Any] = await self.request("POST", "/api/v1/orders", json=body)
        return result

    async def alerts(self, **filters: Any) -> list[dict[str, Any]]:
        """The caller's wards' alerts (filters: status, type, since, ward, limit, offset)."""
        page = await self.request("GET", "/api/v1/alerts", params={k: v for k, v in filters.items() if v})
        items: list[dict[str, Any]] = page["items"] if isinstance(page, dict) else page
        return items

    async def rooms(self) -> list[dict[str, Any]]:
        """The caller's wards' facility rooms, with their orders and last occupancy and camera state."""
        result: list[dict[str, Any]] = await self.request("GET", "/api/v1/rooms")
        return result

    async def alert(self, alert_id: int) -> dict[str, Any]:
        """One alert with its timeline."""
        result: dict[str, Any] = await self.request("GET", f"/api/v1/alerts/{alert_id}")
        return result

    async def acknowledge(self, alert_id: int, note: str | None = None) -> dict[str, Any]:
        """Acknowledge an open alert."""
        result: dict[str, Any] = await self.request(
            "POST", f"/api/v1/alerts/{alert_id}/acknowledge", json={"note": note} if note else {}
        )
        return result

    async def resolve(self, alert_id: int, note: str) -> dict[str, Any]:
        """Resolve an acknowledged alert with a note."""
        result: dict[str, Any] = await self.request(
            "POST", f"/api/v1/alerts/{alert_id}/resolve", json={"note": note}
        )
        return result

    async def follow(
        self, last_event_id: int | None = None, connected: asyncio.Event | None = None
    ) -> AsyncIterator[AlertChange]:
        """Live alert changes of the caller's wards (Server-Sent Events), from after `last_event_id`.

        `connected` is set once the hub has subscribed the stream (its first message arrived): from then on
        no change is missed.
        """
        headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
        timeout = httpx.Timeout(10.0, read=None)
        async with aconnect_sse(
            self._http, "GET", "/api/v1/alerts/stream", headers=headers, timeout=timeout
        ) as source:
            _check(source.response)
            async for event in source.aiter_sse():
                if connected is not None:
                    connected.set()
                if event.event != "alert":
                    continue
                data = json.loads(event.data)
                yield AlertChange(int(data["change_id"]), data["kind"], data["alert"])


def _check(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        detail = response.json().get("detail", response.text)
    except (ValueError, AttributeError):
        detail = response.text
    raise HubError(response.status_code, str(detail))
