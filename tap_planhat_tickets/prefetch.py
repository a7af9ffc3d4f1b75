"""Requests for the pages of a read by `_id`, sent before the reader needs them.

The offsets of a read by `_id` are known in advance as long as no page
fails the continuity check, because each page starts at the last ticket of
the one before (`next_offset_by_id`). `PagePrefetcher` keeps the requests
of the next pages in flight in worker threads while the reader works
through the current one, and hands each page's body to the reader when the
reader requests that offset. The reader still checks every page in order.
When it requests another offset than the one requested ahead, after a
step-back or at the start of another read, the pages requested ahead are
discarded.

Bounds, with `max_in_flight` N:

- At most N pages are requested and not yet handed to the reader. So at
  most N - 1 raw bodies wait in memory while the reader parses one page,
  and a read sends at most N - 1 requests past its last page.
- N worker threads send the requests, so at most N requests are in flight
  at once, discarded ones included.

Pages wait as raw bytes: a page of 10,000 tickets is about 19 MB of JSON
and about 200 MB once parsed, so the reader parses each one in its own
thread when its turn comes.

The workers are daemon threads. `close()` cancels every request not yet
sent and every wait for the rate limiter or a retry, and the workers then
exit. A request already sent is not interrupted: its worker exits when the
response arrives or the request times out, and the process does not wait
for it when it exits.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from planhat_api.client import RequestCancelledError
from tap_planhat_tickets.paging import next_offset_by_id


@dataclass(frozen=True)
class PageQuery:
    """The parameters of one GET /tickets page request."""

    company_filter: str | None
    sort: str
    offset: int
    limit: int

    def next_by_id(self) -> PageQuery:
        """Return the query of the page that a read by `_id` requests next."""
        return replace(self, offset=next_offset_by_id(self.offset, self.limit))


@dataclass(frozen=True)
class RawPage:
    """A page's response as it arrived: the unparsed body and when it arrived."""

    status: int
    body: bytes
    received_at: datetime


#: Send one page request and return its body, in a worker thread. Setting
#: the event cancels the request before its next attempt.
FetchBody = Callable[[PageQuery, threading.Event], RawPage]


class PagePrefetcher:
    """Keep the requests of the next pages of a read by `_id` in flight.

    Only the reader's thread may call `page`, `discard_ahead` and `close`.
    """

    def __init__(self, fetch_body: FetchBody, max_in_flight: int) -> None:
        """Create a prefetcher. The worker threads start with the first request.

        Raises:
            ValueError: if `max_in_flight` is less than 2, which leaves
                nothing to request ahead.
        """
        if max_in_flight < 2:
            msg = (
                f"max_in_flight must be 2 or more to request ahead, got {max_in_flight}"
            )
            raise ValueError(msg)
        self._fetch_body = fetch_body
        self._max_in_flight = max_in_flight
        # Requested ahead, in the order the reader will request them.
        self._ahead: deque[_PendingPage] = deque()
        self._queue: queue.SimpleQueue[_PendingPage | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._closed = False
        #: Pages requested ahead that the reader did not use. Some of them
        #: may have been cancelled before their request was sent.
        self.discarded_pages = 0

    def page(self, query: PageQuery) -> RawPage:
        """Return the page of `query`, and request the pages after it.

        Blocks until the page has arrived.

        Raises:
            Exception: the error of the page's request, the same one that
                `fetch_body` raised in the worker thread.
        """
        if self._closed:
            msg = "the prefetcher is closed; create a new one for another read"
            raise RuntimeError(msg)
        current = self._take(query)
        self._request_ahead(current.query)
        return current.result()

    def discard_ahead(self) -> None:
        """Cancel the pages requested ahead, such as at the end of a read."""
        while self._ahead:
            self._ahead.popleft().cancel.set()
            self.discarded_pages += 1

    def close(self) -> None:
        """Discard the pages requested ahead and let the worker threads exit."""
        self.discard_ahead()
        if self._closed:
            return
        self._closed = True
        for _ in self._workers:
            self._queue.put(None)

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for each worker to exit; True if all did."""
        for worker in self._workers:
            worker.join(timeout)
        return not any(worker.is_alive() for worker in self._workers)

    def _take(self, query: PageQuery) -> _PendingPage:
        if self._ahead and self._ahead[0].query == query:
            return self._ahead.popleft()
        self.discard_ahead()
        return self._submit(query)

    def _request_ahead(self, query: PageQuery) -> None:
        # The page the reader waits for is in flight too, so N - 1 go ahead.
        last = self._ahead[-1].query if self._ahead else query
        while len(self._ahead) < self._max_in_flight - 1:
            last = last.next_by_id()
            self._ahead.append(self._submit(last))

    def _submit(self, query: PageQuery) -> _PendingPage:
        if not self._workers:
            self._start_workers()
        pending = _PendingPage(query)
        self._queue.put(pending)
        return pending

    def _start_workers(self) -> None:
        for number in range(1, self._max_in_flight + 1):
            worker = threading.Thread(
                target=self._work, name=f"tickets-page-request-{number}", daemon=True
            )
            worker.start()
            self._workers.append(worker)

    def _work(self) -> None:
        while True:
            pending = self._queue.get()
            if pending is None:
                return
            if pending.cancel.is_set():
                pending.fail(RequestCancelledError("discarded before it was sent"))
                continue
            try:
                page = self._fetch_body(pending.query, pending.cancel)
            except BaseException as error:
                # Handed to the reader, which raises it if it still needs the
                # page. A worker must never exit with its page unanswered.
                pending.fail(error)
            else:
                pending.succeed(page)


class _PendingPage:
    """One page request between the reader's thread and a worker thread."""

    def __init__(self, query: PageQuery) -> None:
        self.query = query
        #: Set by the reader when it no longer needs the page.
        self.cancel = threading.Event()
        self._done = threading.Event()
        self._page: RawPage | None = None
        self._error: BaseException | None = None

    def succeed(self, page: RawPage) -> None:
        self._page = page
        self._done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._done.set()

    def result(self) -> RawPage:
        # Event.wait without a timeout can be interrupted by a signal
        # handler, so SIGTERM still stops the tap while it waits here.
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._page is not None
        return self._page
