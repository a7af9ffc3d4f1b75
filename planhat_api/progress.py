"""Progress lines of long runs: records, rate, requests, retries, elapsed time."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from singer_sdk import typing as th

#: Default seconds between two progress lines.
DEFAULT_PROGRESS_INTERVAL_SECONDS = 60

PROGRESS_INTERVAL_SETTING = th.Property(
    "progress_interval_seconds",
    th.NumberType(minimum=0),
    default=DEFAULT_PROGRESS_INTERVAL_SECONDS,
    title="Progress interval (seconds)",
    description=(
        "Seconds between two INFO lines that report the records so far, their rate "
        "over the last interval, the requests, the retries and the elapsed time. "
        "The tap checks once per page and the target once per batch, so a line can "
        "come later by the time one page or batch takes. 0 turns the lines off, "
        "but the summary line at the end of the run stays."
    ),
)


def progress_interval(config: Mapping[str, Any]) -> float:
    """Return a config's `progress_interval_seconds`, the default when unset or null."""
    value = config.get("progress_interval_seconds")
    return DEFAULT_PROGRESS_INTERVAL_SECONDS if value is None else float(value)


class RequestCounter(Protocol):
    """The counts of a client that progress lines report, such as `PlanhatClient`'s."""

    request_count: int
    retry_count: int


class ProgressLog:
    """Log a progress line when one is due, and the totals for the run's summary.

    The owner adds to `records` as records pass and calls `log_if_due` where
    that is cheap, such as once per page or batch. A line is due when
    `interval_seconds` have passed since the last line, or since the start
    for the first one. The rate is the records added since the last line,
    divided by the seconds since then.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        noun: str,
        verb: str,
        interval_seconds: float,
        client: RequestCounter | None = None,
        detail: Callable[[], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start the run's clock. `noun` and `verb` make "12 tickets read" in lines.

        `detail` returns text that each line shows after the records, such as
        the records loaded so far.
        """
        self._logger = logger
        self._noun = noun
        self._verb = verb
        self._detail = detail
        self._interval = interval_seconds
        self._clock = clock
        #: Client whose requests and retries the lines report; None counts 0,
        #: such as before the first request or in a dry run.
        self.client = client
        #: Records so far; the owner adds to it.
        self.records = 0

        self._started_at = clock()
        self._last_line_at = self._started_at
        self._records_at_last_line = 0

    @property
    def elapsed_seconds(self) -> float:
        """Seconds since the run's clock started."""
        return self._clock() - self._started_at

    def log_if_due(self) -> None:
        """Log a progress line at INFO if `interval_seconds` passed since the last."""
        if self._interval <= 0:
            return
        now = self._clock()
        window = now - self._last_line_at
        if window < self._interval:
            return

        rate = (self.records - self._records_at_last_line) / window
        detail = f", {self._detail()}" if self._detail else ""
        self._logger.info(
            "Progress: %s %s %s (%s/s over the last %s)%s, %s",
            format(self.records, ","),
            self._noun,
            self._verb,
            format(round(rate), ","),
            format_seconds(window),
            detail,
            self.totals(),
        )
        self._last_line_at = now
        self._records_at_last_line = self.records

    def totals(self) -> str:
        """Describe the requests, retries and elapsed time so far."""
        requests = self.client.request_count if self.client else 0
        retries = self.client.retry_count if self.client else 0
        return (
            f"{_count(requests, 'request', 'requests')}, "
            f"{_count(retries, 'retry', 'retries')}, "
            f"{format_seconds(self.elapsed_seconds)} elapsed"
        )


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number:,} {singular if number == 1 else plural}"


def format_seconds(seconds: float) -> str:
    """Format a duration as "0.25 s", "2.5 s" or "62 s", in whole seconds from 10 s."""
    if seconds >= 10:
        return f"{seconds:,.0f} s"
    if seconds >= 1:
        return f"{seconds:.1f} s"
    return f"{seconds:.2f} s"
