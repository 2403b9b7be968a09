"""Authentication routes: the OAuth2 password flow and the caller's own identity."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from cloud.api.deps import ActorDep, HubDep
from cloud.api.ratelimit import ClientDep, LimiterDep
from cloud.auth import AuthenticationError, authenticate
from cloud.ratelimit import LimitedAction
from cloud.storage.records import Citizen

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenOut(BaseModel):
    """An OAuth2 bearer token."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the token expires.")


class MeOut(BaseModel):
    """The authenticated account (a citizen's handle as `username`, and no wards)."""

    username: str
    role: str
    wards: list[str]


@router.post("/token", response_model=TokenOut)
def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], hub: HubDep, limiter: LimiterDep, client: ClientDep
) -> TokenOut:
    """Exchange a user name (a citizen: the handle given at registration) and password for an access token.

    Attempts are limited per client address and per account, failed or not (429 with Retry-After)."""
    limiter.hit(LimitedAction.SIGN_IN_CLIENT, client)
    limiter.hit(LimitedAction.SIGN_IN_ACCOUNT, form.username.casefold())
    try:
        account = authenticate(hub.repository, hub.passwords, form.username, form.password)
    except AuthenticationError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from None
    issued = hub.tokens.issue_citizen(account) if isinstance(account, Citizen) else hub.tokens.issue(account)
    return TokenOut(access_token=issued.access_token, expires_in=issued.expires_in)


@router.get("/me", response_model=MeOut)
def who_am_i(actor: ActorDep) -> MeOut:
    """The account the token belongs to."""
    return MeOut(username=actor.username, role=actor.role.value, wards=sorted(actor.wards))
