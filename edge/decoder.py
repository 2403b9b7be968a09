"""Turn a received advertisement into a typed `BraceletAdvert`, or the reason it is not one. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from qmon.bracelet.advert import (
    COMPANY_ID,
    AdvertRejected,
    BraceletState,
    RejectReason,
    decode_advert_payload,
    format_device_id,
)


@dataclass(frozen=True, slots=True)
class BraceletAdvert:
    """A structurally valid bracelet advertisement as received; `signed`/`tag` are checked by the gate."""

    device_id: str
    address: str
    rssi: int
    state: BraceletState
    time: float
    signed: bytes
    tag: bytes


def decode_report(
    address: str, rssi: int, manufacturer_data: Mapping[int, bytes], time: float
) -> BraceletAdvert | AdvertRejected:
    """Decode one advertisement report (bleak-style manufacturer data) without raising."""
    try:
        payload = manufacturer_data.get(COMPANY_ID)
        if payload is None:
            # The common case for every neighbour's phone and TV: keep it cheap (no string formatting).
            return AdvertRejected(RejectReason.NOT_BRACELET, "no qmon company id")
        if not isinstance(payload, bytes | bytearray | memoryview):
            # A broken backend or a corrupted report (never bytes(x) on it: bytes(10**9) allocates a
            # gigabyte). The advert codec has no "malformed" reason; unmeasurable is as bad as truncated.
            return AdvertRejected(RejectReason.TRUNCATED, f"manufacturer data is {type(payload).__name__}")
        decoded = decode_advert_payload(bytes(payload))
    except AdvertRejected as rejected:
        return rejected
    except (TypeError, ValueError, AttributeError) as exc:
        # manufacturer_data itself is not a mapping of company id -> bytes.
        return AdvertRejected(RejectReason.TRUNCATED, f"malformed manufacturer data: {type(exc).__name__}")
    state = decoded.state
    return BraceletAdvert(
        device_id=format_device_id(state.device_id),
        address=address,
        rssi=rssi,
        state=state,
        time=time,
        signed=decoded.signed,
        tag=decoded.tag,
    )
