"""Health QR codes as a service: a citizen's own code from their records, verification for anyone, and the
holder behind a code for the checkpoint that scans it (the rules and the format: cloud/health_pass.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cloud.access import Actor, Role
from cloud.errors import NotFoundError, UnavailableError, UnprocessableError
from cloud.health_pass import HealthPass, HealthPolicy, HealthStatus, assess, sign_pass, verify_pass
from cloud.qrcodes import QrCodeError, QrSigner, QrVerifier
from cloud.storage.repository import Repository
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock


@dataclass(frozen=True, slots=True)
class IssuedPass:
    """A citizen's current code, with the reasons for its colour (for them, not in the code)."""

    status: HealthStatus
    reasons: tuple[str, ...]
    text: str
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ScannedPass:
    """A verified code and the keyed identity hash of its holder (for the crossing record)."""

    health_pass: HealthPass
    identity_hash: str


class HealthPassService:
    """Issues and verifies health QR codes with the hub's QR key (the venue codes' key)."""

    def __init__(
        self,
        repository: Repository,
        clock: Clock,
        signer: QrSigner | None,
        verifier: QrVerifier | None,
        policy: HealthPolicy | None = None,
    ) -> None:
        self._repo = repository
        self._clock = clock
        self._signer = signer
        self._verifier = verifier
        self.policy = policy or HealthPolicy()

    def issue_own(self, actor: Actor) -> IssuedPass:
        """The calling citizen's code as of now."""
        actor.require({Role.CITIZEN}, "getting your health QR code")
        if self._signer is None:
            raise UnavailableError("health QR codes are not issued on this hub (venue_qr_key_file unset)")
        citizen = self._repo.citizens.get(actor.citizen_id) if actor.citizen_id is not None else None
        if citizen is None:
            raise NotFoundError("citizen not found")
        now = self._now()
        assessment = assess(self._repo.health.facts(citizen.identity_hash, now), now, self.policy)
        text = sign_pass(self._signer, assessment.status, citizen.handle, now, self.policy)
        return IssuedPass(
            assessment.status,
            assessment.reasons,
            text,
            now.replace(microsecond=0),
            now.replace(microsecond=0) + self.policy.validity,
        )

    def verify(self, text: str) -> HealthPass:
        """The pass a scanned text holds (QrCodeError with the reason if it is not a valid, current one)."""
        if self._verifier is None:
            raise UnavailableError("health QR codes are not verified on this hub (no QR key configured)")
        return verify_pass(self._verifier, text, self._now())

    def scan(self, text: str) -> ScannedPass:
        """A code shown at a checkpoint: verified, and its holder's identity hash (422 if it is not valid)."""
        try:
            health_pass = self.verify(text)
        except QrCodeError as exc:
            raise UnprocessableError(f"health QR code refused: {exc}") from None
        citizen = self._repo.citizens.by_handle(health_pass.handle)
        if citizen is None:
            raise UnprocessableError("health QR code refused: its holder is not registered here")
        return ScannedPass(health_pass, citizen.identity_hash)

    def _now(self) -> datetime:
        return utc_from_timestamp(self._clock.now())
