"""Golden vectors for advertisement format version 1 (docs/PROTOCOL.md section 1)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qmon.bracelet.advert import (
    COMPANY_ID,
    AdvertRejected,
    BraceletState,
    RejectReason,
    build_advertising_data,
    build_scan_response,
    decode_advert_payload,
    decode_manufacturer_data,
    encode_advert_payload,
    format_device_id,
    parse_ad_structures,
    parse_device_id,
    verify_tag,
)
from qmon.bracelet.gatt import QUARANTINE_SERVICE

VECTORS = json.loads((Path(__file__).parent / "advert_vectors.json").read_text())
KEY = bytes.fromhex(VECTORS["key"])


def _as_json(state: BraceletState) -> dict[str, object]:
    out = dataclasses.asdict(state)
    out["device_id"] = format_device_id(state.device_id)
    return out


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["name"])
def test_valid_vector_decodes_to_expected_json(case: dict) -> None:
    decoded = decode_advert_payload(bytes.fromhex(case["payload"]))
    verify_tag(decoded, KEY)
    assert _as_json(decoded.state) == case["expected"]


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["name"])
def test_encoder_reproduces_vector_bytes(case: dict) -> None:
    expected = dict(case["expected"])
    expected["device_id"] = parse_device_id(expected["device_id"])
    state = BraceletState(**expected)
    assert encode_advert_payload(state, KEY).hex() == case["payload"]


@pytest.mark.parametrize("case", VECTORS["rejected"], ids=lambda c: c["name"])
def test_malformed_vector_is_rejected_with_reason(case: dict) -> None:
    with pytest.raises(AdvertRejected) as info:
        decode_advert_payload(bytes.fromhex(case["payload"]))
    assert info.value.reason == RejectReason(case["reason"])


@pytest.mark.parametrize("case", VECTORS["bad_tag"], ids=lambda c: c["name"])
def test_altered_payload_fails_tag(case: dict) -> None:
    decoded = decode_advert_payload(bytes.fromhex(case["payload"]))
    with pytest.raises(AdvertRejected) as info:
        verify_tag(decoded, KEY)
    assert info.value.reason is RejectReason.BAD_TAG


def test_other_key_fails_tag() -> None:
    decoded = decode_advert_payload(bytes.fromhex(VECTORS["valid"][0]["payload"]))
    with pytest.raises(AdvertRejected):
        verify_tag(decoded, bytes(16))


def test_manufacturer_data_without_qmon_company_is_not_a_bracelet() -> None:
    with pytest.raises(AdvertRejected) as info:
        decode_manufacturer_data({0x004C: b"\x02\x15apple"})
    assert info.value.reason is RejectReason.NOT_BRACELET
    payload = bytes.fromhex(VECTORS["valid"][0]["payload"])
    assert decode_manufacturer_data({0x004C: b"x", COMPANY_ID: payload}).state.counter == 7


def test_ad_structures_are_byte_exact() -> None:
    payload = bytes.fromhex(VECTORS["valid"][0]["payload"])
    adv = build_advertising_data(payload)
    assert adv.hex() == VECTORS["ad_structures"]["advertising_data"]
    assert len(adv) <= 31
    assert parse_ad_structures(adv) == [(0x01, b"\x06"), (0xFF, COMPANY_ID.to_bytes(2, "little") + payload)]
    rsp = build_scan_response(
        parse_device_id(VECTORS["ad_structures"]["scan_response_device"]), QUARANTINE_SERVICE
    )
    assert rsp.hex() == VECTORS["ad_structures"]["scan_response"]
    assert len(rsp) <= 31


def test_ad_structure_running_past_the_end_is_rejected() -> None:
    with pytest.raises(AdvertRejected) as info:
        parse_ad_structures(bytes.fromhex("02010616ffffff01"))
    assert info.value.reason is RejectReason.TRUNCATED


@given(st.binary(max_size=40))
def test_arbitrary_bytes_decode_or_reject_never_crash(data: bytes) -> None:
    try:
        decoded = decode_advert_payload(data)
    except AdvertRejected as rejected:
        assert rejected.reason in RejectReason
    else:
        assert len(data) == 19
        with pytest.raises(AdvertRejected):
            verify_tag(decoded, KEY)  # random bytes carry a valid tag with probability 2**-32


@given(
    device_id=st.integers(0, 2**32 - 1),
    counter=st.integers(0, 2**32 - 1),
    flags=st.tuples(*[st.booleans()] * 5),
    battery=st.one_of(st.none(), st.integers(0, 100)),
    heart=st.one_of(st.none(), st.integers(20, 250)),
    temp=st.one_of(st.none(), st.integers(2000, 4500).map(lambda c: c / 100)),
    power=st.integers(-100, 0),
)
def test_round_trip(device_id, counter, flags, battery, heart, temp, power) -> None:  # type: ignore[no-untyped-def]
    state = BraceletState(device_id, counter, *flags, battery, heart, temp, power)
    decoded = decode_advert_payload(encode_advert_payload(state, KEY))
    verify_tag(decoded, KEY)
    assert decoded.state == state
