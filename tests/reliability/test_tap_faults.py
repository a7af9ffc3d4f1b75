"""The fault matrix of the tap: every fault type at several pages, through the CLI.

Transient faults hit one page request twice, below retry_max_attempts: the
sync finishes with every ticket exactly once and one retry per injected
failure. Persistent faults hit every request from one page on: the tap
exits non-zero within a bounded time, names the failure, and writes no
STATE with a bookmark, so a rerun reads everything again.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.reliability.conftest import FAULTS, PERSISTENT_MESSAGES, tap_config
from tests.singer_io import run_tap

TICKETS = 450
PAGE_SIZE = 100
#: Page requests of a full sync of 450 tickets at 100 a page (offsets 0, 99,
#: 198, 297 and 396).
PAGES = 5
#: The pages the matrix hits: first, middle and last. The middle one runs in
#: the quick suite, all three in the full one.
POSITIONS = (
    pytest.param(1, marks=pytest.mark.slow),
    3,
    pytest.param(5, marks=pytest.mark.slow),
)
ATTEMPTS = 4
#: Generous bound for a failing run; it normally fails within a few seconds.
FAIL_WITHIN_SECONDS = 90


def config_for(sandbox, workspace):
    # One request after another: a fault hits requests in the order they
    # arrive, and with pages requested ahead it could hit a page past the
    # last one, which the sync discards. test_prefetch_faults.py covers
    # faults with several requests in flight.
    return tap_config(
        sandbox,
        workspace,
        page_size=PAGE_SIZE,
        retry_max_attempts=ATTEMPTS,
        request_timeout_seconds=0.5,
        max_requests_in_flight=1,
    )


def page_requests(sandbox, workspace):
    return sandbox.requests(workspace.name, method="GET", path="/tickets")


def requests_matched(hook):
    """Return the requests that reached the fault's filter, delayed ones included.

    The request log has a delayed request only once it is answered, which can
    be after the test.
    """
    return hook.describe()["faults"][0]["matched"]


def bookmarks(run):
    return [state.get("bookmarks", {}).get("tickets", {}).get("replication_key_value") for state in run.states]


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_transient_fault_loses_nothing(tmp_path, sandbox, workspace_factory, inject, fault, position):
    workspace = workspace_factory(tickets=TICKETS, seed=position)
    hook = inject({**FAULTS[fault], "method": "GET", "path": "/tickets", "first": position, "times": 2})

    run = run_tap(tmp_path, config_for(sandbox, workspace))

    assert run.returncode == 0, run.stderr
    assert Counter(run.record_ids()) == Counter(t["_id"] for t in workspace.tickets())
    assert len(hook.applied) == 2
    assert requests_matched(hook) == PAGES + 2
    assert f"in {PAGES + 2} requests: {PAGES} pages, 0 step-backs" in run.stderr
    assert ", 2 retries" in run.stderr


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_persistent_fault_fails_cleanly(tmp_path, sandbox, workspace_factory, inject, fault, position):
    workspace = workspace_factory(tickets=TICKETS, seed=position)
    hook = inject({**FAULTS[fault], "method": "GET", "path": "/tickets", "first": position, "times": None})
    started = time.monotonic()

    run = run_tap(tmp_path, config_for(sandbox, workspace))

    assert run.returncode != 0
    assert time.monotonic() - started < FAIL_WITHIN_SECONDS
    assert PERSISTENT_MESSAGES[fault] in run.stderr
    assert "Check the API's status, or raise retry_max_attempts." in run.stderr
    assert [bookmark for bookmark in bookmarks(run) if bookmark] == []
    assert requests_matched(hook) == position - 1 + ATTEMPTS


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        (400, "The request was rejected as invalid"),
        (401, "Check api_token, and that the API URL or region matches the workspace"),
        (403, "The token's service account lacks permission"),
        (404, "Check api_url: the path was not found on that host."),
    ],
)
def test_client_error_fails_without_retry(tmp_path, sandbox, workspace_factory, inject, status, advice):
    workspace = workspace_factory(tickets=TICKETS)
    inject({"kind": "status", "status": status, "method": "GET", "first": 2, "times": None})

    run = run_tap(tmp_path, config_for(sandbox, workspace))

    assert run.returncode != 0
    assert f"failed with HTTP {status}" in run.stderr
    assert advice in run.stderr
    assert len(page_requests(sandbox, workspace)) == 2
    assert [bookmark for bookmark in bookmarks(run) if bookmark] == []


def test_long_retry_after_fails_at_once(tmp_path, sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=TICKETS)
    inject({"kind": "status", "status": 429, "retry_after": "3600", "method": "GET", "first": 2})

    run = run_tap(tmp_path, config_for(sandbox, workspace))

    assert run.returncode != 0
    assert "with Retry-After 3600 s, longer than retry_max_wait_seconds (2 s)" in run.stderr
    assert len(page_requests(sandbox, workspace)) == 2


def test_failed_incremental_keeps_old_bookmark(tmp_path, sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=TICKETS)
    config = config_for(sandbox, workspace)
    first = run_tap(tmp_path, config)
    old = first.last_state["bookmarks"]["tickets"]["replication_key_value"]
    for _ in range(6):
        workspace.update_random(40)
        time.sleep(0.002)
    inject({"kind": "status", "status": 503, "method": "GET", "first": 2, "times": None})

    failed = run_tap(tmp_path, config, state=first.last_state)
    sandbox.hook = None
    rerun = run_tap(tmp_path, config, state=failed.last_state or first.last_state)

    changed = {t["_id"] for t in workspace.tickets() if t["updateDate"] > old}
    assert failed.returncode != 0
    assert [bookmark for bookmark in bookmarks(failed) if bookmark and bookmark != old] == []
    assert rerun.returncode == 0, rerun.stderr
    assert changed <= set(rerun.record_ids())
