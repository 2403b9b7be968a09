"""The retry schedule of notifications (pure)."""

from __future__ import annotations


def retry_delay_s(attempts: int, base_s: float, max_s: float) -> float:
    """Delay before the next attempt after `attempts` failed ones: base, 2 base, 4 base, ... capped."""
    return float(min(max_s, base_s * 2 ** max(0, attempts - 1)))
