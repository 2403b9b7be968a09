"""Passwords, tokens and the role/ward checks every service call makes."""

from __future__ import annotations

import jwt
import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr

from cloud.access import Actor, Role
from cloud.auth import AuthenticationError, Passwords, Tokens
from cloud.errors import ForbiddenError, NotFoundError
from cloud.storage.records import Officer
from qmon.clock import ManualClock
from tests.unit.cloud.builders import T0

SECRET = SecretStr("a-test-signing-key-that-is-long-enough")
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def officer(role: str = "ward_officer", wards: tuple[str, ...] = ("ward-a",)) -> Officer:
    return Officer(1, "an", "unused", role, wards, T0)


def test_passwords_are_argon2id_hashed_and_verified() -> None:
    passwords = Passwords(FAST)
    digest = passwords.hash("correct horse battery")
    assert digest.startswith("$argon2id$") and "correct" not in digest
    assert passwords.verify(digest, "correct horse battery")
    assert not passwords.verify(digest, "wrong password!")
    assert not passwords.verify(None, "correct horse battery")  # unknown user: same work, always refused
    assert not passwords.verify("not-a-hash", "x")


def test_weaker_hashes_are_flagged_for_rehash() -> None:
    weak = Passwords(FAST).hash("correct horse battery")
    assert Passwords(PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)).needs_rehash(weak)


def test_a_token_carries_subject_role_and_wards() -> None:
    tokens = Tokens(SECRET, "qmon-hub", 600, ManualClock())
    actor = tokens.verify(tokens.issue(officer("supervisor", ("ward-a", "ward-b"))).access_token)
    assert actor == Actor("an", Role.SUPERVISOR, frozenset({"ward-a", "ward-b"}))


def test_a_token_expires_by_the_injected_clock() -> None:
    clock = ManualClock()
    tokens = Tokens(SECRET, "qmon-hub", 600, clock)
    token = tokens.issue(officer()).access_token
    clock.advance(599)
    tokens.verify(token)
    clock.advance(1)
    with pytest.raises(AuthenticationError, match="expired"):
        tokens.verify(token)


@pytest.mark.parametrize("tamper", ["issuer", "secret", "signature", "role"])
def test_forged_or_foreign_tokens_are_refused(tamper: str) -> None:
    clock = ManualClock()
    tokens = Tokens(SECRET, "qmon-hub", 600, clock)
    token = tokens.issue(officer()).access_token
    if tamper == "issuer":
        token = Tokens(SECRET, "someone-else", 600, clock).issue(officer()).access_token
    elif tamper == "secret":
        token = (
            Tokens(SecretStr("another-key-that-is-also-long-enough"), "qmon-hub", 600, clock)
            .issue(officer())
            .access_token
        )
    elif tamper == "signature":
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    else:
        claims = jwt.decode(
            token,
            SECRET.get_secret_value(),
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_iat": False},
        )
        token = jwt.encode({**claims, "role": "root"}, SECRET.get_secret_value(), algorithm="HS256")
    with pytest.raises(AuthenticationError):
        tokens.verify(token)


def test_ward_scope_hides_other_wards_and_admin_sees_all() -> None:
    officer_a = Actor("an", Role.WARD_OFFICER, frozenset({"ward-a"}))
    admin = Actor("root", Role.ADMIN, frozenset())
    assert officer_a.sees("ward-a") and not officer_a.sees("ward-b")
    assert officer_a.ward_filter == {"ward-a"} and admin.ward_filter is None and admin.sees("ward-z")
    with pytest.raises(NotFoundError, match="alert not found"):
        officer_a.check_ward("ward-b", "alert")


def test_roles_are_checked() -> None:
    officer_a = Actor("an", Role.WARD_OFFICER, frozenset({"ward-a"}))
    with pytest.raises(ForbiddenError, match="admin, supervisor"):
        officer_a.require({Role.SUPERVISOR, Role.ADMIN}, "creating an order")
    Actor("sup", Role.SUPERVISOR, frozenset({"ward-a"})).require(
        {Role.SUPERVISOR, Role.ADMIN}, "creating an order"
    )
