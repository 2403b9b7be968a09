"""Strict CBOR decoding shared by the COSE and CWT layers."""

from __future__ import annotations

import io
from typing import Any

import cbor2


def loads_exact(data: bytes) -> Any:
    """Decode exactly one CBOR item filling `data`; raise ValueError on trailing bytes or bad CBOR.

    Duplicate map keys are refused: a second `kid` or `exp` in a signed map is a known way to make two
    verifiers read one message differently.
    """
    stream = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(stream, allow_duplicate_keys=False).decode()
    except (cbor2.CBORDecodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from exc
    if stream.tell() != len(data):
        raise ValueError(f"{len(data) - stream.tell()} bytes after the CBOR item")
    return item
