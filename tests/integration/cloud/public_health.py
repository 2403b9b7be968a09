"""Shared builders of the public-health API tests (venues, labs, tracing): keys, accounts, an HTTP helper."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cloud.access import Role
from cloud.storage.repository import Repository
from qmon.clock import ManualClock
from tests.integration.cloud.support import PASSWORD, LoggedIn, hub_http, seed_officer

IDENTITY_KEY = "a-public-health-test-identity-key-long-enough"


def write_qr_key(directory: Path, name: str = "venue-qr.pem") -> tuple[Path, ec.EllipticCurvePrivateKey]:
    """A fresh P-256 private key in a PEM file (generated per test: no key lives in the repository)."""
    key = ec.generate_private_key(ec.SECP256R1())
    path = directory / name
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path, key


def write_public_key(directory: Path, key: ec.EllipticCurvePrivateKey, name: str) -> Path:
    """The public half of `key` in a PEM file."""
    path = directory / name
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


STAFF: tuple[tuple[str, Role, list[str]], ...] = (
    ("admin", Role.ADMIN, []),
    ("venue-a", Role.VENUE_STAFF, ["ward-a"]),
    ("venue-b", Role.VENUE_STAFF, ["ward-b"]),
    ("lab-a", Role.LAB, ["ward-a"]),
    ("lab-b", Role.LAB, ["ward-b"]),
    ("tracer-a", Role.TRACING, ["ward-a"]),
    ("tracer-b", Role.TRACING, ["ward-b"]),
    ("officer-a", Role.WARD_OFFICER, ["ward-a"]),
)


def seed_staff(repo: Repository) -> None:
    """Every staff account the public-health tests use."""
    for username, role, wards in STAFF:
        seed_officer(repo, username, role, wards)


class Api(LoggedIn):
    """An HTTP client on the app (lifespan running) that logs in once per user name; paths under /api/v1."""

    prefix = "/api/v1"

    def __init__(self, client: httpx.AsyncClient, repo: Repository, clock: ManualClock) -> None:
        super().__init__(client)
        self.repo = repo
        self.clock = clock

    def advance(self, seconds: float) -> None:
        """Move the hub's clock on; tokens issued before have expired by then, so log in again."""
        self.clock.advance(seconds)
        self.forget_tokens()

    async def ok(self, method: str, path: str, as_: str, status: int = 200, **kwargs: Any) -> Any:
        """The JSON of a request that must answer `status`."""
        response = await (self.get if method == "GET" else self.post)(path, as_, **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    async def register_citizen(self, identity_number: str, ward: str = "ward-a", **extra: Any) -> str:
        """Register a citizen; their login handle."""
        body = {
            "identity_number": identity_number,
            "full_name": extra.pop("full_name", f"Citizen {identity_number[-4:]}"),
            "birth_date": "1990-01-01",
            "ward_id": ward,
            "password": PASSWORD,
            **extra,
        }
        response = await self.client.post("/api/v1/citizens/register", json=body)
        assert response.status_code == 201, response.text
        handle: str = response.json()["handle"]
        return handle


@asynccontextmanager
async def open_api(repo: Repository, **settings: Any) -> AsyncIterator[Api]:
    """The hub on `repo` with the identity key and the given settings, and its API helper."""
    async with hub_http(repo, identity_hash_key=IDENTITY_KEY, **settings) as (client, app):
        yield Api(client, repo, app.state.hub.clock)
