"""Property-based test of P1 to P4: generated workspaces, page sizes and change schedules.

It calls the paging readers in-process, through the real PlanhatClient and
HTTP against the sandbox, because starting the tap CLI for every example
would take most of the time. The CLI itself is covered by the guarantee
tests beside this one.

Each example builds a workspace from seeded tickets and runs of equal
updateDate; each run is one PUT, so its tickets share one timestamp. It
picks a page size and a read (full, or incremental from a cutoff), and
changes the data after chosen page requests. Then a second, incremental read from
the bookmark the SDK would store, min(newest updateDate seen, sync start),
stands in for the next sync.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planhat_api import ClientSettings, PlanhatClient
from planhat_sandbox import Fault, FaultHook
from planhat_sandbox.faults import PICKS
from tap_planhat_tickets.paging import read_all_by_id, read_changed_since
from tap_planhat_tickets.timestamps import format_timestamp
from tests.reliability.conftest import stamp_run

EPOCH = "2000-01-01T00:00:00.000Z"
_numbers = itertools.count(1)

changes = st.lists(
    st.builds(
        Fault,
        kind=st.just("change"),
        method=st.just("GET"),
        first=st.integers(1, 8),
        action=st.sampled_from(["update", "create", "delete"]),
        count=st.integers(1, 25),
        pick=st.sampled_from(PICKS),
    ),
    max_size=4,
)


def make_fetch(client):
    def fetch(sort, offset, limit):
        response = client.request("GET", "/tickets", params={"sort": sort, "offset": offset, "limit": limit})
        return response.data

    return fetch


def snapshot(workspace):
    return {t["_id"]: t["updateDate"] for t in workspace.tickets()}


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seeded=st.integers(0, 250),
    runs=st.lists(st.integers(1, 90), max_size=6),
    page_size=st.integers(1, 60),
    incremental=st.booleans(),
    cutoff_rank=st.floats(0, 1),
    schedule=changes,
)
def test_paging_properties(sandbox, seeded, runs, page_size, incremental, cutoff_rank, schedule):
    number = next(_numbers)
    workspace = sandbox.add_workspace(
        f"prop{number}", token=f"prop-token-{number}", tickets=seeded, seed=number, companies=3
    )
    try:
        for length in runs:
            stamp_run(workspace, length)
        check_example(sandbox, workspace, page_size, incremental, cutoff_rank, schedule)
    finally:
        sandbox.hook = None
        sandbox.remove_workspace(workspace.name)


def check_example(sandbox, workspace, page_size, incremental, cutoff_rank, schedule):
    client = PlanhatClient(
        ClientSettings(base_url=sandbox.url, api_token=workspace.token, max_requests_per_minute=1_000_000),
        user_agent="paging-properties/0",
    )
    fetch = make_fetch(client)
    before = snapshot(workspace)
    cutoff = None
    if incremental:
        stamps = sorted(set(before.values()))
        cutoff = stamps[int(cutoff_rank * (len(stamps) - 1))] if stamps else EPOCH

    # The first sync, with the scheduled changes between its page requests.
    started = format_timestamp(datetime.now(timezone.utc))
    sandbox.hook = FaultHook(schedule)
    if cutoff is None:
        first = list(read_all_by_id(fetch, page_size))
    else:
        first = list(read_changed_since(fetch, page_size, cutoff))
    sandbox.hook = None
    after = snapshot(workspace)

    # The next sync starts from the bookmark the SDK would store.
    bookmark = min(max((t["updateDate"] for t in first), default=started), started)
    second = list(read_changed_since(fetch, page_size, min(bookmark, cutoff or bookmark)))
    client.close()

    wanted = set(before) if cutoff is None else {i for i, s in before.items() if s >= cutoff}
    unchanged = {i for i in wanted if after.get(i) == before[i]}
    changed = {(i, s) for i, s in after.items() if before.get(i) != s}
    first_ids = Counter(t["_id"] for t in first)
    versions = {(t["_id"], t["updateDate"]) for t in [*first, *second]}

    # P1, P4: without changes, each wanted ticket exactly once, runs of equal
    # updateDate included.
    if not schedule:
        assert first_ids == Counter(wanted)
    # P2, P3, P4: every ticket unchanged during the sync is read by it ...
    assert unchanged <= set(first_ids)
    # ... and every change made during it arrives in it or in the next one.
    assert changed <= versions
    # A full sync never emits a ticket twice, whatever changes.
    if cutoff is None:
        assert max(first_ids.values(), default=1) == 1
