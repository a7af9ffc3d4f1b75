"""Unit tests of the paging readers against an in-memory API with unstable ties."""

from __future__ import annotations

from collections import Counter

import pytest

from tap_planhat_tickets.paging import PagingStats, read_all_by_id, read_changed_since
from tests.fake_api import FakeTicketsAPI, make_tickets


def ids(tickets):
    return [t["_id"] for t in tickets]


@pytest.mark.parametrize(("count", "page_size"), [(0, 10), (1, 10), (10, 10), (95, 10), (100, 10), (101, 7)])
def test_full_read_returns_each_ticket_once(count, page_size):
    api = FakeTicketsAPI(make_tickets(count))

    result = ids(read_all_by_id(api.fetch, page_size))

    assert sorted(result) == sorted(ids(api.tickets))
    assert len(result) == len(set(result))


def test_full_read_request_count_overlaps_by_one():
    api = FakeTicketsAPI(make_tickets(100_000))

    list(read_all_by_id(api.fetch, 10_000))

    # Offsets 0, 9999, ..., 89991, then 99990 returns the last 10 tickets.
    assert len(api.requests) == 11


def test_full_read_survives_deletes_behind_offset():
    api = FakeTicketsAPI(make_tickets(100))
    original = set(ids(api.tickets))
    deleted: set[str] = set()

    def delete_read_tickets(request_number):
        if request_number in (3, 5):
            for ticket in api.tickets[:3]:
                deleted.add(ticket["_id"])
            del api.tickets[:3]

    api.on_request = delete_read_tickets
    stats = PagingStats()
    result = ids(read_all_by_id(api.fetch, 10, stats))

    assert original - deleted <= set(result)
    assert len(result) == len(set(result))
    assert stats.step_backs >= 1


def test_changed_since_stops_after_cutoff_page():
    tickets = make_tickets(1000, stamps=lambda i: f"2026-01-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000Z")
    api = FakeTicketsAPI(tickets)
    cutoff = tickets[-50]["updateDate"]

    result = ids(read_changed_since(api.fetch, 100, cutoff))

    assert sorted(result) == sorted(ids(tickets[-50:]))
    assert len(api.requests) == 1


def test_changed_since_keeps_tie_runs_across_pages():
    # Runs of 7 equal stamps, pages of 10: every boundary splits a run, and
    # the fake API shuffles each run on every request.
    tickets = make_tickets(500, stamps=lambda i: f"2026-01-01T00:{i // 7 // 60:02d}:{i // 7 % 60:02d}.000Z")
    api = FakeTicketsAPI(tickets, seed=3)

    result = ids(read_changed_since(api.fetch, 10, "2000-01-01T00:00:00.000Z"))

    assert Counter(result) == Counter(ids(tickets))


def test_changed_since_reads_run_longer_than_page():
    same = "2026-01-01T00:00:00.000Z"
    tickets = make_tickets(60, stamps=lambda i: same if 10 <= i < 45 else f"2026-01-02T00:00:{i:02d}.000Z")
    api = FakeTicketsAPI(tickets, seed=5)
    stats = PagingStats()

    result = ids(read_changed_since(api.fetch, 10, "2000-01-01T00:00:00.000Z", stats))

    assert sorted(result) == sorted(ids(tickets))
    assert len(result) == len(set(result))
    assert stats.tie_run_passes == 1
