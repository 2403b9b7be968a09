"""Builders with defaults for the edge tests: states, payloads, adverts, trackers, settings."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from edge.calibration import CalibrationPolicy, HomeCalibration
from edge.decoder import BraceletAdvert, decode_report
from edge.presence import PresencePolicy
from edge.settings import EdgeSettings
from edge.tracker import BraceletTracker, TrackerSnapshot
from edge.vitals import VitalsPolicy
from qmon.bracelet.advert import COMPANY_ID, BraceletState, encode_advert_payload, format_device_id

T0 = 1_800_000_000.0
DEVICE = 0x0000A001
DEVICE_ID = format_device_id(DEVICE)
# Test keys: random, generated for these tests only (real keys come from settings or the environment).
KEY = bytes.fromhex("5be0c2d37a91e44f08b6d1a2c3e4f506")
OTHER_KEY = bytes.fromhex("9d2f61ab04c87e35f1a0b7c6d9e8f312")
KEYS = {
    0x0000A001: KEY,
    0x0000A002: bytes.fromhex("1f3e5d7c9b0a2e4d6c8b0a1f3e5d7c9a"),
    0x0000B001: bytes.fromhex("a4c1e07f3b92d65e18f0c7b2a9d4e603"),
}


def make_state(**overrides: Any) -> BraceletState:
    """A healthy, worn bracelet's state."""
    base = BraceletState(
        device_id=DEVICE,
        counter=1,
        strap_closed=True,
        skin_contact=True,
        charging=False,
        clock_synced=True,
        low_battery=False,
        battery_pct=80,
        heart_rate_bpm=72,
        skin_temp_c=36.6,
        measured_power_dbm=-59,
    )
    return replace(base, **overrides)


def make_payload(key: bytes | None = None, **overrides: Any) -> bytes:
    """The signed manufacturer-data value for `make_state(**overrides)`."""
    state = make_state(**overrides)
    return encode_advert_payload(state, key if key is not None else KEYS.get(state.device_id, KEY))


def make_mfr(key: bytes | None = None, **overrides: Any) -> dict[int, bytes]:
    """bleak-style manufacturer data holding the payload."""
    return {COMPANY_ID: make_payload(key, **overrides)}


def make_advert(
    rssi: int = -60, time: float = T0, address: str = "C0:00:00:00:A0:01", **overrides: Any
) -> BraceletAdvert:
    """A decoded advert."""
    result = decode_report(address, rssi, make_mfr(**overrides), time)
    assert isinstance(result, BraceletAdvert)
    return result


def make_tracker(
    *,
    presence: PresencePolicy | None = None,
    vitals: VitalsPolicy | None = None,
    calibration: HomeCalibration | None = None,
    snapshot: TrackerSnapshot | None = None,
    started_at: float = T0,
    device_id: str = DEVICE_ID,
) -> BraceletTracker:
    """A tracker with default policies and an uncalibrated home."""
    presence = presence or PresencePolicy()
    if calibration is None:
        calibration = HomeCalibration("home", CalibrationPolicy(), presence.default_thresholds)
    return BraceletTracker(
        device_id,
        home_id=calibration.home_id,
        presence=presence,
        vitals=vitals or VitalsPolicy(),
        calibration=calibration,
        started_at=started_at,
        snapshot=snapshot,
    )


def make_settings(**overrides: Any) -> EdgeSettings:
    """Edge settings with three bracelets in two homes and GATT maintenance off."""
    data: dict[str, Any] = {
        "site_id": "site-a",
        "bracelets": [
            {
                "device_id": format_device_id(d),
                "key": k.hex(),
                "home_id": "home-b" if d == 0x0000B001 else "home-a",
            }
            for d, k in KEYS.items()
        ],
        "gatt": {"interval_s": 0},
    }
    data.update(overrides)
    return EdgeSettings.model_validate(data)
