"""Rate limits on sign-in, self-registration, identity look-ups and public verification: requests over a
limit get 429 with Retry-After and change nothing; other callers and other accounts keep their own counts."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cloud.settings import HubSettings
from cloud.storage.repository import Repository
from tests.integration.cloud.support import PASSWORD, hub_http, seed_officer
from tests.integration.cloud.test_citizens import IDENTITY_KEY, registration

STRICT = {
    "sign_in_client": "6/minute",
    "sign_in_account": "3/minute",
    "registration": "2/hour",
    "lookup": "2/minute",
    "verify": "2/minute",
}


def limits(**overrides: str) -> dict[str, Any]:
    return {"rate_limits": {**STRICT, **overrides}, "identity_hash_key": IDENTITY_KEY}


def assert_limited(response: Any) -> None:
    assert response.status_code == 429, response.text
    assert "too many requests" in response.json()["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60 * 60


async def test_sign_in_attempts_are_limited_per_account_then_per_client(repo: Repository) -> None:
    seed_officer(repo, "officer-a", "ward_officer", ["ward-a"])
    seed_officer(repo, "officer-b", "ward_officer", ["ward-b"])
    async with hub_http(repo, **limits()) as (client, _):

        async def sign_in(user: str, password: str = PASSWORD) -> Any:
            return await client.post("/api/v1/auth/token", data={"username": user, "password": password})

        for _ in range(3):
            assert (await sign_in("officer-a", "wrong-password")).status_code == 401
        # the account is now protected: even its right password waits
        assert_limited(await sign_in("officer-a"))
        assert_limited(await sign_in("OFFICER-A", "guess"))  # user names are counted case-insensitively
        # another account from the same client still may, until the client's own limit (6 per minute)
        assert (await sign_in("officer-b")).status_code == 200
        assert_limited(await sign_in("officer-b"))


async def test_registrations_are_limited_per_client_and_the_refused_one_is_not_stored(
    repo: Repository,
) -> None:
    async with hub_http(repo, **limits()) as (client, _):
        for number in ("001203004561", "001203004562"):
            response = await client.post(
                "/api/v1/citizens/register", json=registration(identity_number=number)
            )
            assert response.status_code == 201, response.text
        refused = await client.post(
            "/api/v1/citizens/register", json=registration(identity_number="001203004563")
        )
        assert_limited(refused)
        login = await client.post(
            "/api/v1/auth/token", data={"username": "001203004563", "password": PASSWORD}
        )
        assert login.status_code == 401


async def test_identity_lookups_are_limited_per_staff_account(repo: Repository) -> None:
    seed_officer(repo, "officer-a", "ward_officer", ["ward-a"])
    seed_officer(repo, "officer-a2", "ward_officer", ["ward-a"])
    async with hub_http(repo, **limits(sign_in_client="100/minute")) as (client, _):

        async def headers(user: str) -> dict[str, str]:
            token = await client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
            return {"Authorization": f"Bearer {token.json()['access_token']}"}

        first, second = await headers("officer-a"), await headers("officer-a2")
        body = {"identity_number": "001203004567"}
        for _ in range(2):
            assert (await client.post("/api/v1/citizens/lookup", json=body, headers=first)).status_code == 404
        assert_limited(await client.post("/api/v1/citizens/lookup", json=body, headers=first))
        assert (await client.post("/api/v1/citizens/lookup", json=body, headers=second)).status_code == 404


async def test_public_verification_is_limited_per_client(repo: Repository) -> None:
    async with hub_http(repo, **limits()) as (client, _):
        for _ in range(2):
            response = await client.post(
                "/api/v1/certificates/verify", json={"text": "HC1:not-a-certificate"}
            )
            assert response.status_code == 200 and response.json()["valid"] is False
        assert_limited(await client.post("/api/v1/certificates/verify", json={"text": "HC1:x"}))


@pytest.mark.parametrize("value", ["lots", "10/fortnight", ""])
def test_a_limit_that_does_not_parse_is_refused_at_start_up(value: str) -> None:
    with pytest.raises(ValidationError, match="not a rate limit"):
        HubSettings(jwt_secret="a-rate-limit-test-signing-key-long-enough", rate_limits={"lookup": value})
