"""The sliding-window rate limiter, on a fake clock."""

from __future__ import annotations

import pytest

from planhat_api import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def send_times(limiter: RateLimiter, clock: FakeClock, count: int) -> list[float]:
    times = []
    for _ in range(count):
        limiter.acquire()
        times.append(clock.now)
    return times


def max_in_window(times: list[float], length: float) -> int:
    return max(sum(1 for t in times if start <= t < start + length) for start in times)


def test_per_minute_limit_holds_in_every_window():
    clock = FakeClock()
    limiter = RateLimiter(200, 150, clock=clock, sleep=clock.sleep)

    times = send_times(limiter, clock, 650)

    assert max_in_window(times, 60.0) == 200
    assert times[-1] >= 180.0


def test_per_second_limit_caps_bursts():
    clock = FakeClock()
    limiter = RateLimiter(10_000, 150, clock=clock, sleep=clock.sleep)

    times = send_times(limiter, clock, 1000)

    assert max_in_window(times, 1.0) == 150
    assert limiter.total_wait_seconds > 0


def test_first_requests_do_not_wait():
    clock = FakeClock()
    limiter = RateLimiter(200, 150, clock=clock, sleep=clock.sleep)

    waits = [limiter.acquire() for _ in range(150)]

    assert waits == [0.0] * 150


def test_invalid_limit_rejected():
    with pytest.raises(ValueError, match="at least 1"):
        RateLimiter(0, 150)
