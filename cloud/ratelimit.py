"""Rate limits on the routes people try to abuse: signing in (password guessing), self-registration
(account farming), identity look-ups (enumerating who is registered) and public verification.

Built on the `limits` library: moving windows, in memory for one hub process (the default), or in Redis
(`rate_limits.storage_uri: redis://...`) when several hub processes serve one API. Each limit is keyed by
what the abuse spends: a client address, an account, or both. A refused request gets 429 with Retry-After.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from enum import StrEnum

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from cloud.errors import RateLimitedError


class LimitedAction(StrEnum):
    """The limited actions."""

    SIGN_IN_CLIENT = "sign_in_client"  # sign-in attempts from one address, any account
    SIGN_IN_ACCOUNT = "sign_in_account"  # sign-in attempts at one account, from anywhere
    REGISTRATION = "registration"  # citizen self-registrations from one address
    LOOKUP = "lookup"  # identity-number look-ups by one staff account
    VERIFY = "verify"  # public verifications (certificates, QR codes) from one address


@dataclass(frozen=True)
class RateLimitPolicy:
    """Limit strings in the `limits` notation ("10/minute", "100 per hour"), one per action."""

    sign_in_client: str = "30/minute"
    sign_in_account: str = "10/minute"
    registration: str = "5/hour"
    lookup: str = "120/minute"
    verify: str = "300/minute"


class RateLimiter:
    """Counts hits per (action, key) and refuses those over the action's limit."""

    def __init__(self, policy: RateLimitPolicy, storage_uri: str = "memory://") -> None:
        self._items: dict[LimitedAction, RateLimitItem] = {
            action: parse(getattr(policy, action.value)) for action in LimitedAction
        }
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def hit(self, action: LimitedAction, *key: str) -> None:
        """Count one request of `action` by `key`; RateLimitedError (with the seconds to wait) if over."""
        item = self._items[action]
        if self._limiter.hit(item, action.value, *key):
            return
        reset_at = self._limiter.get_window_stats(item, action.value, *key).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise RateLimitedError(f"too many requests ({item}); try again in {retry_after} s", retry_after)

    def reset(self) -> None:
        """Forget every count (tests, or an operator after an incident)."""
        self._limiter.storage.reset()
