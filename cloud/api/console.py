"""The officers' console at /console/: its static files and the vendored plotly.js bundle.

The console has no privileges of its own: it signs in through /api/v1/auth/token and calls the same API,
with the same per-ward authorization, as any client.
"""

from __future__ import annotations

import mimetypes
import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import RedirectResponse, Response

from cloud.console import plotly_bundle, static_root

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)

# Flat names, views/<name>.js or i18n/<lang>.json: nothing that could climb out of the static folder.
_ASSET = r"^((i18n|views)/)?[a-z0-9][a-z0-9_-]*\.(html|js|css|json|svg)$"
_TYPES = {".js": "text/javascript", ".json": "application/json", ".css": "text/css", ".svg": "image/svg+xml"}
# Static files change with the installed version: revalidate them; plotly's bundle may be cached a day.
_CACHE = {"Cache-Control": "no-cache"}
_VENDOR_CACHE = {"Cache-Control": "public, max-age=86400"}


def _file_response(data: bytes, name: str, headers: dict[str, str]) -> Response:
    suffix = name[name.rfind(".") :]
    media = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media.startswith("text/") or media == "application/json":
        media += "; charset=utf-8"
    return Response(data, media_type=media, headers=headers)


@router.get("", response_class=RedirectResponse)
def console_root() -> RedirectResponse:
    """/console -> /console/ (relative module URLs resolve against the folder)."""
    return RedirectResponse("/console/", status_code=status.HTTP_308_PERMANENT_REDIRECT)


@router.get("/", response_class=Response)
def console_index() -> Response:
    """The single page of the console."""
    return _file_response((static_root() / "index.html").read_bytes(), "index.html", _CACHE)


@router.get("/vendor/plotly.min.js", response_class=Response)
def plotly_js() -> Response:
    """plotly.js from the installed `plotly` package."""
    bundle = plotly_bundle()
    if not bundle.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "plotly.js is not installed")
    return _file_response(bundle.read_bytes(), "plotly.min.js", _VENDOR_CACHE)


@router.get("/{asset:path}", response_class=Response)
def console_asset(asset: Annotated[str, Path(max_length=80)]) -> Response:
    """One static file of the console (404 for anything else)."""
    if not re.match(_ASSET, asset):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    target = static_root()
    for part in asset.split("/"):
        target = target / part
    if not target.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    return _file_response(target.read_bytes(), asset, _CACHE)
