"""Module retry schedule (windmill.md §7, `flows.rs struct Retry`, `worker_flow.rs`)."""
from __future__ import annotations

import random
from typing import Any, Mapping, Optional

# flows.rs: MAX_RETRY_INTERVAL caps any delay at 6 hours.
MAX_RETRY_INTERVAL_SECONDS = 6 * 3600


def max_attempts(retry: Optional[Mapping[str, Any]]) -> int:
    """`attempts` count retries: total runs = 1 + constant.attempts + exponential.attempts."""
    if not retry:
        return 1
    constant = retry.get("constant") or {}
    exponential = retry.get("exponential") or {}
    return 1 + int(constant.get("attempts") or 0) + int(exponential.get("attempts") or 0)


def retry_delay(retry: Optional[Mapping[str, Any]], failures: int,
                rng: Optional[random.Random] = None) -> Optional[float]:
    """Seconds to wait before the next attempt after ``failures`` failures; None = no retry.

    flows.rs `Retry::interval`: constant first, then `multiplier * seconds^(n+1)` with
    ±random_factor %, capped at MAX_RETRY_INTERVAL."""
    if not retry:
        return None
    constant = retry.get("constant") or {}
    exponential = retry.get("exponential") or {}
    n = failures - 1  # index of the failure that just happened, from 0
    c_attempts = int(constant.get("attempts") or 0)
    e_attempts = int(exponential.get("attempts") or 0)
    if n < c_attempts:
        delay = float(constant.get("seconds") or 0)
    elif n - c_attempts < e_attempts:
        multiplier = float(exponential.get("multiplier") or 1)
        seconds = float(exponential.get("seconds") or 0)
        delay = multiplier * seconds ** (n + 1)
        factor = int(exponential.get("random_factor") or 0)
        if factor > 0:
            jitter = (rng or random).uniform(-factor, factor) / 100.0
            delay = max(0.0, delay * (1 + jitter))
    else:
        return None
    return min(delay, MAX_RETRY_INTERVAL_SECONDS)
