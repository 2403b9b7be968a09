"""The advert gate: only assigned bracelets, only genuine tags, only fresh counters. Pure.

Order of checks: decode -> assigned device (UNKNOWN_DEVICE) -> tag under that device's key (BAD_TAG) ->
counter (REPLAYED). The tag is checked before the counter so that a forged advert with a huge counter
cannot poison the replay state and lock the genuine bracelet out.

Counter rules, per device:
- higher than the last accepted counter: new state, accepted;
- equal, within `duplicate_window_s` of its first reception: another report of the same advertising
  event (a scan response, a second receiver, a retransmission), accepted as an extra RSSI sample only;
- equal but later, or lower: REPLAYED. Without the window an attacker could replay the last genuine
  advert forever and keep a bracelet that has left looking "at home".

Limits, documented rather than hidden:
- A relay attack defeats this gate: an accomplice who forwards the bracelet's adverts live from wherever
  the wearer is to a transmitter next to the hub delivers fresh, correctly tagged, increasing counters.
  The tag proves origin and the counter freshness ordering; neither proves proximity. Only a timed
  challenge-response over a connection (distance bounding) would, and BLE hardware cannot do it reliably.
- The firmware must keep its counter monotonic across reboots (persisted); a bracelet that restarts from
  zero is rejected as REPLAYED until it passes its old counter, which shows as a rising `replayed` count
  next to a signal loss.
- The counter is 32 bits: at 1 Hz it wraps after 136 years, so wrap-around is not handled.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from edge.decoder import BraceletAdvert, decode_report
from qmon.bracelet.advert import AdvertRejected, RejectReason, compute_tag

DEFAULT_DUPLICATE_WINDOW_S = 2.0


@dataclass(frozen=True, slots=True)
class Admission:
    """An accepted advert; `duplicate` marks a repeated report of an already accepted advertising event."""

    advert: BraceletAdvert
    duplicate: bool


class AdvertGate:
    """Per-device key and counter checks with rejection counts; never raises on bad input."""

    def __init__(
        self,
        keys: Mapping[str, bytes],
        *,
        duplicate_window_s: float = DEFAULT_DUPLICATE_WINDOW_S,
        counters: Mapping[str, int] | None = None,
    ) -> None:
        self._keys = dict(keys)
        self._window = duplicate_window_s
        # device id -> (last accepted counter, time it was first accepted)
        self._last: dict[str, tuple[int, float]] = {}
        for device_id, counter in (counters or {}).items():
            if device_id in self._keys:
                # Restored after a restart: the same counter again is a replay, not a fresh duplicate.
                self._last[device_id] = (counter, float("-inf"))
        self.accepted = 0
        self.duplicates = 0
        self.rejected: dict[RejectReason, int] = {}

    def admit_report(
        self, address: str, rssi: int, manufacturer_data: Mapping[int, bytes], time: float
    ) -> Admission | AdvertRejected:
        """Decode and check one advertisement report."""
        return self.admit(decode_report(address, rssi, manufacturer_data, time))

    def admit(self, decoded: BraceletAdvert | AdvertRejected) -> Admission | AdvertRejected:
        """Check a decoded advert (or count a decoder rejection)."""
        if isinstance(decoded, AdvertRejected):
            return self._reject(decoded)
        key = self._keys.get(decoded.device_id)
        if key is None:
            return self._reject(AdvertRejected(RejectReason.UNKNOWN_DEVICE, decoded.device_id))
        if not hmac.compare_digest(compute_tag(key, decoded.signed), decoded.tag):
            return self._reject(AdvertRejected(RejectReason.BAD_TAG, decoded.device_id))
        counter = decoded.state.counter
        last = self._last.get(decoded.device_id)
        if last is not None:
            last_counter, first_seen = last
            if counter < last_counter or (
                counter == last_counter and not 0.0 <= decoded.time - first_seen <= self._window
            ):
                return self._reject(
                    AdvertRejected(
                        RejectReason.REPLAYED, f"{decoded.device_id} counter {counter} <= {last_counter}"
                    )
                )
            if counter == last_counter:
                self.duplicates += 1
                return Admission(decoded, duplicate=True)
        self._last[decoded.device_id] = (counter, decoded.time)
        self.accepted += 1
        return Admission(decoded, duplicate=False)

    def last_counters(self) -> dict[str, int]:
        """The last accepted counter per device, to persist across restarts."""
        return {device_id: counter for device_id, (counter, _) in self._last.items()}

    def rejected_total(self) -> int:
        """All rejections so far."""
        return sum(self.rejected.values())

    def _reject(self, rejection: AdvertRejected) -> AdvertRejected:
        self.rejected[rejection.reason] = self.rejected.get(rejection.reason, 0) + 1
        return rejection
