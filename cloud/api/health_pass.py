"""Health QR code routes: a citizen's own code (`/citizens/me/health-pass`), public verification
(`/health-pass/verify`). Checkpoints scan codes through the crossings route (cloud/api/venues.py)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import CitizenDep, HubDep
from cloud.api.ratelimit import ClientDep, LimiterDep
from cloud.errors import UnavailableError
from cloud.health_pass import HealthStatus
from cloud.qrcodes import MAX_QR_TEXT, QrCodeError, render_png
from cloud.ratelimit import LimitedAction

router = APIRouter(prefix="/health-pass", tags=["health pass"])
own_router = APIRouter(prefix="/citizens/me/health-pass", tags=["health pass"])


class HealthPassOut(BaseModel):
    """Your code now: its colour, why, and the text to show (as a QR code)."""

    status: HealthStatus
    reasons: list[str] = Field(description="Why this colour (shown to you only; not in the code).")
    text: str = Field(description="The QR code's content: `QMH1:` + payload + `.` + signature.")
    issued_at: datetime
    expires_at: datetime


class VerifyPassIn(BaseModel):
    """A scanned health QR code's text."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_QR_TEXT)


class VerifyPassOut(BaseModel):
    """Valid with its colour and expiry, or why not."""

    valid: bool
    status: HealthStatus | None = None
    expires_at: datetime | None = None
    reason: str | None = Field(None, description="Why it is not valid.")


@own_router.get("", response_model=HealthPassOut)
def get_my_health_pass(actor: CitizenDep, hub: HubDep) -> HealthPassOut:
    """Your health QR code as of now (valid 12 hours; fetch a new one to show a changed status)."""
    issued = hub.health_passes.issue_own(actor)
    return HealthPassOut(
        status=issued.status,
        reasons=list(issued.reasons),
        text=issued.text,
        issued_at=issued.issued_at,
        expires_at=issued.expires_at,
    )


@own_router.get(
    "/qr.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "Your health QR code."}},
)
def get_my_health_pass_qr(
    actor: CitizenDep, hub: HubDep, scale: int = Query(8, ge=1, le=16, description="Pixels per module.")
) -> Response:
    """Your health QR code as an image (PNG)."""
    issued = hub.health_passes.issue_own(actor)
    return Response(
        render_png(issued.text, scale=scale), media_type="image/png", headers={"Cache-Control": "no-store"}
    )


@router.post("/verify", response_model=VerifyPassOut)
def verify_health_pass(
    body: VerifyPassIn, hub: HubDep, limiter: LimiterDep, client: ClientDep
) -> VerifyPassOut:
    """Verify a scanned health QR code (public; limited per client address, 429 with Retry-After).

    Offline verifiers do the same with the keys at `GET /venues/qr-keys`."""
    limiter.hit(LimitedAction.VERIFY, client)
    try:
        health_pass = hub.health_passes.verify(body.text)
    except QrCodeError as exc:
        return VerifyPassOut(valid=False, reason=str(exc))
    except UnavailableError:
        raise
    return VerifyPassOut(valid=True, status=health_pass.status, expires_at=health_pass.expires_at)
