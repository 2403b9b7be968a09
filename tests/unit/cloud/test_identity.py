"""Identity numbers (normalised, keyed hashes), the key's settings, citizens' tokens, declared dates."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import SecretStr, ValidationError

from cloud.access import Actor, Role
from cloud.auth import AuthenticationError, Tokens
from cloud.declarations import DeclarationKind, check_declared_dates
from cloud.errors import UnprocessableError
from cloud.identity import IdentityHasher, normalize_identity_number
from cloud.settings import HubSettings
from cloud.storage.records import Citizen
from qmon.clock import ManualClock
from tests.unit.cloud.builders import T0

KEY = SecretStr("an-identity-hash-key-that-is-long-enough")
JWT = "a-test-signing-key-that-is-long-enough"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("001203004567", "001203004567"), (" 001 203\t004 567 ", "001203004567"), ("123 456 789", "123456789")],
)
def test_identity_numbers_are_normalised(raw: str, expected: str) -> None:
    assert normalize_identity_number(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "12345678", "1234567890", "12345678901", "1234567890123", "00120300456x"]
)
def test_malformed_identity_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="9 digits"):
        normalize_identity_number(raw)


def test_the_hash_is_keyed_stable_and_reveals_no_digits() -> None:
    hasher = IdentityHasher(KEY)
    digest = hasher.hash("001203004567")
    assert digest == hasher.hash("001 203 004 567") and len(digest) == 64
    assert "001203004567" not in digest
    assert digest != IdentityHasher(SecretStr("another-identity-key-that-is-long-enough")).hash(
        "001203004567"
    )
    assert digest != hasher.hash("001203004568")


@pytest.mark.parametrize("key", ["changeme", "too-short-a-key", JWT])
def test_weak_or_reused_identity_keys_are_refused(key: str) -> None:
    with pytest.raises(ValidationError, match="identity_hash_key"):
        HubSettings(jwt_secret=JWT, identity_hash_key=key)


def test_the_identity_key_is_optional() -> None:
    assert HubSettings(jwt_secret=JWT).identity_hash_key is None


def test_a_citizens_token_carries_their_record_and_no_ward() -> None:
    tokens = Tokens(SecretStr(JWT), "qmon-hub", 600, ManualClock())
    citizen = Citizen(
        7, "c-abcdefgh", "0" * 64, "unused", "Pham Thi Dung", date(1990, 4, 12), None, "ward-a", None, T0
    )
    actor = tokens.verify(tokens.issue_citizen(citizen).access_token)
    assert actor == Actor("c-abcdefgh", Role.CITIZEN, frozenset(), 7)
    assert not actor.sees("ward-a") and actor.ward_filter == frozenset()


def test_a_citizen_token_without_its_record_is_refused() -> None:
    tokens = Tokens(SecretStr(JWT), "qmon-hub", 600, ManualClock())
    forged = tokens._issue({"sub": "c-abcdefgh", "role": "citizen", "wards": ["ward-a"]}).access_token
    with pytest.raises(AuthenticationError, match="cid"):
        tokens.verify(forged)


@pytest.mark.parametrize(
    ("kind", "day", "ok"),
    [
        (DeclarationKind.HEALTH, date(2026, 11, 7), True),
        (DeclarationKind.HEALTH, date(2026, 11, 6), False),
        (DeclarationKind.HEALTH, date(2026, 11, 22), False),
        (DeclarationKind.TRAVEL, date(2026, 12, 21), True),
        (DeclarationKind.TRAVEL, date(2026, 12, 22), False),
        (DeclarationKind.FEEDBACK, date(2026, 11, 21), True),
    ],
)
def test_declared_dates_must_fall_in_the_kinds_window(kind: DeclarationKind, day: date, ok: bool) -> None:
    today = date(2026, 11, 21)
    if ok:
        check_declared_dates(kind, [day], today)
    else:
        with pytest.raises(UnprocessableError, match="dates must be between"):
            check_declared_dates(kind, [day], today)
