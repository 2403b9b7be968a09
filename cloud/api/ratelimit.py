"""Rate-limit dependencies for routes (cloud/ratelimit.py): the app's limiter and the caller's address.

Behind a reverse proxy, run uvicorn with --proxy-headers and --forwarded-allow-ips set to the proxy, or
every client shares the proxy's address (and its limits).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cloud.ratelimit import RateLimiter


def get_limiter(request: Request) -> RateLimiter:
    """The app's rate limiter."""
    limiter: RateLimiter = request.app.state.limiter
    return limiter


def client_address(request: Request) -> str:
    """The caller's network address, as the server sees it."""
    return request.client.host if request.client is not None else "unknown"


LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
ClientDep = Annotated[str, Depends(client_address)]
