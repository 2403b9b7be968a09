"""The radio server's wire format and the GATT layout table."""

from __future__ import annotations

import pytest

from firmware_sim.gatt_layout import BRACELET_LAYOUT, CHARACTERISTICS, layout_from_json, layout_to_json
from firmware_sim.wire import WireError, advert_from_message, advert_to_message, decode_line, encode_line
from firmware_sim.world import AdvertReport
from qmon.bracelet import gatt


def make_report(**overrides: object) -> AdvertReport:
    fields: dict[str, object] = {
        "address": "C5:1A:00:00:A0:01",
        "rssi": -71,
        "manufacturer_data": {0xFFFF: bytes(range(19))},
        "local_name": "QB0000a001",
        "service_uuids": (gatt.QUARANTINE_SERVICE,),
        "receiver": "hub-1",
        "time": 1_800_000_012.345,
        **overrides,
    }
    return AdvertReport(**fields)  # type: ignore[arg-type]


def test_an_advert_survives_the_wire() -> None:
    report = make_report()
    assert advert_from_message(decode_line(encode_line(advert_to_message(report)))) == report
    nameless = make_report(local_name=None, service_uuids=())
    assert advert_from_message(decode_line(encode_line(advert_to_message(nameless)))) == nameless


@pytest.mark.parametrize("line", [b"not json", b"[1]", b'"text"', b"\xff"])
def test_lines_that_are_not_objects(line: bytes) -> None:
    with pytest.raises(WireError) as error:
        decode_line(line)
    assert error.value.code == "bad_json"


def test_a_malformed_advert() -> None:
    message = advert_to_message(make_report())
    message["mfr"] = {"65535": "zz"}
    with pytest.raises(WireError, match="malformed advert"):
        advert_from_message(message)


def test_the_layout_has_unique_increasing_handles_and_cccds_where_needed() -> None:
    handles = []
    for service in BRACELET_LAYOUT:
        handles.append(service.handle)
        for c in service.characteristics:
            handles.append(c.handle)
            if c.cccd_handle is not None:
                handles.append(c.cccd_handle)
            assert (c.cccd_handle is not None) == c.subscribable
    assert handles == sorted(handles) and len(set(handles)) == len(handles)
    assert CHARACTERISTICS[gatt.TEMPERATURE_MEASUREMENT].properties == ("indicate",)
    assert CHARACTERISTICS[gatt.TEMPERATURE_MEASUREMENT].cccd_enable_value == 2
    assert CHARACTERISTICS[gatt.STATUS].cccd_enable_value == 1


def test_the_layout_survives_json_and_rejects_garbage() -> None:
    assert layout_from_json(layout_to_json()) == BRACELET_LAYOUT
    with pytest.raises(ValueError, match="malformed GATT layout"):
        layout_from_json([{"uuid": "x"}])
