"""The tap's paging guarantees, shown through the tap CLI against the sandbox.

P1: a full sync while nothing changes returns every ticket exactly once.
P2: an incremental sync returns every ticket created or updated since the bookmark.
P3: tickets created, updated and deleted during a sync cost no ticket that
    existed unchanged throughout, and each changed ticket arrives in this
    sync or the next.
P4: runs of equal updateDate that straddle page boundaries, shuffled by the
    sandbox on every request, lose nothing, including a run longer than a page.
"""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from tests.reliability.conftest import stamp_run, tap_config
from tests.singer_io import run_tap

EPOCH = "2000-01-01T00:00:00Z"


def snapshot(workspace):
    """Map each ticket's _id to its updateDate."""
    return {t["_id"]: t["updateDate"] for t in workspace.tickets()}


def versions(*runs):
    """Return the (_id, updateDate) pairs that the runs emitted."""
    return {(r["_id"], r["updateDate"]) for run in runs for r in run.records}


def step_backs(run):
    """Return the step-backs that the tap's closing log line counts."""
    found = re.search(r"(\d+) step-backs", run.stderr)
    assert found, run.stderr
    return int(found.group(1))


def gets(sandbox, workspace, after=0):
    return sandbox.requests(workspace.name, method="GET", path="/tickets", after=after)


@pytest.mark.parametrize(("tickets", "page_size"), [(300, 1), (300, 7), (1_000, 99), (1_000, 1_000), (1_000, 1_001)])
def test_p1_full_sync_exactly_once(tmp_path, sandbox, workspace_factory, tickets, page_size):
    workspace = workspace_factory(tickets=tickets, seed=tickets + page_size)

    run = run_tap(tmp_path, tap_config(sandbox, workspace, page_size=page_size))

    assert run.returncode == 0, run.stderr
    assert Counter(run.record_ids()) == Counter(list(snapshot(workspace)))


def test_p1_incremental_read_exactly_once(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=1_500, seed=3)

    run = run_tap(tmp_path, tap_config(sandbox, workspace, page_size=97, start_date=EPOCH))

    assert run.returncode == 0, run.stderr
    assert Counter(run.record_ids()) == Counter(list(snapshot(workspace)))
    assert {r.query["sort"] for r in gets(sandbox, workspace)} >= {"-updateDate"}


def test_p2_incremental_returns_every_change(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=2_000, seed=4)
    config = tap_config(sandbox, workspace, page_size=40, lookback_window_minutes=0)
    first = run_tap(tmp_path, config)
    before = snapshot(workspace)
    for _ in range(30):
        workspace.update_random(5)
        # Calls within one millisecond share an updateDate. A run longer than
        # a page would add a full pass by _id, which this test does not count.
        time.sleep(0.002)
    workspace.create_random(25)
    changed = {(i, stamp) for i, stamp in snapshot(workspace).items() if before.get(i) != stamp}
    last_request = gets(sandbox, workspace)[-1].sequence

    second = run_tap(tmp_path, config, state=first.last_state)

    assert second.returncode == 0, second.stderr
    assert len(changed) > 120
    assert changed <= versions(second)
    # About 175 changes at 40 a page; a full read would take 52 pages.
    assert len(gets(sandbox, workspace, after=last_request)) < 20


CHANGES_AFTER_PAGE_3 = [
    {"kind": "change", "method": "GET", "first": 3, "action": "update", "count": 20},
    {"kind": "change", "method": "GET", "first": 3, "action": "create", "count": 10},
    {"kind": "change", "method": "GET", "first": 3, "action": "create", "count": 5, "pick": "lowest-id"},
    {"kind": "change", "method": "GET", "first": 3, "action": "delete", "count": 10},
    {"kind": "change", "method": "GET", "first": 3, "action": "delete", "count": 5, "pick": "lowest-id"},
    {"kind": "change", "method": "GET", "first": 3, "action": "delete", "count": 5, "pick": "highest-id"},
    {"kind": "change", "method": "GET", "first": 3, "action": "delete", "count": 5, "pick": "newest"},
    {"kind": "change", "method": "GET", "first": 3, "action": "update", "count": 5, "pick": "oldest"},
    {"kind": "change", "method": "GET", "first": 6, "action": "delete", "count": 15},
    {"kind": "change", "method": "GET", "first": 6, "action": "update", "count": 15},
]


def check_p3(before, after, this_run, next_run):
    """Assert P3 for a sync that saw `before` at its start and left `after`."""
    unchanged = {i for i, stamp in before.items() if after.get(i) == stamp}
    changed = {(i, stamp) for i, stamp in after.items() if before.get(i) != stamp}
    emitted = Counter(this_run.record_ids())
    assert unchanged <= set(emitted)
    assert changed <= versions(this_run, next_run)


def test_p3_changes_during_full_sync(tmp_path, sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=1_000, seed=5)
    config = tap_config(sandbox, workspace, page_size=100, lookback_window_minutes=0)
    before = snapshot(workspace)
    inject(*CHANGES_AFTER_PAGE_3)

    first = run_tap(tmp_path, config)
    after = snapshot(workspace)
    sandbox.hook = None
    second = run_tap(tmp_path, config, state=first.last_state)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert step_backs(first) >= 1
    assert len(after) == 1_000 - 40 + 15
    check_p3(before, after, first, second)
    # A full sync also emits each ticket at most once.
    assert max(Counter(first.record_ids()).values()) == 1


def test_p3_changes_during_incremental_sync(tmp_path, sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=1_500, seed=6)
    config = tap_config(sandbox, workspace, page_size=50, lookback_window_minutes=0)
    first = run_tap(tmp_path, config)
    # About 600 changes with many distinct updateDate values: 12 or more pages.
    for _ in range(120):
        workspace.update_random(5)
    before = snapshot(workspace)
    bookmark = first.last_state["bookmarks"]["tickets"]["replication_key_value"]
    changed_before = {(i, s) for i, s in before.items() if s > bookmark}
    inject(*CHANGES_AFTER_PAGE_3)

    second = run_tap(tmp_path, config, state=first.last_state)
    after = snapshot(workspace)
    sandbox.hook = None
    third = run_tap(tmp_path, config, state=second.last_state)

    assert second.returncode == 0, second.stderr
    assert third.returncode == 0, third.stderr
    # Changes since the bookmark that the sync did not change again are read by it.
    unchanged_during = {(i, s) for i, s in changed_before if after.get(i) == s}
    changed_during = {(i, s) for i, s in after.items() if before.get(i) != s}
    assert len(unchanged_during) > 400
    assert unchanged_during <= versions(second)
    assert changed_during <= versions(second, third)
    # Tickets deleted behind the offset made the reader step back.
    assert step_backs(second) >= 1


def test_p4_tie_runs_straddle_pages(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=0, seed=7)
    for length in (3, 45, 7, 49, 2, 51, 1, 60, 9, 50, 4):
        stamp_run(workspace, length)

    for start_date in (None, EPOCH):
        settings = {"start_date": start_date} if start_date else {}
        run = run_tap(tmp_path, tap_config(sandbox, workspace, page_size=50, **settings))

        assert run.returncode == 0, run.stderr
        assert Counter(run.record_ids()) == Counter(list(snapshot(workspace)))


def test_p4_run_longer_than_page(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=300, seed=8)
    for length in (5, 130, 8, 75):
        stamp_run(workspace, length)

    run = run_tap(tmp_path, tap_config(sandbox, workspace, page_size=50, start_date=EPOCH))

    assert run.returncode == 0, run.stderr
    assert Counter(run.record_ids()) == Counter(list(snapshot(workspace)))
    assert "1 passes for long runs of equal updateDate" in run.stderr


def test_p4_bulk_update_since_bookmark(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=1_000, seed=9)
    config = tap_config(sandbox, workspace, page_size=60, lookback_window_minutes=0)
    first = run_tap(tmp_path, config)
    before = snapshot(workspace)
    workspace.update_random(20)
    workspace.update_random(150)
    workspace.update_random(59)
    workspace.update_random(61)
    changed = {(i, s) for i, s in snapshot(workspace).items() if before[i] != s}

    second = run_tap(tmp_path, config, state=first.last_state)

    assert second.returncode == 0, second.stderr
    assert changed <= versions(second)


def test_p4_seeded_runs_shuffled(tmp_path, sandbox, workspace_factory):
    # Seeded workspaces give about a quarter of tickets to runs of 2 to 500.
    workspace = workspace_factory(tickets=3_000, seed=10)
    stamps = Counter(snapshot(workspace).values())

    run = run_tap(tmp_path, tap_config(sandbox, workspace, page_size=200, start_date=EPOCH))

    assert max(stamps.values()) > 200
    assert run.returncode == 0, run.stderr
    assert Counter(run.record_ids()) == Counter(list(snapshot(workspace)))
