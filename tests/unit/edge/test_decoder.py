"""The pure advert decoder: golden vector and every way a report can be unusable."""

from __future__ import annotations

from typing import Any

import pytest

from edge.decoder import BraceletAdvert, decode_report
from qmon.bracelet.advert import COMPANY_ID, AdvertRejected, RejectReason
from tests.unit.edge.builders import DEVICE_ID, T0, make_payload

# device 0000a001, counter 0x01020304, flags strap+skin, battery 55 %, 90 bpm, 37.25 C, -59 dBm, tag
GOLDEN = bytes.fromhex("0101a000000403020103375a8d0ec513ff6a8a")


def test_golden_vector_decodes_to_the_expected_advert() -> None:
    result = decode_report("AA:BB:CC:DD:EE:FF", -71, {COMPANY_ID: GOLDEN}, T0)

    assert isinstance(result, BraceletAdvert)
    assert (result.device_id, result.address, result.rssi, result.time) == (
        DEVICE_ID,
        "AA:BB:CC:DD:EE:FF",
        -71,
        T0,
    )
    state = result.state
    assert state.counter == 0x01020304
    assert (state.strap_closed, state.skin_contact, state.charging, state.clock_synced) == (
        True,
        True,
        False,
        False,
    )
    assert (state.battery_pct, state.heart_rate_bpm, state.skin_temp_c, state.measured_power_dbm) == (
        55,
        90,
        37.25,
        -59,
    )
    assert result.signed == GOLDEN[:15] and result.tag == GOLDEN[15:]


def test_golden_vector_matches_the_encoder() -> None:
    payload = make_payload(
        counter=0x01020304, battery_pct=55, skin_temp_c=37.25, heart_rate_bpm=90, clock_synced=False
    )
    assert payload == GOLDEN


@pytest.mark.parametrize(
    ("manufacturer_data", "reason"),
    [
        ({}, RejectReason.NOT_BRACELET),
        ({0x004C: b"\x02\x15" + bytes(21)}, RejectReason.NOT_BRACELET),
        ({COMPANY_ID: b""}, RejectReason.TRUNCATED),
        ({COMPANY_ID: GOLDEN[:10]}, RejectReason.TRUNCATED),
        ({COMPANY_ID: GOLDEN + b"\x00"}, RejectReason.TOO_LONG),
        ({COMPANY_ID: b"\x02" + GOLDEN[1:]}, RejectReason.UNKNOWN_VERSION),
        ({COMPANY_ID: GOLDEN[:9] + b"\x80" + GOLDEN[10:]}, RejectReason.RESERVED_FLAGS),
        ({COMPANY_ID: GOLDEN[:10] + b"\x65" + GOLDEN[11:]}, RejectReason.BAD_BATTERY),
        ({COMPANY_ID: None}, RejectReason.NOT_BRACELET),
        ({COMPANY_ID: 12345}, RejectReason.TRUNCATED),
        ({COMPANY_ID: "text"}, RejectReason.TRUNCATED),
    ],
)
def test_unusable_reports_become_rejections_not_exceptions(
    manufacturer_data: dict[int, Any], reason: RejectReason
) -> None:
    result = decode_report("AA:BB:CC:DD:EE:FF", -60, manufacturer_data, T0)

    assert isinstance(result, AdvertRejected)
    assert result.reason is reason
