"""PagePrefetcher with an in-memory fetch: order, bounds, discards, errors, shutdown."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from tap_planhat_tickets.prefetch import PagePrefetcher, PageQuery, RawPage

LIMIT = 10
STRIDE = LIMIT - 1
JOIN_SECONDS = 30


class FakeApi:
    """Return each page's offset as its body, and count the requests in flight."""

    def __init__(self, *, failing_offsets=(), hold=False):
        self.failing_offsets = set(failing_offsets)
        self.requested: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.released = threading.Event()
        if not hold:
            self.released.set()
        self._lock = threading.Lock()

    def fetch_body(self, query: PageQuery, stop: threading.Event) -> RawPage:
        with self._lock:
            self.requested.append(query.offset)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self.released.wait()
            if query.offset in self.failing_offsets:
                raise RuntimeError(f"HTTP 503 at offset {query.offset}")
            return RawPage(200, str(query.offset).encode(), datetime.now(timezone.utc))
        finally:
            with self._lock:
                self.in_flight -= 1


def query(offset):
    return PageQuery(None, "_id", offset, LIMIT)


def read(prefetcher, offsets):
    return [int(prefetcher.page(query(offset)).body) for offset in offsets]


def test_pages_arrive_in_reader_order():
    api = FakeApi()
    prefetcher = PagePrefetcher(api.fetch_body, 4)
    offsets = [k * STRIDE for k in range(8)]

    bodies = read(prefetcher, offsets)
    prefetcher.close()

    assert bodies == offsets
    # Every page in order, then at most 3 past the last, unless close()
    # cancelled them before a worker sent them.
    requested = sorted(api.requested)
    assert requested[:8] == offsets
    assert requested[8:] == [k * STRIDE for k in range(8, len(requested))]
    assert len(requested) <= 8 + 3
    assert prefetcher.join(JOIN_SECONDS)


def test_requests_in_flight_bounded():
    api = FakeApi(hold=True)
    prefetcher = PagePrefetcher(api.fetch_body, 3)
    reader = threading.Thread(target=read, args=(prefetcher, [k * STRIDE for k in range(6)]))

    reader.start()
    wait_for(lambda: api.in_flight == 3)
    api.released.set()
    reader.join(JOIN_SECONDS)
    prefetcher.close()

    assert api.max_in_flight == 3
    assert 6 <= len(api.requested) <= 6 + 2


def test_other_offset_discards_pages_ahead():
    api = FakeApi()
    prefetcher = PagePrefetcher(api.fetch_body, 4)

    first = read(prefetcher, [0, STRIDE])
    stepped_back = read(prefetcher, [5, 5 + STRIDE])
    prefetcher.close()

    assert first == [0, STRIDE]
    assert stepped_back == [5, 5 + STRIDE]
    # Pages 2 to 4 ahead of offset 9 were discarded at the step-back, and
    # the 3 ahead of offset 14 when the prefetcher closed.
    assert prefetcher.discarded_pages == 6


def test_error_of_unused_page_ignored():
    api = FakeApi(failing_offsets={3 * STRIDE})
    prefetcher = PagePrefetcher(api.fetch_body, 4)

    bodies = read(prefetcher, [0, STRIDE])
    prefetcher.close()

    assert bodies == [0, STRIDE]
    assert 3 * STRIDE in api.requested


def test_error_raised_when_page_needed():
    api = FakeApi(failing_offsets={2 * STRIDE})
    prefetcher = PagePrefetcher(api.fetch_body, 4)

    with pytest.raises(RuntimeError, match=f"HTTP 503 at offset {2 * STRIDE}"):
        read(prefetcher, [0, STRIDE, 2 * STRIDE])
    prefetcher.close()

    assert prefetcher.join(JOIN_SECONDS)


def test_close_cancels_unsent_requests():
    api = FakeApi(hold=True)
    prefetcher = PagePrefetcher(api.fetch_body, 2)
    stops: list[threading.Event] = []

    def fetch_and_keep_stop(query, stop):
        stops.append(stop)
        return api.fetch_body(query, stop)

    prefetcher._fetch_body = fetch_and_keep_stop
    reader = threading.Thread(target=read, args=(prefetcher, [0]))
    reader.start()
    wait_for(lambda: len(stops) == 2)
    api.released.set()
    reader.join(JOIN_SECONDS)
    prefetcher.close()

    # The page ahead is cancelled: its stop event ends its waits for the
    # rate limiter and for retries.
    assert stops[1].is_set()
    assert prefetcher.join(JOIN_SECONDS)


def test_closed_prefetcher_rejects_pages():
    prefetcher = PagePrefetcher(FakeApi().fetch_body, 2)
    prefetcher.close()

    with pytest.raises(RuntimeError, match="the prefetcher is closed"):
        prefetcher.page(query(0))


def test_one_in_flight_rejected():
    with pytest.raises(ValueError, match="must be 2 or more to request ahead, got 1"):
        PagePrefetcher(FakeApi().fetch_body, 1)


def wait_for(condition, timeout=JOIN_SECONDS):
    finished = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        finished.wait(0.01)
    raise AssertionError("condition not met in time")
