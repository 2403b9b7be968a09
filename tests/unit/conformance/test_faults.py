"""The simulator's deliberate protocol violations break exactly what they claim to, per qmon's codec."""

from __future__ import annotations

import pytest

from firmware_sim.bumble.faults import (
    SLOW_ADVERT_FACTOR,
    Nonconformity,
    advertising_interval_ms,
    distort_advertising_data,
)
from qmon.bracelet.advert import (
    AdvertRejected,
    RejectReason,
    build_advertising_data,
    decode_manufacturer_data,
    encode_advert_payload,
    parse_ad_structures,
    verify_tag,
)
from tests.unit.conformance.builders import KEY, make_state

DATA = build_advertising_data(encode_advert_payload(make_state(), KEY))


def manufacturer_data(data: bytes) -> dict[int, bytes]:
    return {int.from_bytes(v[:2], "little"): v[2:] for t, v in parse_ad_structures(data) if t == 0xFF}


def test_wrong_company_id_is_not_a_bracelet_but_keeps_the_payload() -> None:
    data = distort_advertising_data(DATA, Nonconformity.WRONG_COMPANY_ID)
    assert len(data) == len(DATA)
    with pytest.raises(AdvertRejected) as rejected:
        decode_manufacturer_data(manufacturer_data(data))
    assert rejected.value.reason is RejectReason.NOT_BRACELET
    assert manufacturer_data(data)[0x0059] == manufacturer_data(DATA)[0xFFFF]


def test_bad_tag_decodes_but_does_not_verify() -> None:
    decoded = decode_manufacturer_data(
        manufacturer_data(distort_advertising_data(DATA, Nonconformity.BAD_TAG))
    )
    with pytest.raises(AdvertRejected) as rejected:
        verify_tag(decoded, KEY)
    assert rejected.value.reason is RejectReason.BAD_TAG


def test_other_faults_leave_the_advert_and_only_slow_adverts_change_the_interval() -> None:
    for fault in (Nonconformity.SLOW_ADVERTS, Nonconformity.MISSING_SERVICE):
        assert distort_advertising_data(DATA, fault) == DATA
    assert advertising_interval_ms(100, Nonconformity.SLOW_ADVERTS) == round(100 * SLOW_ADVERT_FACTOR)
    assert advertising_interval_ms(1000, None) == 1000
    assert advertising_interval_ms(1000, Nonconformity.BAD_TAG) == 1000
