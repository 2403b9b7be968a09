"""Builders for the vaccination and certificate API tests: accounts, sites, doses, files, signing keys."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cloud.access import Role
from cloud.storage.repository import Repository
from tests.integration.cloud.support import PASSWORD, LoggedIn, seed_officer
from tests.unit.certificates.builders import make_signing_material

IDENTITY_KEY = "a-vaccination-test-identity-hash-key-long"
CCCD = "001203004567"  # the registered citizen of ward-a
OTHER_CCCD = "079185000123"  # a second registered citizen, of ward-b
ADMINISTERED = "2026-11-21T08:30:00+07:00"  # the hub's test clock is 2026-11-21T11:00Z
COMIRNATY = "EU/1/20/1528"


def seed_staff(repo: Repository) -> None:
    """Vaccinators of ward-a and ward-b, a ward officer of ward-a, an admin."""
    seed_officer(repo, "admin", Role.ADMIN, [])
    seed_officer(repo, "vacc-a", Role.VACCINATOR, ["ward-a"])
    seed_officer(repo, "vacc-b", Role.VACCINATOR, ["ward-b"])
    seed_officer(repo, "officer-a", Role.WARD_OFFICER, ["ward-a"])


class VaxApi(LoggedIn):
    """An HTTP client on the hub that logs each user in once and registers citizens."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client)

    async def request(self, method: str, path: str, as_: str | None, **kwargs: Any) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), **(await self.headers(as_) if as_ else {})}
        return await self.client.request(method, "/api/v1" + path, headers=headers, **kwargs)

    async def get(self, path: str, as_: str | None, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, as_, **kwargs)

    async def post(self, path: str, as_: str | None, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, as_, **kwargs)

    async def delete(self, path: str, as_: str | None, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, as_, **kwargs)

    async def register(
        self, identity_number: str = CCCD, ward_id: str = "ward-a", full_name: str = "Phạm Thị Dung"
    ) -> str:
        """Register a citizen; their handle."""
        body = {
            "identity_number": identity_number,
            "full_name": full_name,
            "birth_date": "1990-04-12",
            "ward_id": ward_id,
            "password": PASSWORD,
        }
        response = await self.client.post("/api/v1/citizens/register", json=body)
        assert response.status_code == 201, response.text
        handle: str = response.json()["handle"]
        return handle

    async def site(self, as_: str = "vacc-a", ward_id: str = "ward-a", daily_capacity: int = 500) -> int:
        """Create a site; its id."""
        body = {"name": f"Site of {ward_id}", "ward_id": ward_id, "daily_capacity": daily_capacity}
        response = await self.post("/vaccination/sites", as_, json=body)
        assert response.status_code == 201, response.text
        site_id: int = response.json()["id"]
        return site_id

    async def dose(self, site_id: int, as_: str = "vacc-a", **overrides: Any) -> httpx.Response:
        """Record a dose (second of Comirnaty for CCCD unless overridden)."""
        return await self.post("/vaccination/doses", as_, json=dose_body(site_id, **overrides))


def dose_body(site_id: int, **overrides: Any) -> dict[str, Any]:
    """A valid dose body."""
    body = {
        "identity_number": CCCD,
        "product": COMIRNATY,
        "lot": "FK1234",
        "dose_number": 2,
        "site_id": site_id,
        "administered_at": ADMINISTERED,
    }
    return {**body, **overrides}


def identity_numbers(count: int, start: int = 0) -> list[str]:
    """Made-up 12-digit identity numbers."""
    return [f"{900_000_000_000 + start + i:012d}" for i in range(count)]


def dose_csv(numbers: Iterable[str], *, extra_lines: Sequence[str] = (), series: bool = True) -> bytes:
    """A CSV dose file, one first dose of Comirnaty per number, then `extra_lines` verbatim."""
    header = "identity_number,product,lot,dose_number,series_doses,administered_at"
    if not series:
        header = "identity_number,product,lot,dose_number,administered_at"
    lines = [header]
    for n in numbers:
        lines.append(
            f"{n},{COMIRNATY},FK0001,1,2,{ADMINISTERED}"
            if series
            else f"{n},{COMIRNATY},FK0001,1,{ADMINISTERED}"
        )
    lines.extend(extra_lines)
    return ("\n".join(lines) + "\n").encode()


def dose_ndjson(numbers: Iterable[str], *, extra_lines: Sequence[str] = ()) -> bytes:
    """An NDJSON dose file, one first dose of Comirnaty per number, then `extra_lines` verbatim."""
    lines = [
        json.dumps(
            {
                "identity_number": n,
                "product": COMIRNATY,
                "lot": "FK0001",
                "dose_number": 1,
                "administered_at": ADMINISTERED,
            }
        )
        for n in numbers
    ]
    lines.extend(extra_lines)
    return ("\n".join(lines) + "\n").encode()


def signing_settings(
    directory: Path, *, slot: int = 0, trusted: Sequence[x509.Certificate] = ()
) -> dict[str, Any]:
    """`certificates` settings: a generated key (inline PEM), its DSC in a file, trusted foreign DSCs."""
    key, certificate = make_signing_material(slot=slot)
    certificate_file = directory / f"dsc-{slot}.pem"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    foreign = [c.public_bytes(serialization.Encoding.PEM).decode() for c in trusted]
    return {
        "signing_key": pem,
        "signer_certificate_file": str(certificate_file),
        "trusted_certificates": foreign,
    }
