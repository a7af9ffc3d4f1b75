"""Client-side pacing that keeps requests under Planhat's rate limits."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """Sliding-window limiter: at most N requests per minute and S per second.

    Each window remembers the send times of its last requests, so the limit
    holds for every window of that length, not only for aligned clock minutes.
    Safe to share between threads.
    """

    def __init__(
        self,
        max_per_minute: int,
        max_per_second: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Create a limiter; `clock` and `sleep` are replaceable for tests."""
        if max_per_minute < 1 or max_per_second < 1:
            msg = (
                f"Rate limits must be at least 1, got {max_per_minute} per minute "
                f"and {max_per_second} per second."
            )
            raise ValueError(msg)

        self._windows = (
            (60.0, max_per_minute, deque[float]()),
            (1.0, max_per_second, deque[float]()),
        )
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        #: Seconds spent waiting for a free slot, summed over all calls.
        self.total_wait_seconds = 0.0

    def acquire(self, stop: threading.Event | None = None) -> float | None:
        """Block until a request may go out, record it, and return the wait (s).

        With `stop`, the wait ends as soon as `stop` is set: the call then
        returns None and records no request.
        """
        waited = 0.0
        while True:
            if stop is not None and stop.is_set():
                return None
            with self._lock:
                now = self._clock()
                wait = self._wait_needed(now)
                if wait <= 0:
                    for _, _, sent in self._windows:
                        sent.append(now)
                    self.total_wait_seconds += waited
                    return waited
            # Threads that find no free slot sleep outside the lock and
            # check again, so each send time is taken and recorded under it.
            if stop is None:
                self._sleep(wait)
            else:
                stop.wait(wait)
            waited += wait

    def _wait_needed(self, now: float) -> float:
        wait = 0.0
        for length, limit, sent in self._windows:
            while sent and sent[0] <= now - length:
                sent.popleft()
            if len(sent) >= limit:
                wait = max(wait, sent[0] + length - now)
        return wait
