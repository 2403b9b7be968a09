"""Authentication of officers, staff and citizens: argon2 password hashes and signed, expiring JWT access
tokens. Staff log in with their user name, citizens with the handle the hub gave them at registration."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import SecretStr

from cloud.access import STAFF, Actor, Role
from cloud.errors import InvalidRequestError
from cloud.storage.records import Citizen, Officer
from cloud.storage.repository import Repository
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock

ALGORITHM = "HS256"
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# Citizens' handles (cloud/citizens.py): staff user names may not take this form, so the two never clash.
CITIZEN_HANDLE_PATTERN = re.compile(r"^c-[a-z0-9]{8}$")
WARD_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MIN_PASSWORD_LENGTH = 12


class AuthenticationError(Exception):
    """Credentials or a token were refused; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A signed access token and its lifetime."""

    access_token: str
    expires_in: int


class Passwords:
    """Argon2id hashing; verification also runs for unknown users so timing does not reveal them."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash = self._hasher.hash("not a real password, only for timing")

    def hash(self, password: str) -> str:
        """An argon2id hash of the password."""
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True if `password` matches `password_hash` (None: an unknown user, always False)."""
        try:
            self._hasher.verify(password_hash or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        """True if the hash was made with weaker parameters than the current ones."""
        return self._hasher.check_needs_rehash(password_hash)


class Tokens:
    """Issues and checks HS256 access tokens carrying subject, role and wards; keys come from settings."""

    def __init__(self, secret: SecretStr, issuer: str, ttl_s: int, clock: Clock) -> None:
        self._secret = secret
        self._issuer = issuer
        self._ttl_s = ttl_s
        self._clock = clock

    def issue(self, officer: Officer) -> IssuedToken:
        """A token for this officer or staff member, valid for the configured lifetime."""
        return self._issue({"sub": officer.username, "role": officer.role, "wards": list(officer.wards)})

    def issue_citizen(self, citizen: Citizen) -> IssuedToken:
        """A token for this citizen: no ward, the id of their own record (`cid`) instead."""
        return self._issue(
            {"sub": citizen.handle, "role": Role.CITIZEN.value, "wards": [], "cid": citizen.id}
        )

    def _issue(self, subject: dict[str, object]) -> IssuedToken:
        now = int(self._clock.now())
        claims = {"iss": self._issuer, **subject, "iat": now, "exp": now + self._ttl_s}
        token = jwt.encode(claims, self._secret.get_secret_value(), algorithm=ALGORITHM)
        return IssuedToken(token, self._ttl_s)

    def verify(self, token: str) -> Actor:
        """The actor a valid, unexpired token of this issuer names; AuthenticationError otherwise."""
        try:
            # Expiry is checked against the injected clock below, not PyJWT's wall clock.
            claims = jwt.decode(
                token,
                self._secret.get_secret_value(),
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                options={"require": ["exp", "iat", "iss", "sub"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid token: {exc}") from None
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= self._clock.now():
            raise AuthenticationError("token expired")
        try:
            role = Role(str(claims.get("role")))
            wards = claims.get("wards")
            if not isinstance(wards, list) or not all(isinstance(w, str) for w in wards):
                raise ValueError("wards")
            citizen_id = claims.get("cid")
            if role is Role.CITIZEN and (type(citizen_id) is not int or wards):
                raise ValueError("cid")
        except ValueError:
            raise AuthenticationError("invalid token: bad role, wards or cid claim") from None
        if role is Role.CITIZEN:
            return Actor(str(claims["sub"]), role, frozenset(), citizen_id)
        return Actor(str(claims["sub"]), role, frozenset(wards))


def authenticate(
    repository: Repository, passwords: Passwords, username: str, password: str
) -> Officer | Citizen:
    """The officer, staff member or citizen (by handle) these credentials belong to; AuthenticationError
    (one message for all causes) if none."""
    username = username.strip().lower()
    account: Officer | Citizen | None
    if CITIZEN_HANDLE_PATTERN.match(username):
        account = repository.citizens.by_handle(username)
    else:
        account = repository.officers.get(username)
    if not passwords.verify(account.password_hash if account else None, password) or account is None:
        raise AuthenticationError("incorrect user name or password")
    if passwords.needs_rehash(account.password_hash):
        records = repository.citizens if isinstance(account, Citizen) else repository.officers
        records.set_password_hash(username, passwords.hash(password))
    return account


def create_officer(
    repository: Repository,
    passwords: Passwords,
    clock: Clock,
    *,
    username: str,
    password: str,
    role: Role | str,
    wards: Sequence[str],
) -> Officer:
    """Validate and store a new officer or staff account (InvalidRequestError for bad input or a taken
    name); citizens register themselves (cloud/citizens.py)."""
    username = username.strip().lower()
    if not USERNAME_PATTERN.match(username):
        raise InvalidRequestError("user name: 2-64 characters, lowercase letters, digits, '.', '_' or '-'")
    if CITIZEN_HANDLE_PATTERN.match(username):
        raise InvalidRequestError("user names of the form c-xxxxxxxx are citizens' handles")
    staff_roles = sorted(r.value for r in STAFF)
    try:
        role = Role(role)
    except ValueError:
        raise InvalidRequestError(f"role must be one of {', '.join(staff_roles)}") from None
    if role not in STAFF:
        raise InvalidRequestError(
            f"citizens register themselves; role must be one of {', '.join(staff_roles)}"
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequestError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    bad = [w for w in wards if not WARD_PATTERN.match(w)]
    if bad:
        raise InvalidRequestError(f"invalid ward ids: {', '.join(bad)}")
    if role is not Role.ADMIN and not wards:
        raise InvalidRequestError(f"a {role.value} needs at least one ward")
    if repository.officers.get(username) is not None:
        raise InvalidRequestError(f"user {username!r} already exists")
    now = utc_from_timestamp(clock.now())
    return repository.officers.add(username, passwords.hash(password), role.value, wards, now)
