"""Full syncs with several page requests in flight, against the sandbox.

The tap requests the pages of a read by `_id` ahead of the reader. These
tests show that it emits the same tickets as one request after another and
sends at most `max_requests_in_flight - 1` requests past the last page. It
still steps back after deletes behind the offset, and it treats faults on
pages requested ahead as it treats them one request after another. It
stops at once on SIGTERM and stays within the rate limit.
"""

from __future__ import annotations

import logging
import re
import signal
import time
from collections import Counter

from planhat_api import ClientSettings, PlanhatClient, RateLimiter
from tap_planhat_tickets.pages import TicketPages
from tap_planhat_tickets.paging import read_all_by_id
from tap_planhat_tickets.prefetch import PageQuery
from tests.reliability.conftest import tap_config
from tests.reliability.test_crash_resume import start_tap, stop_tap
from tests.singer_io import run_tap

TICKETS = 1_000
PAGE_SIZE = 100
#: Offsets 0, 99, ..., 990: the eleventh page contains the last 10 tickets.
PAGES = 11
IN_FLIGHT = 4
ATTEMPTS = 4


def config_for(sandbox, workspace, in_flight=IN_FLIGHT):
    return tap_config(
        sandbox,
        workspace,
        page_size=PAGE_SIZE,
        max_requests_in_flight=in_flight,
        retry_max_attempts=ATTEMPTS,
        lookback_window_minutes=0,
    )


def page_requests(sandbox, workspace):
    return sandbox.requests(workspace.name, method="GET", path="/tickets")


def step_backs(run):
    found = re.search(r"(\d+) step-backs", run.stderr)
    assert found, run.stderr
    return int(found.group(1))


def bookmarks(run):
    return [state.get("bookmarks", {}).get("tickets", {}).get("replication_key_value") for state in run.states]


def test_same_tickets_as_one_in_flight(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=TICKETS, seed=21)

    sequential = run_tap(tmp_path, config_for(sandbox, workspace, in_flight=1))
    sequential_requests = len(page_requests(sandbox, workspace))
    several = run_tap(tmp_path, config_for(sandbox, workspace))
    # Pages requested past the last one may reach the log after the tap exited.
    time.sleep(0.5)
    several_requests = len(page_requests(sandbox, workspace)) - sequential_requests

    assert sequential.returncode == 0, sequential.stderr
    assert several.returncode == 0, several.stderr
    assert several.record_ids() == sequential.record_ids()
    assert Counter(several.record_ids()) == Counter(t["_id"] for t in workspace.tickets())
    assert sequential_requests == PAGES
    assert PAGES <= several_requests <= PAGES + IN_FLIGHT - 1


def test_step_back_after_deletes_behind_offset(tmp_path, sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=TICKETS, seed=22)
    before = {t["_id"] for t in workspace.tickets()}
    # The fifth request can only be sent once the reader has taken the first
    # page, so every page requested after the reader took page 5 is served
    # after the delete. The first such page starts past the last ticket of
    # the page before it, which was served before the delete, so the reader
    # must step back.
    inject({"kind": "change", "method": "GET", "first": IN_FLIGHT + 1, "action": "delete", "count": 5, "pick": "lowest-id"})

    run = run_tap(tmp_path, config_for(sandbox, workspace))

    after = {t["_id"] for t in workspace.tickets()}
    emitted = Counter(run.record_ids())
    assert run.returncode == 0, run.stderr
    assert len(after) == TICKETS - 5
    assert after <= set(emitted)
    assert set(emitted) <= before
    assert max(emitted.values()) == 1
    assert step_backs(run) >= 1


def test_random_changes_lose_nothing(tmp_path, sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=TICKETS, seed=23)
    before = {t["_id"]: t["updateDate"] for t in workspace.tickets()}
    inject(
        {"kind": "change", "method": "GET", "first": 3, "action": "delete", "count": 20},
        {"kind": "change", "method": "GET", "first": 3, "action": "update", "count": 20},
        {"kind": "change", "method": "GET", "first": 6, "action": "create", "count": 10, "pick": "lowest-id"},
        {"kind": "change", "method": "GET", "first": 8, "action": "delete", "count": 10, "pick": "lowest-id"},
    )

    run = run_tap(tmp_path, config_for(sandbox, workspace))

    after = {t["_id"]: t["updateDate"] for t in workspace.tickets()}
    unchanged = {i for i, stamp in before.items() if after.get(i) == stamp}
    emitted = Counter(run.record_ids())
    assert run.returncode == 0, run.stderr
    assert unchanged <= set(emitted)
    assert max(emitted.values()) == 1


def test_transient_fault_on_page_ahead(tmp_path, sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=TICKETS, seed=24)
    # Requests 2 and 3 are sent with the first page, ahead of the reader, and
    # the sync needs every page up to the eleventh.
    hook = inject({"kind": "status", "status": 503, "method": "GET", "path": "/tickets", "first": 2, "times": 2})

    run = run_tap(tmp_path, config_for(sandbox, workspace))

    assert run.returncode == 0, run.stderr
    assert Counter(run.record_ids()) == Counter(t["_id"] for t in workspace.tickets())
    assert len(hook.applied) == 2
    assert ", 2 retries" in run.stderr
    assert f"{PAGES} pages, 0 step-backs" in run.stderr
    assert run.stderr.count("failed (HTTP 503); retrying in") == 2


def test_persistent_fault_on_page_ahead(tmp_path, sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=TICKETS, seed=25)
    inject({"kind": "status", "status": 503, "method": "GET", "path": "/tickets", "first": 3, "times": None})

    run = run_tap(tmp_path, config_for(sandbox, workspace))

    assert run.returncode != 0
    assert f"failed after {ATTEMPTS} attempts; last error: HTTP 503" in run.stderr
    assert "Check the API's status, or raise retry_max_attempts." in run.stderr
    assert [bookmark for bookmark in bookmarks(run) if bookmark] == []


def test_client_error_on_page_ahead(tmp_path, sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=TICKETS, seed=26)
    inject({"kind": "status", "status": 403, "method": "GET", "path": "/tickets", "first": 2, "times": None})

    run = run_tap(tmp_path, config_for(sandbox, workspace))

    assert run.returncode != 0
    assert "failed with HTTP 403" in run.stderr
    assert "The token's service account lacks permission" in run.stderr
    assert "retrying" not in run.stderr
    assert [bookmark for bookmark in bookmarks(run) if bookmark] == []


def test_sigterm_while_pages_in_flight(tmp_path, sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=TICKETS, seed=27)
    # Every request from the sixth on hangs for a minute, so the reader waits
    # for a page while the worker threads wait for theirs.
    hook = inject({"kind": "delay", "seconds": 60, "method": "GET", "first": 6, "times": None})
    config = {**config_for(sandbox, workspace), "request_timeout_seconds": 120}

    process, *outputs = start_tap(tmp_path, config, None)
    wait_for_delayed_requests(process, outputs[1], hook, IN_FLIGHT)
    started = time.monotonic()
    stopped = stop_tap(process, *outputs, signal.SIGTERM)
    elapsed = time.monotonic() - started

    assert stopped.returncode == 128 + signal.SIGTERM
    assert "Stopped by SIGTERM before the sync completed" in stopped.stderr
    # A generous bound: the tap exits within a second or so, while each
    # delayed request would hold a thread for a minute.
    assert elapsed < 30


def wait_for_delayed_requests(process, stderr_path, hook, count, timeout=60.0):
    """Wait until `count` requests are held by the delay, failing with the tap's log."""
    deadline = time.monotonic() + timeout
    while len(hook.applied) < count:
        assert process.poll() is None, stderr_path.read_text()
        assert time.monotonic() < deadline, (
            f"{len(hook.applied)} requests delayed after {timeout} s; "
            f"the tap's log:\n{stderr_path.read_text()}"
        )
        time.sleep(0.02)


def test_rate_limit_holds_with_pages_ahead(sandbox, workspace_factory):
    workspace = workspace_factory(tickets=300, seed=28)
    # The client sends at most 2 requests in any second. The sandbox rejects
    # a third within 0.8 s, which leaves 0.2 s for the time between the
    # client's send and the server's arrival.
    workspace.set_rate_limit(per_minute=2, per_second=None, window_seconds=0.8)
    settings = ClientSettings.from_config(tap_config(sandbox, workspace))
    client = PlanhatClient(settings, user_agent="test/0", rate_limiter=RateLimiter(1_000, 2))
    pages = TicketPages(client, select=None, max_in_flight=IN_FLIGHT, logger=logging.getLogger("test"))

    def fetch(sort, offset, limit):
        return pages.fetch(PageQuery(None, sort, offset, limit)).data

    try:
        tickets = list(read_all_by_id(fetch, 50))
    finally:
        pages.close()
    time.sleep(0.5)

    served = page_requests(sandbox, workspace)
    times = sorted(entry.monotonic for entry in served)
    assert Counter(t["_id"] for t in tickets) == Counter(t["_id"] for t in workspace.tickets())
    assert [entry.status for entry in served if entry.status != 200] == []
    assert max(sum(1 for t in times if start <= t < start + 0.8) for start in times) <= 2
    # 7 pages of 50 with one ticket of overlap, and at most 3 past the last.
    assert 7 <= len(served) <= 7 + IN_FLIGHT - 1
    assert client.retry_count == 0
