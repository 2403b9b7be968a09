"""The health QR code's rules and format: every colour and reason, signing, expiry, tampering, keys."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from cloud.health_pass import HealthFacts, HealthStatus, assess, sign_pass, verify_pass
from cloud.qrcodes import QrCodeError, QrSigner, QrVerifier, b64url, b64url_decode

NOW = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
NOTHING = HealthFacts(
    open_case=False,
    last_positive_at=None,
    last_negative_at=None,
    pending_test=False,
    in_quarantine=False,
    series_completed_at=None,
)
VACCINATED = replace(NOTHING, series_completed_at=NOW - timedelta(days=30))


def test_green_needs_an_effective_series_or_a_recent_negative_test() -> None:
    assert assess(VACCINATED, NOW).status is HealthStatus.GREEN
    assert assess(VACCINATED, NOW).reasons == ("vaccination series complete",)
    tested = replace(NOTHING, last_negative_at=NOW - timedelta(hours=71))
    assert assess(tested, NOW).status is HealthStatus.GREEN
    stale = replace(NOTHING, last_negative_at=NOW - timedelta(hours=73))
    assert assess(stale, NOW).status is HealthStatus.YELLOW
    too_fresh = replace(NOTHING, series_completed_at=NOW - timedelta(days=13))
    assert assess(too_fresh, NOW).reasons == ("no complete vaccination series and no recent negative test",)


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        (replace(VACCINATED, in_quarantine=True), "under a quarantine order"),
        (replace(VACCINATED, pending_test=True), "a test is awaiting its result"),
        (NOTHING, "no complete vaccination series and no recent negative test"),
    ],
)
def test_yellow(facts: HealthFacts, reason: str) -> None:
    assessment = assess(facts, NOW)
    assert assessment.status is HealthStatus.YELLOW and reason in assessment.reasons


def test_red_wins_over_everything_and_a_positive_test_ages_out() -> None:
    case = replace(VACCINATED, open_case=True, in_quarantine=True)
    assert assess(case, NOW).status is HealthStatus.RED
    positive = replace(VACCINATED, last_positive_at=NOW - timedelta(days=10))
    assert assess(positive, NOW).reasons == ("positive test collected 2026-11-11",)
    old = replace(VACCINATED, last_positive_at=NOW - timedelta(days=15))
    assert assess(old, NOW).status is HealthStatus.GREEN


@pytest.fixture
def keys() -> tuple[QrSigner, QrVerifier]:
    signer = QrSigner(ec.generate_private_key(ec.SECP256R1()))
    return signer, QrVerifier([signer.public_key])


def test_a_signed_pass_verifies_until_it_expires(keys: tuple[QrSigner, QrVerifier]) -> None:
    signer, verifier = keys
    text = sign_pass(signer, HealthStatus.YELLOW, "c-7k3m9q2x", NOW)
    assert text.startswith("QMH1:")
    health_pass = verify_pass(verifier, text, NOW + timedelta(hours=11))
    assert (health_pass.status, health_pass.handle) == (HealthStatus.YELLOW, "c-7k3m9q2x")
    assert health_pass.expires_at == NOW + timedelta(hours=12)
    with pytest.raises(QrCodeError, match="expired"):
        verify_pass(verifier, text, NOW + timedelta(hours=12))


def test_a_changed_colour_an_unknown_key_or_a_venue_code_is_refused(
    keys: tuple[QrSigner, QrVerifier],
) -> None:
    signer, verifier = keys
    text = sign_pass(signer, HealthStatus.RED, "c-7k3m9q2x", NOW)
    body, signature = text[len("QMH1:") :].split(".")
    greener = b64url(b64url_decode(body).replace(b'"s":"red"', b'"s":"green"'))
    with pytest.raises(QrCodeError, match="invalid signature"):
        verify_pass(verifier, f"QMH1:{greener}.{signature}", NOW)
    other = QrSigner(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(QrCodeError, match="unknown key"):
        verify_pass(verifier, sign_pass(other, HealthStatus.GREEN, "c-7k3m9q2x", NOW), NOW)
    with pytest.raises(QrCodeError, match="must start with QMH1:"):
        verify_pass(verifier, signer.sign(1, "venue", "ward-a", int(NOW.timestamp())), NOW)
    with pytest.raises(QrCodeError, match="issued in the future"):
        verify_pass(verifier, sign_pass(signer, HealthStatus.GREEN, "c-1", NOW + timedelta(hours=1)), NOW)
