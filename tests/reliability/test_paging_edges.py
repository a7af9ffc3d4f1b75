"""Adversarial cases of the paging readers, against an in-memory API with unstable ties.

Each case changes the data between two requests in a way that could make a
reader skip a ticket or loop forever. The cases are deletes behind and ahead
of the offset, updates that move tickets to the front, creates with smaller
ids, pages of one ticket, and more step-backs than the bound allows.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tap_planhat_tickets.paging import (
    PagingError,
    PagingStats,
    read_all_by_id,
    read_changed_since,
)
from tests.fake_api import FakeTicketsAPI, make_tickets

EPOCH = "2000-01-01T00:00:00.000Z"


def ids(tickets):
    return [t["_id"] for t in tickets]


def stamp(second: int) -> str:
    return f"2026-01-01T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}.000Z"


class RequestBudget:
    """Fail a test instead of hanging when a reader sends too many requests."""

    def __init__(self, api: FakeTicketsAPI, limit: int) -> None:
        self.api = api
        self.limit = limit

    def fetch(self, sort, offset, limit):
        assert len(self.api.requests) < self.limit, "the reader did not stop"
        return self.api.fetch(sort, offset, limit)


@pytest.mark.parametrize("count", [0, 1, 2, 3, 10])
def test_full_read_with_page_of_one(count):
    api = FakeTicketsAPI(make_tickets(count))

    result = ids(read_all_by_id(RequestBudget(api, 50).fetch, 1))

    assert Counter(result) == Counter(ids(api.tickets))


def test_changed_since_with_page_of_one():
    api = FakeTicketsAPI(make_tickets(10, stamps=stamp))

    result = ids(read_changed_since(RequestBudget(api, 100).fetch, 1, EPOCH))

    assert Counter(result) == Counter(ids(api.tickets))


def test_newer_tickets_deleted_behind_offset():
    # Page 1 contains two newer tickets and then a run at second 1. Both newer
    # tickets are deleted before page 2, so the page at offset 0 starts with
    # the run and can never start newer than it.
    seconds = [0, 0, 1, 1, 1, 1, 2, 3]
    tickets = make_tickets(8, stamps=lambda i: stamp(seconds[i]))
    api = FakeTicketsAPI(tickets, seed=1)
    newest = ids(tickets[6:])

    def delete_newest(request_number):
        if request_number == 2:
            api.tickets = [t for t in api.tickets if t["_id"] not in newest]

    api.on_request = delete_newest
    result = ids(read_changed_since(RequestBudget(api, 50).fetch, 4, EPOCH))

    assert set(ids(tickets[:6])) <= set(result)


def test_deletes_behind_offset_step_back_doubling():
    api = FakeTicketsAPI(make_tickets(1_000))
    original = ids(api.tickets)

    def delete_read_tickets(request_number):
        if request_number == 6:
            del api.tickets[:300]

    api.on_request = delete_read_tickets
    stats = PagingStats()
    result = ids(read_all_by_id(RequestBudget(api, 100).fetch, 50, stats))

    assert set(original[300:]) <= set(result)
    assert len(result) == len(set(result))
    # Half a page is 25 tickets: 25 + 50 + 100 + 200 reaches past 300 in 4.
    assert stats.step_backs <= 4


@pytest.mark.parametrize("where", ["behind", "ahead"])
def test_full_read_deletes_keep_others(where):
    api = FakeTicketsAPI(make_tickets(500))
    original = ids(api.tickets)
    deleted: set[str] = set()

    def delete(request_number):
        if request_number in (3, 4, 7):
            offset = api.requests[-1][1]
            start = max(0, offset - 40) if where == "behind" else offset + 60
            for ticket in api.tickets[start : start + 7]:
                deleted.add(ticket["_id"])
            api.tickets = [t for t in api.tickets if t["_id"] not in deleted]

    api.on_request = delete
    result = ids(read_all_by_id(RequestBudget(api, 100).fetch, 50))

    assert set(original) - deleted <= set(result)
    assert len(result) == len(set(result))


def test_full_read_creates_with_smaller_ids():
    api = FakeTicketsAPI(make_tickets(300, first_id=1_000))
    original = ids(api.tickets)

    def create_low(request_number):
        if request_number in (2, 3, 4):
            api.tickets.extend(make_tickets(5, first_id=request_number * 10))

    api.on_request = create_low
    result = ids(read_all_by_id(RequestBudget(api, 100).fetch, 40))

    assert set(original) <= set(result)
    assert len(result) == len(set(result))


def test_changed_since_updates_move_to_front():
    tickets = make_tickets(400, stamps=lambda i: stamp(i // 3))
    api = FakeTicketsAPI(tickets, seed=2)
    updated: set[str] = set()

    def update_unread(request_number):
        if request_number in (2, 3, 5):
            # Tickets near the end, not yet read, move to the front.
            for ticket in api.tickets[: 10 * request_number : 10]:
                ticket["updateDate"] = stamp(10_000 + request_number)
                updated.add(ticket["_id"])

    api.on_request = update_unread
    result = ids(read_changed_since(RequestBudget(api, 200).fetch, 30, EPOCH))

    assert set(ids(tickets)) - updated <= set(result)


def test_changed_since_deletes_behind_offset():
    tickets = make_tickets(400, stamps=lambda i: stamp(i // 4))
    api = FakeTicketsAPI(tickets, seed=4)
    deleted: set[str] = set()

    def delete_newest(request_number):
        if request_number in (3, 4):
            newest = sorted(api.tickets, key=lambda t: t["updateDate"])[-20:]
            deleted.update(ids(newest))
            api.tickets = [t for t in api.tickets if t["_id"] not in deleted]

    api.on_request = delete_newest
    stats = PagingStats()
    result = ids(read_changed_since(RequestBudget(api, 200).fetch, 25, EPOCH, stats))

    assert set(ids(tickets)) - deleted <= set(result)
    assert stats.step_backs >= 1


def test_long_run_read_in_one_pass():
    # Two runs longer than a page: one pass by _id reads both and the rest.
    seconds = [5] * 120 + [9] * 130 + list(range(250, 300))
    tickets = make_tickets(300, stamps=lambda i: stamp(seconds[i]))
    api = FakeTicketsAPI(tickets, seed=6)
    stats = PagingStats()

    result = ids(read_changed_since(RequestBudget(api, 100).fetch, 40, EPOCH, stats))

    assert Counter(result) == Counter(ids(tickets))
    assert stats.tie_run_passes == 1


def test_step_backs_bounded():
    api = FakeTicketsAPI(make_tickets(2_000))

    def delete_every_time(request_number):
        if request_number > 1:
            del api.tickets[:30]

    api.on_request = delete_every_time

    with pytest.raises(PagingError, match="changed under the reader 5 times"):
        list(read_all_by_id(RequestBudget(api, 200).fetch, 20, max_step_backs=5))
