"""Offset pagination over GET /tickets that stays complete while data changes.

The API pages with limit and offset over a sort, and offers no date filter
and no cursor. Two facts make naive paging lose tickets: a ticket deleted
before the current offset shifts every later ticket one place to the left,
so one is skipped; and tickets with equal sort values come back in a
different order on every request, so a run of equal values that straddles a
page boundary can be read partly twice and partly never.

Both readers below overlap each page with the one before and check that the
new page starts where the last one ended. When it does not, they step back
and read again. docs/paging.md describes the method and its cost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Ticket = dict[str, Any]

#: Fetch one page: (sort, offset, limit) -> the tickets of that page.
FetchPage = Callable[[str, int, int], list[Ticket]]

ID_KEY = "_id"
UPDATED_KEY = "updateDate"


@dataclass
class PagingStats:
    """Counters of one read, for logs and tests."""

    pages: int = 0
    step_backs: int = 0
    tie_run_passes: int = 0


def read_all_by_id(
    fetch: FetchPage,
    page_size: int,
    stats: PagingStats | None = None,
) -> Iterator[Ticket]:
    """Yield every ticket once, in ascending `_id` order.

    `_id` is unique, so its order is stable. Each page after the first starts
    at the last ticket of the previous one; if the page starts past it, tickets
    were deleted behind the offset and the reader steps back half a page.
    Tickets created during the read get larger ids and land at the end.
    """
    stats = stats or PagingStats()
    offset = 0
    last_id: str | None = None

    while True:
        page = fetch(ID_KEY, offset, page_size)
        stats.pages += 1

        if last_id is not None and offset > 0 and not _starts_at_or_before(page, last_id):
            stats.step_backs += 1
            offset = max(0, offset - max(1, page_size // 2))
            continue

        for ticket in page:
            if last_id is None or ticket[ID_KEY] > last_id:
                yield ticket

        if len(page) < page_size:
            return

        last_id = max(last_id or "", page[-1][ID_KEY])
        # Overlap by one ticket: the next page must contain the last one read.
        offset += page_size - 1


def _starts_at_or_before(page: list[Ticket], last_id: str) -> bool:
    return bool(page) and page[0][ID_KEY] <= last_id


def read_changed_since(
    fetch: FetchPage,
    page_size: int,
    cutoff: str,
    stats: PagingStats | None = None,
) -> Iterator[Ticket]:
    """Yield every ticket whose `updateDate` is at or after `cutoff`, newest first.

    `cutoff` and every `updateDate` must be UTC ISO-8601 strings of one format,
    so that string order is time order.

    The read sorts by `updateDate` descending and stops at the first page that
    reaches past the cutoff, so it costs about one request per `page_size`
    changed tickets. Each page is requested from the ticket just before the
    run of equal `updateDate` values that ended the previous page, and must
    start with a value newer than that run: then the whole run, in whatever
    order the API returns it this time, lies inside the page. A run too long
    to fit in a page is read by a separate pass sorted by `_id`.
    """
    stats = stats or PagingStats()
    emitted: dict[str, str] = {}
    offset = 0
    # Every ticket newer than `bound` has been read; with `bound_inclusive`,
    # every ticket equal to it too.
    bound: str | None = None
    bound_inclusive = False

    while True:
        page = fetch(f"-{UPDATED_KEY}", offset, page_size)
        stats.pages += 1

        if bound is not None and not _continues_after(page, bound, bound_inclusive):
            stats.step_backs += 1
            offset = max(0, offset - max(1, page_size // 2))
            continue

        yield from _new_tickets(page, cutoff, emitted)

        if len(page) < page_size or _updated(page[-1]) < cutoff:
            return

        run_value = _updated(page[-1])
        run_start = _tail_run_start(page)
        if run_start >= 2:  # noqa: PLR2004
            bound, bound_inclusive = run_value, False
            offset += run_start - 1
            continue

        # The run fills (nearly) the whole page, so moving the offset to its
        # start would not advance. Read all its tickets by `_id` instead.
        stats.tie_run_passes += 1
        run = [t for t in read_all_by_id(fetch, page_size, stats) if _updated(t) == run_value]
        yield from _new_tickets(run, cutoff, emitted)
        bound, bound_inclusive = run_value, True
        offset += run_start + max(len(run) - 1, 0)


def _continues_after(page: list[Ticket], bound: str, inclusive: bool) -> bool:  # noqa: FBT001
    if not page:
        return False
    first = _updated(page[0])
    return first > bound or (inclusive and first == bound)


def _tail_run_start(page: list[Ticket]) -> int:
    """Return the index where the run of equal `updateDate` ending the page starts."""
    value = _updated(page[-1])
    index = len(page) - 1
    while index > 0 and _updated(page[index - 1]) == value:
        index -= 1
    return index


def _new_tickets(
    page: list[Ticket],
    cutoff: str,
    emitted: dict[str, str],
) -> Iterator[Ticket]:
    """Yield the tickets at or after `cutoff` not yet yielded in this version."""
    for ticket in page:
        updated = ticket.get(UPDATED_KEY) or ""
        if updated < cutoff or emitted.get(ticket[ID_KEY]) == updated:
            continue
        emitted[ticket[ID_KEY]] = updated
        yield ticket


def _updated(ticket: Ticket) -> str:
    # A ticket without updateDate sorts last in descending order, like
    # MongoDB's missing values, so it compares below every cutoff.
    return ticket.get(UPDATED_KEY) or ""
