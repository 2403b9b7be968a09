"""The radio server's wire format: newline-delimited JSON objects (pure encode/decode helpers).

The messages themselves are documented in `firmware_sim.server`.
"""

from __future__ import annotations

import json
from typing import Any

from firmware_sim.world import AdvertReport

PROTOCOL = "qmon-sim-radio/1"
MAX_LINE = 64 * 1024  # longest request line the server accepts, bytes


class WireError(ValueError):
    """A message that does not follow the protocol; `code` goes into the error reply."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def encode_line(message: dict[str, Any]) -> bytes:
    """One message as a compact JSON line."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode_line(line: bytes) -> dict[str, Any]:
    """Parse one line into a JSON object; raise WireError('bad_json') otherwise."""
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError("bad_json", f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise WireError("bad_json", "each line must hold a JSON object")
    return message


def advert_to_message(report: AdvertReport) -> dict[str, Any]:
    """A pushed advertisement."""
    return {
        "type": "advert",
        "address": report.address,
        "rssi": report.rssi,
        "mfr": {str(cid): value.hex() for cid, value in report.manufacturer_data.items()},
        "name": report.local_name,
        "uuids": list(report.service_uuids),
        "receiver": report.receiver,
        "time": report.time,
    }


def advert_from_message(message: dict[str, Any]) -> AdvertReport:
    """Rebuild the AdvertReport from a pushed advertisement; raise WireError if malformed."""
    try:
        return AdvertReport(
            address=str(message["address"]),
            rssi=int(message["rssi"]),
            manufacturer_data={int(cid): bytes.fromhex(value) for cid, value in message["mfr"].items()},
            local_name=None if message.get("name") is None else str(message["name"]),
            service_uuids=tuple(str(u) for u in message.get("uuids", ())),
            receiver=str(message["receiver"]),
            time=float(message["time"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise WireError("bad_advert", f"malformed advert: {exc!r}") from None


def require_str(message: dict[str, Any], field: str) -> str:
    """A required string field of a request."""
    value = message.get(field)
    if not isinstance(value, str) or not value:
        raise WireError("bad_request", f"{field!r} must be a non-empty string")
    return value


def require_int(message: dict[str, Any], field: str) -> int:
    """A required integer field of a request."""
    value = message.get(field)
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireError("bad_request", f"{field!r} must be an integer")
    return value


def require_hex(message: dict[str, Any], field: str) -> bytes:
    """A required hex-string field of a request, as bytes."""
    value = message.get(field)
    if not isinstance(value, str):
        raise WireError("bad_request", f"{field!r} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise WireError("bad_request", f"{field!r} must be hex") from None
