"""Offset pagination over GET /tickets that stays complete while data changes.

The API pages with limit and offset over a sort, and offers no date filter
and no cursor. Two facts make naive paging lose tickets. A ticket deleted
before the current offset shifts every later ticket one place to the left,
so one is skipped. Tickets with equal sort values come back in a different
order on every request, so a run of equal values that straddles a page
boundary can be read partly twice and partly never.

Both readers below overlap each page with the one before and check that the
new page starts where the last one ended. When it does not, they step back
and read again. docs/paging.md describes the method and its cost.

Every loop is bounded. A forward page moves the offset by at least one
ticket, and a page that comes back short ends the read. Consecutive
step-backs double their distance, so they reach offset 0, where a page
always counts as continuous, within log2(2 * offset / limit + 1) requests. A
read that needs more than `max_step_backs` step-backs in all fails with
`PagingError` rather than chase a workspace that changes faster than it
can be read.
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

#: Smallest page the readers request. Pages overlap by one ticket, and a page
#: of one ticket could never move past the ticket it overlaps, so a
#: `page_size` of 1 is read in pages of 2.
MIN_PAGE_SIZE = 2
#: Step-backs allowed in one read. Each one follows tickets deleted behind
#: the offset between two requests; real workspaces need a handful.
MAX_STEP_BACKS = 100


class PagingError(RuntimeError):
    """A read that could not finish within its bounds; rerunning the sync is safe."""


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
    *,
    max_step_backs: int = MAX_STEP_BACKS,
) -> Iterator[Ticket]:
    """Yield every ticket once, in ascending `_id` order.

    `_id` is unique, so its order is stable. Each page after the first starts
    at the last ticket of the previous one; if the page starts past it, tickets
    were deleted behind the offset and the reader steps back. Tickets created
    during the read with larger ids land at the end and are read; tickets
    created with smaller ids land behind the offset, only widen the overlap,
    and are read by the next sync, since their `updateDate` is newer than
    this sync's start.

    Raises:
        PagingError: after more than `max_step_backs` step-backs.
    """
    stats = stats or PagingStats()
    limit = max(page_size, MIN_PAGE_SIZE)
    stepper = _StepBack(limit, max_step_backs, stats)
    offset = 0
    last_id: str | None = None

    while True:
        page = fetch(ID_KEY, offset, limit)
        stats.pages += 1

        if (
            offset > 0
            and last_id is not None
            and not _starts_at_or_before(page, last_id)
        ):
            offset = stepper.back_from(offset)
            continue
        stepper.reset()

        for ticket in page:
            if last_id is None or ticket[ID_KEY] > last_id:
                yield ticket

        if len(page) < limit:
            return

        last_id = max(last_id or "", page[-1][ID_KEY])
        offset = next_offset_by_id(offset, limit)


def next_offset_by_id(offset: int, limit: int) -> int:
    """Return the offset of the page after a full one in a read by `_id`.

    Pages overlap by one ticket: the next page must contain the last one read.
    """
    return offset + limit - 1


def _starts_at_or_before(page: list[Ticket], last_id: str) -> bool:
    return bool(page) and page[0][ID_KEY] <= last_id


def read_changed_since(
    fetch: FetchPage,
    page_size: int,
    cutoff: str,
    stats: PagingStats | None = None,
    *,
    max_step_backs: int = MAX_STEP_BACKS,
) -> Iterator[Ticket]:
    """Yield every ticket whose `updateDate` is at or after `cutoff`, newest first.

    `cutoff` and every `updateDate` must be UTC ISO-8601 strings of one format,
    so that string order is time order.

    The read sorts by `updateDate` descending and stops at the first page that
    reaches past the cutoff, so it costs about one request per `page_size`
    changed tickets. Each page is requested from the ticket just before the
    run of equal `updateDate` values that ended the previous page, and must
    start with a value newer than that run: then every ticket of the run, in
    whatever order the API returns it this time, lies after the page's first
    ticket, and every ticket newer than the new page's own last run is in it.

    A run that fills the page but for at most one ticket cannot be stepped
    over that way. The read then finishes with one pass over all tickets
    sorted by `_id`, which yields every ticket from the cutoff up to and
    including that run's `updateDate`.

    Raises:
        PagingError: after more than `max_step_backs` step-backs.
    """
    stats = stats or PagingStats()
    limit = max(page_size, MIN_PAGE_SIZE)
    stepper = _StepBack(limit, max_step_backs, stats)
    emitted: dict[str, str] = {}
    offset = 0
    # Every ticket newer than `bound` that existed unchanged has been read.
    bound: str | None = None

    while True:
        page = fetch(f"-{UPDATED_KEY}", offset, limit)
        stats.pages += 1

        if offset > 0 and bound is not None and not _starts_newer_than(page, bound):
            offset = stepper.back_from(offset)
            continue
        stepper.reset()

        yield from _new_tickets(page, cutoff, emitted)

        if len(page) < limit or _updated(page[-1]) < cutoff:
            return

        run_value = _updated(page[-1])
        run_start = _tail_run_start(page)
        if run_start >= 2:
            bound = run_value
            offset += run_start - 1
            continue

        # Moving the offset to the run's start would not advance, so read
        # the rest, from the cutoff up to this run, in one pass by `_id`.
        stats.tie_run_passes += 1
        rest = (
            ticket
            for ticket in read_all_by_id(
                fetch, limit, stats, max_step_backs=max_step_backs
            )
            if _updated(ticket) <= run_value
        )
        yield from _new_tickets(rest, cutoff, emitted)
        return


class _StepBack:
    """Offsets of consecutive step-backs: half a page, then twice as far each time."""

    def __init__(self, limit: int, max_step_backs: int, stats: PagingStats) -> None:
        self._first = max(1, limit // 2)
        self._max = max_step_backs
        self._stats = stats
        self._consecutive = 0

    def back_from(self, offset: int) -> int:
        if self._stats.step_backs >= self._max:
            msg = (
                f"GET /tickets: the tickets changed under the reader {self._max} times "
                "(tickets deleted behind the offset between two requests), so it "
                "stopped instead of paging on. Rerun the sync; its bookmark has not "
                "moved."
            )
            raise PagingError(msg)
        self._stats.step_backs += 1
        distance = self._first * 2**self._consecutive
        self._consecutive += 1
        return max(0, offset - distance)

    def reset(self) -> None:
        self._consecutive = 0


def _starts_newer_than(page: list[Ticket], bound: str) -> bool:
    return bool(page) and _updated(page[0]) > bound


def _tail_run_start(page: list[Ticket]) -> int:
    """Return the index where the run of equal `updateDate` ending the page starts."""
    value = _updated(page[-1])
    index = len(page) - 1
    while index > 0 and _updated(page[index - 1]) == value:
        index -= 1
    return index


def _new_tickets(
    tickets: Iterator[Ticket] | list[Ticket],
    cutoff: str,
    emitted: dict[str, str],
) -> Iterator[Ticket]:
    """Yield the tickets at or after `cutoff` not yet yielded in this version."""
    for ticket in tickets:
        updated = _updated(ticket)
        if updated < cutoff or emitted.get(ticket[ID_KEY]) == updated:
            continue
        emitted[ticket[ID_KEY]] = updated
        yield ticket


def _updated(ticket: Ticket) -> str:
    # A ticket without updateDate sorts last in descending order, like
    # MongoDB's missing values, so it compares below every cutoff.
    return ticket.get(UPDATED_KEY) or ""
