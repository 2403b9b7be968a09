"""Query and path parameters shared by the routes modules."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

# Deeper pages than this are not browsed but exported; the bound also keeps an absurd offset (which the
# databases' 64-bit integers cannot hold) a 422 instead of a server error.
MAX_OFFSET = 10_000_000

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip (paging).")]

# Path ids: larger ones are refused as 422 before any query (the 64-bit keys' range; a key of a 32-bit
# table beyond its range is answered 422 by the app's DataError handler).
MAX_ID = 2**63 - 1
RecordId = Annotated[int, Path(ge=1, le=MAX_ID, description="The record's id.")]
