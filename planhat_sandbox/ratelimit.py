"""Per-workspace rate limiting with the Planhat API's 429 headers."""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """Limits for one workspace; a limit of None is not enforced.

    Planhat documents 200 calls per minute as a soft quota and 150 requests
    per second as a hard limit.
    """

    #: Requests allowed in any window of ``window_seconds``.
    per_minute: int | None = 200
    #: Requests allowed in any window of one second.
    per_second: int | None = 150
    #: Whether a 429 carries ``Retry-After`` (seconds). Planhat does not
    #: document the header, so it is off unless a test turns it on.
    send_retry_after: bool = False
    #: Length of the per-minute window in seconds. Older Planhat docs say the
    #: window resets after 60 to 120 seconds.
    window_seconds: float = 60.0

    def __post_init__(self) -> None:
        """Reject limits that are not positive."""
        for name in ("per_minute", "per_second"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 or None, got {value}")
        if self.window_seconds <= 0:
            raise ValueError(
                f"window_seconds must be positive, got {self.window_seconds}"
            )


@dataclass(frozen=True)
class RateDecision:
    """Outcome of counting one request against a workspace's limits."""

    allowed: bool
    #: Value of ``X-Rate-Limit-Limit``.
    limit: int
    #: Value of ``X-Rate-Limit-Remaining``.
    remaining: int
    #: Seconds until a request would be allowed again; None when allowed.
    retry_after: int | None


class RateLimiter:
    """Sliding-window counter of the requests a workspace accepted.

    Rejected requests are not counted, so a client that backs off gets
    through as soon as the oldest counted request leaves the window.
    """

    def __init__(self, limit: RateLimit) -> None:
        """Create a limiter that enforces ``limit``."""
        self.limit = limit
        self._minute: deque[float] = deque()
        self._second: deque[float] = deque()
        self._lock = threading.Lock()

    def check(self, now: float) -> RateDecision:
        """Count a request made at monotonic time ``now`` unless it is over a limit."""
        limit = self.limit
        with self._lock:
            _drop_older(self._minute, now - limit.window_seconds)
            _drop_older(self._second, now - 1.0)

            waits = []
            if limit.per_minute is not None and len(self._minute) >= limit.per_minute:
                waits.append(self._minute[0] + limit.window_seconds - now)
            if limit.per_second is not None and len(self._second) >= limit.per_second:
                waits.append(self._second[0] + 1.0 - now)

            reported = (
                limit.per_minute if limit.per_minute is not None else limit.per_second
            )
            if waits:
                retry_after = max(1, math.ceil(max(waits)))
                return RateDecision(False, reported or 0, 0, retry_after)

            self._minute.append(now)
            self._second.append(now)
            if limit.per_minute is not None:
                remaining = limit.per_minute - len(self._minute)
            elif limit.per_second is not None:
                remaining = limit.per_second - len(self._second)
            else:
                remaining = 0
            return RateDecision(True, reported or 0, remaining, None)


def _drop_older(timestamps: deque[float], cutoff: float) -> None:
    while timestamps and timestamps[0] <= cutoff:
        timestamps.popleft()
