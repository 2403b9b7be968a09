"""AdvertSigner, the keyed fast path of the advert codec: the same tags and bytes as the reference."""

from __future__ import annotations

import random

import pytest

from qmon.bracelet.advert import (
    HEART_RATE_UNKNOWN,
    TEMP_UNKNOWN,
    AdvertSigner,
    BraceletState,
    compute_tag,
    encode_advert_payload,
)


def test_tags_match_compute_tag() -> None:
    rng = random.Random(1)
    for _ in range(300):
        key = rng.randbytes(16)
        signed = rng.randbytes(15)
        assert AdvertSigner(key).tag(signed) == compute_tag(key, signed)


def test_encode_matches_encode_advert_payload() -> None:
    rng = random.Random(2)
    key = rng.randbytes(16)
    signer = AdvertSigner(key)
    for _ in range(300):
        contact = rng.random() < 0.8
        state = BraceletState(
            device_id=rng.getrandbits(32),
            counter=rng.getrandbits(32),
            strap_closed=rng.random() < 0.5,
            skin_contact=contact,
            charging=rng.random() < 0.5,
            clock_synced=rng.random() < 0.5,
            low_battery=rng.random() < 0.5,
            battery_pct=rng.randint(0, 100),
            heart_rate_bpm=rng.randint(20, 250) if contact else None,
            skin_temp_c=round(rng.uniform(20.0, 45.0), 2) if contact else None,
            measured_power_dbm=rng.randint(-100, 0),
        )
        flags = (
            state.strap_closed | state.skin_contact << 1 | state.charging << 2 | state.clock_synced << 3
        ) | state.low_battery << 4
        payload = signer.encode(
            state.device_id,
            state.counter,
            flags,
            state.battery_pct or 0,
            state.heart_rate_bpm or HEART_RATE_UNKNOWN,
            TEMP_UNKNOWN if state.skin_temp_c is None else round(state.skin_temp_c * 100),
            state.measured_power_dbm,
        )
        assert payload == encode_advert_payload(state, key)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        AdvertSigner(b"short")
