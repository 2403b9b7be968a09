"""Which bracelet a report claims to be: by its QB name, else by the 0xFFFF payload's id field."""

from __future__ import annotations

from bleak.backends.scanner import AdvertisementData

from firmware_sim.conformance.probe import identify
from qmon.bracelet.advert import encode_advert_payload
from tests.unit.conformance.builders import KEY, make_state

PAYLOAD = encode_advert_payload(make_state(), KEY)


def adv(name: str | None = None, manufacturer: dict[int, bytes] | None = None) -> AdvertisementData:
    return AdvertisementData(name, manufacturer or {}, {}, [], None, -60, ())


def test_the_name_identifies_the_bracelet_whatever_its_manufacturer_data() -> None:
    assert identify(adv("QB0A1B2C3D", {0x0059: PAYLOAD}), strict=True) == "0a1b2c3d"


def test_a_full_qmon_payload_identifies_it_without_a_name() -> None:
    assert identify(adv(None, {0xFFFF: PAYLOAD}), strict=True) == "0a1b2c3d"


def test_a_short_0xffff_payload_counts_only_when_a_device_was_asked_for() -> None:
    short = adv(None, {0xFFFF: PAYLOAD[:8]})
    assert identify(short, strict=True) is None
    assert identify(short, strict=False) == "0a1b2c3d"


def test_other_devices_are_not_bracelets() -> None:
    assert identify(adv("Galaxy Buds", {0x0075: b"\x01\x02"}), strict=False) is None
    assert identify(adv(), strict=False) is None
