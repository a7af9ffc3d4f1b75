"""The one timestamp format of bookmarks and cutoffs."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from planhat_api import PlanhatAPIError


def format_timestamp(moment: datetime) -> str:
    """Format as UTC ISO-8601 with milliseconds, like 2021-06-24T19:38:16.000Z.

    Planhat writes its dates in this format. Bookmarks and cutoffs use it too,
    because the SDK and the paging compare them as strings, and string order
    matches time order only within one fixed-width format. A naive datetime
    is taken as UTC.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    utc = moment.astimezone(timezone.utc)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO-8601 timestamp, with `Z`, `+00:00` or `+0000` offsets.

    A value without an offset is taken as UTC.

    Raises:
        ValueError: if `value` is not an ISO-8601 timestamp.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        # Python 3.10 only parses offsets written with a colon.
        text = f"{text[:-2]}:{text[-2:]}"
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def normalise_timestamp(value: str) -> str:
    """Rewrite an ISO-8601 timestamp in the canonical format of `format_timestamp`."""
    if _is_canonical(value):
        return value
    return format_timestamp(parse_timestamp(value))


def _is_canonical(value: str) -> bool:
    # The fast path: the API already sends this format, and this check costs
    # far less than a parse on every record.
    return len(value) == 24 and value[-1] == "Z" and value[19] == "."


def parse_bookmark(bookmark: str, logger: logging.Logger) -> datetime:
    """Parse the state's bookmark, and warn when it lies more than a day ahead."""
    try:
        moment = parse_timestamp(bookmark)
    except ValueError:
        msg = (
            f"The state's bookmark of stream tickets, {bookmark!r}, is not an "
            "ISO-8601 timestamp. Fix or clear the state (in Meltano: meltano "
            "state clear STATE_ID), then rerun."
        )
        raise PlanhatAPIError(msg) from None

    if moment > datetime.now(timezone.utc) + timedelta(days=1):
        logger.warning(
            "The bookmark %s lies in the future, so no ticket updated before "
            "it is read. Clear the state if it is wrong.",
            bookmark,
        )
    return moment
