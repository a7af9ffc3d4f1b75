"""Identifier and date formats of the Planhat API."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone


def format_date(epoch_ms: int) -> str:
    """Format milliseconds since the Unix epoch as ``2021-06-24T19:38:16.000Z``."""
    seconds, millis = divmod(epoch_ms, 1000)
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{millis:03d}Z"


def epoch_days(epoch_ms: int) -> int:
    """Return the whole days since the Unix epoch, as in a ticket's ``days``."""
    return epoch_ms // 86_400_000


def time_bucket(epoch_ms: int) -> list[str]:
    """Return a ticket's ``timeBucket``: year, quarter, month and week of a date in UTC.

    The vendor's example shows ``["2021", "2021-Q2", "2021-6", "2021-W26"]`` for
    2021-06-24. Week 26 there is the US week number (weeks start on Sunday and
    week 1 contains January 1), not the ISO week, which would be 25.
    """
    day = datetime.fromtimestamp(epoch_ms // 1000, tz=timezone.utc).date()
    quarter = (day.month - 1) // 3 + 1
    return [
        f"{day.year}",
        f"{day.year}-Q{quarter}",
        f"{day.year}-{day.month}",
        f"{day.year}-W{us_week(day)}",
    ]


def us_week(day: date) -> int:
    """Return the US week number of ``day``.

    US weeks start on Sunday, and week 1 is the week that contains January 1.
    """
    # The week's Saturday may fall in the next year; then the week contains
    # the next January 1 and is week 1.
    saturday = day + timedelta(days=5 - day.weekday() if day.weekday() != 6 else 6)
    if saturday.year > day.year:
        return 1
    january_first = date(day.year, 1, 1)
    sunday_based_weekday = (january_first.weekday() + 1) % 7
    return (day.timetuple().tm_yday - 1 + sunday_based_weekday) // 7 + 1


class ObjectIdGenerator:
    """Generator of 24-hex identifiers shaped like MongoDB ObjectIds.

    An id is 4 bytes of Unix seconds, 5 bytes fixed per generator and a 3-byte
    counter, as in MongoDB. Seconds never go backwards and the counter always
    grows, so every id is greater than the ids generated before it.
    """

    def __init__(self, process_bytes: int) -> None:
        """Create a generator whose middle 5 bytes are ``process_bytes``."""
        self._process = f"{process_bytes & 0xFFFFFFFFFF:010x}"
        self._seconds = 0
        self._counter = 0
        self._lock = threading.Lock()

    def generate(self, epoch_ms: int) -> str:
        """Return a new id with the timestamp ``epoch_ms``, or the last one if later."""
        with self._lock:
            self._seconds = max(self._seconds, epoch_ms // 1000)
            self._counter = (self._counter + 1) & 0xFFFFFF
            if self._counter == 0:
                # The counter wrapped after 16.7 million ids, so move to the
                # next second to keep ids increasing.
                self._seconds += 1
            return f"{self._seconds & 0xFFFFFFFF:08x}{self._process}{self._counter:06x}"
