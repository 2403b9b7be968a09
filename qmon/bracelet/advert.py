"""Advertisement codec, format version 1: pure bytes <-> model functions (docs/PROTOCOL.md, section 1).

The bracelet advertises its state in manufacturer-specific data under company id 0xFFFF (the Bluetooth
SIG's value for tests and internal use; a production run gets its own id). The 19-byte payload ends with a
4-byte tag, a truncated HMAC-SHA256 under the bracelet's own key, so that a neighbour's phone cannot fake
"strap closed, at home" for someone else's bracelet.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntFlag, StrEnum

from qmon.keyed_hash import hmac_sha256_states

COMPANY_ID = 0xFFFF
FORMAT_VERSION = 1
SIGNED_LEN = 15
TAG_LEN = 4
PAYLOAD_LEN = SIGNED_LEN + TAG_LEN
KEY_LEN = 16
TAG_DOMAIN = b"QMON-ADV1"
_TAG_PREFIX = TAG_DOMAIN + COMPANY_ID.to_bytes(2, "little")

BATTERY_UNKNOWN = 0xFF
HEART_RATE_UNKNOWN = 0
TEMP_UNKNOWN = -0x8000
HEART_RATE_RANGE = (20, 250)
TEMP_CENTI_RANGE = (2000, 4500)
MEASURED_POWER_RANGE = (-100, 0)

# version u8, device id u32, counter u32, flags u8, battery u8, heart rate u8, temp i16 (0.01 C),
# measured power i8 (the RSSI a receiver sees at 1 m, for distance estimates)
_SIGNED = struct.Struct("<BIIBBBhb")
assert _SIGNED.size == SIGNED_LEN

AD_TYPE_FLAGS = 0x01
AD_TYPE_SHORT_NAME = 0x08
AD_TYPE_COMPLETE_NAME = 0x09
AD_TYPE_UUID128_COMPLETE = 0x07
AD_TYPE_MANUFACTURER = 0xFF
AD_FLAGS_LE_GENERAL_NO_BREDR = 0x06


class Flags(IntFlag):
    """Bit field at payload offset 9."""

    STRAP_CLOSED = 0x01
    SKIN_CONTACT = 0x02
    CHARGING = 0x04
    CLOCK_SYNCED = 0x08
    LOW_BATTERY = 0x10


RESERVED_FLAGS = 0xE0
_STRAP, _SKIN, _CHARGING, _SYNCED, _LOW = (int(f) for f in Flags)


class RejectReason(StrEnum):
    """Why an advertisement was not accepted; the edge counts rejections per reason."""

    NOT_BRACELET = "not_bracelet"
    TRUNCATED = "truncated"
    TOO_LONG = "too_long"
    UNKNOWN_VERSION = "unknown_version"
    RESERVED_FLAGS = "reserved_flags"
    BAD_BATTERY = "bad_battery"
    BAD_HEART_RATE = "bad_heart_rate"
    BAD_TEMPERATURE = "bad_temperature"
    BAD_MEASURED_POWER = "bad_measured_power"
    BAD_TAG = "bad_tag"
    UNKNOWN_DEVICE = "unknown_device"
    REPLAYED = "replayed"


class AdvertRejected(ValueError):
    """An advertisement that is not a valid bracelet advertisement, with the reason."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class BraceletState:
    """What one advertisement says about the bracelet."""

    device_id: int
    counter: int
    strap_closed: bool
    skin_contact: bool
    charging: bool
    clock_synced: bool
    low_battery: bool
    battery_pct: int | None
    heart_rate_bpm: int | None
    skin_temp_c: float | None
    measured_power_dbm: int


@dataclass(frozen=True, slots=True)
class DecodedAdvert:
    """A structurally valid payload; `tag` is checked separately with the device's key."""

    state: BraceletState
    signed: bytes
    tag: bytes


def format_device_id(device_id: int) -> str:
    """The canonical text form of a device id: 8 lowercase hex digits."""
    return f"{device_id:08x}"


def parse_device_id(text: str) -> int:
    """Parse the 8-hex-digit text form of a device id."""
    if len(text) != 8:
        raise ValueError(f"device id must be 8 hex digits, got {text!r}")
    return int(text, 16)


def compute_tag(key: bytes, signed: bytes) -> bytes:
    """The 4-byte authentication tag over the signed part of the payload."""
    if len(key) != KEY_LEN:
        raise ValueError(f"bracelet key must be {KEY_LEN} bytes")
    return hmac.digest(key, _TAG_PREFIX + signed, hashlib.sha256)[:TAG_LEN]


class AdvertSigner:
    """Signs payloads under one key: the same tags as compute_tag, for a device that signs many of them.

    HMAC-SHA256 as RFC 2104 section 4 suggests for a fixed key: the zero-padded key's inner and outer
    hash states (and the tag's constant prefix) are absorbed once, so each tag costs two short SHA-256
    finishes instead of hmac.digest's keyed set-up (about 4x cheaper; the simulator signs 10,000 tags a
    second).
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_LEN:
            raise ValueError(f"bracelet key must be {KEY_LEN} bytes")
        self._inner, self._outer = hmac_sha256_states(key, _TAG_PREFIX)

    def tag(self, signed: bytes) -> bytes:
        """The 4-byte authentication tag over the signed part of the payload."""
        inner = self._inner.copy()
        inner.update(signed)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()[:TAG_LEN]

    def encode(
        self,
        device_id: int,
        counter: int,
        flags: int,
        battery: int,
        heart_rate: int,
        temp_centi: int,
        measured_power_dbm: int,
    ) -> bytes:
        """The signed payload from its wire values (flags as an int, unknown readings as *_UNKNOWN).

        The fast path for an encoder that keeps its state in wire terms (the simulated bracelet): the same
        bytes as encode_advert_payload, in one call (tag() inlined).
        """
        signed = _SIGNED.pack(
            FORMAT_VERSION,
            device_id,
            counter & 0xFFFFFFFF,
            flags,
            battery,
            heart_rate,
            temp_centi,
            measured_power_dbm,
        )
        inner = self._inner.copy()
        inner.update(signed)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return signed + outer.digest()[:TAG_LEN]


def encode_advert_payload(state: BraceletState, key: bytes) -> bytes:
    """Encode the manufacturer-data value (the bytes after the company id) for `state`, signed with `key`."""
    battery = BATTERY_UNKNOWN if state.battery_pct is None else state.battery_pct
    heart = HEART_RATE_UNKNOWN if state.heart_rate_bpm is None else state.heart_rate_bpm
    temp = TEMP_UNKNOWN if state.skin_temp_c is None else round(state.skin_temp_c * 100)
    # Plain int arithmetic: the simulator encodes one advert per bracelet per second, 10,000 at a time.
    flags = (
        (_STRAP if state.strap_closed else 0)
        | (_SKIN if state.skin_contact else 0)
        | (_CHARGING if state.charging else 0)
        | (_SYNCED if state.clock_synced else 0)
        | (_LOW if state.low_battery else 0)
    )
    signed = _SIGNED.pack(
        FORMAT_VERSION,
        state.device_id,
        state.counter & 0xFFFFFFFF,
        flags,
        battery,
        heart,
        temp,
        state.measured_power_dbm,
    )
    return signed + compute_tag(key, signed)


def decode_advert_payload(payload: bytes) -> DecodedAdvert:
    """Decode and range-check a manufacturer-data value; raise AdvertRejected with the reason if invalid."""
    if len(payload) < 1:
        raise AdvertRejected(RejectReason.TRUNCATED, "empty payload")
    if payload[0] != FORMAT_VERSION:
        raise AdvertRejected(RejectReason.UNKNOWN_VERSION, f"format version {payload[0]}")
    if len(payload) < PAYLOAD_LEN:
        raise AdvertRejected(RejectReason.TRUNCATED, f"{len(payload)} of {PAYLOAD_LEN} bytes")
    if len(payload) > PAYLOAD_LEN:
        raise AdvertRejected(RejectReason.TOO_LONG, f"{len(payload)} bytes, expected {PAYLOAD_LEN}")
    signed = bytes(payload[:SIGNED_LEN])
    _, device_id, counter, flags, battery, heart, temp, measured_power = _SIGNED.unpack(signed)
    if flags & RESERVED_FLAGS:
        raise AdvertRejected(RejectReason.RESERVED_FLAGS, f"flags 0x{flags:02x}")
    if battery != BATTERY_UNKNOWN and battery > 100:
        raise AdvertRejected(RejectReason.BAD_BATTERY, f"battery {battery}%")
    if heart != HEART_RATE_UNKNOWN and not HEART_RATE_RANGE[0] <= heart <= HEART_RATE_RANGE[1]:
        raise AdvertRejected(RejectReason.BAD_HEART_RATE, f"heart rate {heart} bpm")
    if temp != TEMP_UNKNOWN and not TEMP_CENTI_RANGE[0] <= temp <= TEMP_CENTI_RANGE[1]:
        raise AdvertRejected(RejectReason.BAD_TEMPERATURE, f"skin temperature {temp / 100:.2f} C")
    if not MEASURED_POWER_RANGE[0] <= measured_power <= MEASURED_POWER_RANGE[1]:
        raise AdvertRejected(RejectReason.BAD_MEASURED_POWER, f"measured power {measured_power} dBm")
    state = BraceletState(
        device_id=device_id,
        counter=counter,
        strap_closed=bool(flags & Flags.STRAP_CLOSED),
        skin_contact=bool(flags & Flags.SKIN_CONTACT),
        charging=bool(flags & Flags.CHARGING),
        clock_synced=bool(flags & Flags.CLOCK_SYNCED),
        low_battery=bool(flags & Flags.LOW_BATTERY),
        battery_pct=None if battery == BATTERY_UNKNOWN else battery,
        heart_rate_bpm=None if heart == HEART_RATE_UNKNOWN else heart,
        skin_temp_c=None if temp == TEMP_UNKNOWN else temp / 100,
        measured_power_dbm=measured_power,
    )
    return DecodedAdvert(state=state, signed=signed, tag=bytes(payload[SIGNED_LEN:]))


def decode_manufacturer_data(manufacturer_data: Mapping[int, bytes]) -> DecodedAdvert:
    """Pick the qmon payload out of bleak-style manufacturer data ({company id: value}) and decode it."""
    payload = manufacturer_data.get(COMPANY_ID)
    if payload is None:
        ids = ", ".join(f"0x{cid:04x}" for cid in manufacturer_data) or "none"
        raise AdvertRejected(RejectReason.NOT_BRACELET, f"no company id 0x{COMPANY_ID:04x} (has {ids})")
    return decode_advert_payload(payload)


def verify_tag(decoded: DecodedAdvert, key: bytes) -> None:
    """Raise AdvertRejected(BAD_TAG) unless the advertisement was signed with `key`."""
    if not hmac.compare_digest(compute_tag(key, decoded.signed), decoded.tag):
        raise AdvertRejected(
            RejectReason.BAD_TAG, f"tag mismatch for device {format_device_id(decoded.state.device_id)}"
        )


def build_advertising_data(payload: bytes) -> bytes:
    """The full 31-byte-budget AD structure: Flags, then manufacturer-specific data with the payload."""
    mfr = COMPANY_ID.to_bytes(2, "little") + payload
    data = bytes([2, AD_TYPE_FLAGS, AD_FLAGS_LE_GENERAL_NO_BREDR, len(mfr) + 1, AD_TYPE_MANUFACTURER]) + mfr
    if len(data) > 31:
        raise ValueError("advertising data exceeds 31 bytes")
    return data


def build_scan_response(device_id: int, service_uuid: str) -> bytes:
    """Scan response: the quarantine service's 128-bit UUID and the short name `QB` + device id."""
    uuid_le = uuid.UUID(service_uuid).bytes[::-1]
    name = ("QB" + format_device_id(device_id)).encode("ascii")
    data = bytes([len(uuid_le) + 1, AD_TYPE_UUID128_COMPLETE]) + uuid_le
    data += bytes([len(name) + 1, AD_TYPE_SHORT_NAME]) + name
    if len(data) > 31:
        raise ValueError("scan response exceeds 31 bytes")
    return data


def parse_ad_structures(data: bytes) -> list[tuple[int, bytes]]:
    """Split raw advertising data into (AD type, value) pairs; raise AdvertRejected if malformed."""
    out: list[tuple[int, bytes]] = []
    i = 0
    while i < len(data):
        length = data[i]
        if length == 0:  # early terminator: the rest is padding
            break
        if i + 1 + length > len(data):
            raise AdvertRejected(RejectReason.TRUNCATED, f"AD structure at offset {i} runs past the end")
        out.append((data[i + 1], bytes(data[i + 2 : i + 1 + length])))
        i += 1 + length
    return out
