"""ProgressLog with a fake clock: when lines are due, their rate and totals, and 0 to disable."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from planhat_api.progress import (
    DEFAULT_PROGRESS_INTERVAL_SECONDS,
    ProgressLog,
    format_seconds,
    progress_interval,
)


class FakeClock:
    """A monotonic clock that moves only when a test advances it."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeClient:
    request_count: int = 0
    retry_count: int = 0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_progress(
    clock: FakeClock, interval: float = 60, **options: object
) -> ProgressLog:
    return ProgressLog(
        logging.getLogger("test-progress"),
        noun="tickets",
        verb="read",
        interval_seconds=interval,
        clock=clock,
        **options,
    )


def progress_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith("Progress:")
    ]


def test_no_line_before_interval(clock, caplog):
    caplog.set_level(logging.INFO)
    progress = make_progress(clock)

    progress.records = 500
    clock.advance(59.9)
    progress.log_if_due()

    assert progress_lines(caplog) == []


def test_line_due_at_interval(clock, caplog):
    caplog.set_level(logging.INFO)
    client = FakeClient(request_count=13, retry_count=2)
    progress = make_progress(clock, client=client)

    progress.records = 120_000
    clock.advance(60)
    progress.log_if_due()

    assert progress_lines(caplog) == [
        "Progress: 120,000 tickets read (2,000/s over the last 60 s), "
        "13 requests, 2 retries, 60 s elapsed"
    ]
    assert caplog.records[0].levelno == logging.INFO


def test_rate_covers_last_window_only(clock, caplog):
    caplog.set_level(logging.INFO)
    progress = make_progress(clock)
    progress.records = 6_000
    clock.advance(60)
    progress.log_if_due()

    # The second window is late, as when a page takes longer than expected.
    # The rate divides by the 75 s that actually passed.
    progress.records = 6_000 + 1_500
    clock.advance(75)
    progress.log_if_due()

    lines = progress_lines(caplog)
    assert len(lines) == 2
    assert lines[1].startswith("Progress: 7,500 tickets read (20/s over the last 75 s)")
    assert lines[1].endswith("135 s elapsed")


def test_next_line_counts_from_last_line(clock, caplog):
    caplog.set_level(logging.INFO)
    progress = make_progress(clock, interval=10)
    clock.advance(15)
    progress.log_if_due()

    # 20 s after the start, but only 5 s after the first line.
    clock.advance(5)
    progress.log_if_due()
    assert len(progress_lines(caplog)) == 1

    clock.advance(5)
    progress.log_if_due()
    assert len(progress_lines(caplog)) == 2


def test_fractional_interval(clock, caplog):
    caplog.set_level(logging.INFO)
    progress = make_progress(clock, interval=0.25)

    for _ in range(8):
        progress.records += 10
        clock.advance(0.125)
        progress.log_if_due()

    lines = progress_lines(caplog)
    assert len(lines) == 4
    assert lines[0].startswith("Progress: 20 tickets read (80/s over the last 0.25 s)")


def test_zero_interval_disables_lines(clock, caplog):
    caplog.set_level(logging.INFO)
    progress = make_progress(clock, interval=0, client=FakeClient(3, 1))

    progress.records = 1_000
    clock.advance(3_600)
    progress.log_if_due()

    assert progress_lines(caplog) == []
    assert progress.totals() == "3 requests, 1 retry, 3,600 s elapsed"


def test_totals_without_client(clock):
    progress = make_progress(clock)
    clock.advance(2.5)

    assert progress.totals() == "0 requests, 0 retries, 2.5 s elapsed"
    assert progress.elapsed_seconds == 2.5


def test_client_counts_read_at_each_line(clock, caplog):
    caplog.set_level(logging.INFO)
    client = FakeClient()
    progress = make_progress(clock, interval=1, client=client)

    client.request_count, client.retry_count = 4, 1
    clock.advance(1)
    progress.log_if_due()
    client.request_count, client.retry_count = 9, 3
    clock.advance(1)
    progress.log_if_due()

    lines = progress_lines(caplog)
    assert "4 requests, 1 retry" in lines[0]
    assert "9 requests, 3 retries" in lines[1]


def test_detail_follows_records(clock, caplog):
    caplog.set_level(logging.INFO)
    progress = make_progress(clock, interval=1, detail=lambda: "90 upserted")
    progress.records = 100
    clock.advance(1)
    progress.log_if_due()

    assert progress_lines(caplog) == [
        "Progress: 100 tickets read (100/s over the last 1.0 s), 90 upserted, "
        "0 requests, 0 retries, 1.0 s elapsed"
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.25, "0.25 s"),
        (1, "1.0 s"),
        (9.94, "9.9 s"),
        (10, "10 s"),
        (4_000.4, "4,000 s"),
    ],
)
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


@pytest.mark.parametrize(
    ("config", "seconds"),
    [
        ({}, DEFAULT_PROGRESS_INTERVAL_SECONDS),
        ({"progress_interval_seconds": None}, DEFAULT_PROGRESS_INTERVAL_SECONDS),
        ({"progress_interval_seconds": 0}, 0.0),
        ({"progress_interval_seconds": 0.25}, 0.25),
    ],
)
def test_interval_from_config(config, seconds):
    # The settings schema allows null, which Meltano sends for a setting
    # cleared with an empty value.
    assert progress_interval(config) == seconds
