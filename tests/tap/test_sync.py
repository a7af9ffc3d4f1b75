"""The tap CLI against the sandbox: full and incremental syncs, counted in requests."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from tap_planhat_tickets.pages import DEFAULT_REQUESTS_IN_FLIGHT
from tap_planhat_tickets.timestamps import format_timestamp, parse_timestamp
from tests.singer_io import run_tap
from tests.tap.conftest import tap_config


def get_requests(sandbox, workspace):
    return sandbox.requests(workspace.name, method="GET", path="/tickets")


def test_full_sync_returns_every_ticket_once(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=2_500)

    run = run_tap(tmp_path, tap_config(sandbox, workspace, page_size=1_000))

    assert run.returncode == 0, run.stderr
    assert Counter(run.record_ids()) == Counter(t["_id"] for t in workspace.tickets())


def test_full_sync_ends_on_short_page(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=2_500)

    run_tap(tmp_path, tap_config(sandbox, workspace, page_size=1_000, max_requests_in_flight=1))

    gets = get_requests(sandbox, workspace)
    # Pages overlap by one ticket: offsets 0, 999 and 1998; the third returns 502.
    assert [int(r.query["offset"]) for r in gets] == [0, 999, 1998]
    assert [r.items for r in gets] == [1000, 1000, 502]
    assert {r.query["sort"] for r in gets} == {"_id"}


@pytest.mark.parametrize("in_flight", [1, 4])
def test_full_sync_of_empty_workspace(tmp_path, sandbox, workspace_factory, in_flight):
    workspace = workspace_factory(tickets=0)

    run = run_tap(tmp_path, tap_config(sandbox, workspace, max_requests_in_flight=in_flight))

    assert run.returncode == 0, run.stderr
    assert run.records == []
    # The empty first page is the last one; the pages requested ahead with it
    # are the only extra requests.
    assert 1 <= len(get_requests(sandbox, workspace)) <= in_flight


def test_records_keep_values_as_stored(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=300)

    run = run_tap(tmp_path, tap_config(sandbox, workspace))

    stored = {t["_id"]: t for t in workspace.tickets()}
    for record in run.records:
        assert record == stored[record["_id"]]


def test_bookmark_is_max_update_date(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=500)

    run = run_tap(tmp_path, tap_config(sandbox, workspace))

    bookmark = run.last_state["bookmarks"]["tickets"]
    assert bookmark["replication_key"] == "updateDate"
    assert bookmark["replication_key_value"] == max(t["updateDate"] for t in workspace.tickets())


@pytest.mark.slow
def test_full_sync_of_100k_costs_11_requests(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=100_000)

    run = run_tap(tmp_path, tap_config(sandbox, workspace, page_size=10_000))

    assert run.returncode == 0, run.stderr
    assert len(set(run.record_ids())) == 100_000
    assert "11 pages, 0 step-backs" in run.stderr
    # The 11 pages, and the pages requested ahead past the last one.
    assert len(get_requests(sandbox, workspace)) <= 11 + DEFAULT_REQUESTS_IN_FLIGHT - 1


@pytest.mark.slow
def test_incremental_after_50_changes_costs_2_requests(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=100_000)
    config = tap_config(sandbox, workspace, page_size=10_000)
    first = run_tap(tmp_path, config)
    changed = set(workspace.update_random(50))
    sandbox.clear_requests()

    second = run_tap(tmp_path, config, state=first.last_state)

    assert second.returncode == 0, second.stderr
    assert changed <= set(second.record_ids())
    assert len(get_requests(sandbox, workspace)) <= 2


def test_incremental_reads_changes_and_new_tickets(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=3_000)
    config = tap_config(sandbox, workspace, page_size=500, lookback_window_minutes=0)
    first = run_tap(tmp_path, config)
    bookmark = first.last_state["bookmarks"]["tickets"]["replication_key_value"]
    at_bookmark = {t["_id"] for t in workspace.tickets() if t["updateDate"] == bookmark}
    updated = set(workspace.update_random(40, status="escalated"))
    created = set(workspace.create_random(15))
    sandbox.clear_requests()

    second = run_tap(tmp_path, config, state=first.last_state)

    records = {r["_id"]: r for r in second.records}
    assert {records[i]["status"] for i in updated} == {"escalated"}
    # The cutoff is inclusive, so tickets stamped exactly at the bookmark come again.
    assert set(records) == updated | created | at_bookmark
    gets = get_requests(sandbox, workspace)
    assert {r.query["sort"] for r in gets} == {"-updateDate"}
    assert len(gets) == 1


def test_incremental_bookmark_advances(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=1_000)
    config = tap_config(sandbox, workspace)
    first = run_tap(tmp_path, config)
    workspace.update_random(5)

    second = run_tap(tmp_path, config, state=first.last_state)

    old = first.last_state["bookmarks"]["tickets"]["replication_key_value"]
    new = second.last_state["bookmarks"]["tickets"]["replication_key_value"]
    assert new > old
    assert new == max(t["updateDate"] for t in workspace.tickets())


def test_lookback_window_rereads_recent_tickets(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=2_000)
    stamps = sorted({t["updateDate"] for t in workspace.tickets()})
    older = stamps[len(stamps) // 2]
    bookmark = format_timestamp(parse_timestamp(older) + timedelta(minutes=2))
    state = {"bookmarks": {"tickets": {"replication_key": "updateDate", "replication_key_value": bookmark}}}

    run = run_tap(tmp_path, tap_config(sandbox, workspace, lookback_window_minutes=5), state=state)

    cutoff = format_timestamp(parse_timestamp(bookmark) - timedelta(minutes=5))
    expected = {t["_id"] for t in workspace.tickets() if t["updateDate"] >= cutoff}
    assert older >= cutoff
    assert set(run.record_ids()) == expected


def test_start_date_limits_first_sync(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=2_000)
    stamps = sorted(t["updateDate"] for t in workspace.tickets())
    start = stamps[1_500]

    run = run_tap(tmp_path, tap_config(sandbox, workspace, start_date=start, page_size=200))

    expected = {t["_id"] for t in workspace.tickets() if t["updateDate"] >= start}
    assert set(run.record_ids()) == expected
    assert len(get_requests(sandbox, workspace)) < 2_000 / 200


def test_unlisted_fields_kept(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=0)
    company = workspace.companies[0]["_id"]
    workspace.upsert([{"sourceId": "X-1", "email": "a@example.com", "companyId": company, "priorityScore": 3, "name": "Ana"}])

    run = run_tap(tmp_path, tap_config(sandbox, workspace))

    assert run.records[0]["unlistedFields"] == {"priorityScore": 3, "name": "Ana"}
    assert run.records[0]["externalId"] == "X-1"
