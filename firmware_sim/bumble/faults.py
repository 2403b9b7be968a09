"""Deliberate protocol violations of a simulated bumble bracelet, to show that conformance checks fail.

`qmon sim bumble --nonconforming KIND` (or `BumbleSimulator(..., nonconforming=KIND)`) makes every
bracelet break docs/PROTOCOL.md in one way; the conformance check named beside each kind must fail.
Without a fault the bracelets take none of these paths.
"""

from __future__ import annotations

from enum import StrEnum

from qmon.bracelet import gatt
from qmon.bracelet.advert import COMPANY_ID

SLOW_ADVERT_FACTOR = 1.5  # advertises this much slower than its Configuration says
WRONG_COMPANY_ID = 0x0059  # Nordic Semiconductor's: a real id, just not the protocol's
_COMPANY_ID_OFFSET = 5  # in the advertising data: flags AD (3 bytes), then length and type of the mfr AD


class Nonconformity(StrEnum):
    """One way to break the protocol (the value is the CLI's spelling) and the check that catches it."""

    WRONG_COMPANY_ID = "wrong-company-id"  # advert.format
    BAD_TAG = "bad-tag"  # advert.tag
    SLOW_ADVERTS = "slow-adverts"  # advert.rate
    MISSING_SERVICE = "missing-service"  # gatt.heart_rate
    NO_STATUS_NOTIFICATIONS = "no-status-notifications"  # notify.status


MISSING_SERVICE_UUID = gatt.HEART_RATE_SERVICE
ADVERT_FAULTS = frozenset({Nonconformity.WRONG_COMPANY_ID, Nonconformity.BAD_TAG})


def distort_advertising_data(data: bytes, fault: Nonconformity) -> bytes:
    """The advertising data with an advert fault applied (`data` as build_advertising_data made it)."""
    if fault is Nonconformity.WRONG_COMPANY_ID:
        assert data[_COMPANY_ID_OFFSET : _COMPANY_ID_OFFSET + 2] == COMPANY_ID.to_bytes(2, "little")
        company = WRONG_COMPANY_ID.to_bytes(2, "little")
        return data[:_COMPANY_ID_OFFSET] + company + data[_COMPANY_ID_OFFSET + 2 :]
    if fault is Nonconformity.BAD_TAG:
        return data[:-1] + bytes([data[-1] ^ 0xFF])  # the tag is the last byte of the advertising data
    return data


def advertising_interval_ms(configured_ms: int, fault: Nonconformity | None) -> int:
    """The interval the controller is actually given."""
    if fault is Nonconformity.SLOW_ADVERTS:
        return round(configured_ms * SLOW_ADVERT_FACTOR)
    return configured_ms
