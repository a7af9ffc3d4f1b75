"""Tap settings against the sandbox: field selection, company filter, errors, limits."""

from __future__ import annotations

import json
import subprocess

import pytest

from planhat_api import ClientSettings, PlanhatClient, RateLimiter
from tap_planhat_tickets.pages import DEFAULT_REQUESTS_IN_FLIGHT
from tests.singer_io import BIN, discover, run_tap, select_only
from tests.tap.conftest import tap_config


def get_requests(sandbox, workspace):
    return sandbox.requests(workspace.name, method="GET", path="/tickets")


def test_selection_pushed_down_to_select(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=200)
    config = tap_config(sandbox, workspace)
    catalog = select_only(discover(tmp_path, config), {"subject", "status"})

    run = run_tap(tmp_path, config, catalog=catalog)

    assert run.returncode == 0, run.stderr
    assert get_requests(sandbox, workspace)[0].query["select"] == "_id,updateDate,subject,status"
    assert {frozenset(r) for r in run.records} <= {
        frozenset({"_id", "updateDate", "subject", "status"}),
        frozenset({"_id", "updateDate", "subject"}),
        frozenset({"_id", "updateDate", "status"}),
        frozenset({"_id", "updateDate"}),
    }
    assert len(run.records) == 200


def test_full_selection_sends_no_select(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=10)

    run_tap(tmp_path, tap_config(sandbox, workspace))

    assert "select" not in get_requests(sandbox, workspace)[0].query


def test_company_filter(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=1_000)
    chosen = [c["_id"] for c in workspace.companies[:2]]

    run = run_tap(tmp_path, tap_config(sandbox, workspace, company_ids=chosen))

    expected = {t["_id"] for t in workspace.tickets() if t["companyId"] in chosen}
    assert set(run.record_ids()) == expected
    assert get_requests(sandbox, workspace)[0].query["companyId"] == ",".join(chosen)


def test_long_company_list_split(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=500)
    real = [c["_id"] for c in workspace.companies]
    padding = [f"{i:024x}" for i in range(200)]

    run = run_tap(tmp_path, tap_config(sandbox, workspace, company_ids=padding + real))

    gets = get_requests(sandbox, workspace)
    # One page per chunk, plus the pages requested ahead of each.
    firsts = [r for r in gets if r.query["offset"] == "0"]
    assert len(firsts) == 3
    assert len(gets) <= 3 * DEFAULT_REQUESTS_IN_FLIGHT
    assert max(len(r.query["companyId"]) for r in gets) <= 2_000
    assert sorted(",".join(r.query["companyId"] for r in firsts).split(",")) == sorted(padding + real)
    assert len(run.records) == 500


@pytest.mark.parametrize("in_flight", [1, 4])
def test_unknown_token_fails_without_retry(tmp_path, sandbox, workspace_factory, in_flight):
    workspace_factory(tickets=10)
    before = len(sandbox.requests())
    config = {"api_url": sandbox.url, "api_token": "wrong-token-xyz", "max_requests_in_flight": in_flight}

    run = run_tap(tmp_path, config)

    assert run.returncode != 0
    assert "HTTP 401" in run.stderr
    assert "Check api_token, and that the API URL or region matches the workspace" in run.stderr
    assert "wrong-token-xyz" not in run.stderr
    assert "retrying" not in run.stderr
    # The first page, and the pages requested ahead with it.
    assert 1 <= len(sandbox.requests()) - before <= in_flight


def test_429_retried_until_window_frees(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=1_000)
    workspace.set_rate_limit(per_minute=3, per_second=None, send_retry_after=True, window_seconds=1.0)

    run = run_tap(tmp_path, tap_config(sandbox, workspace, page_size=100))

    statuses = [r.status for r in get_requests(sandbox, workspace)]
    assert run.returncode == 0, run.stderr
    assert len(set(run.record_ids())) == 1_000
    assert 429 in statuses
    # 11 pages, and the pages requested ahead past the last one.
    assert 11 <= statuses.count(200) <= 11 + DEFAULT_REQUESTS_IN_FLIGHT - 1


def test_client_paces_requests_per_window(sandbox, workspace_factory):
    workspace = workspace_factory(tickets=5)
    settings = ClientSettings.from_config(tap_config(sandbox, workspace))
    limiter = RateLimiter(1_000, 4)
    client = PlanhatClient(settings, user_agent="test/0", rate_limiter=limiter)

    for _ in range(10):
        client.request("GET", "/tickets", params={"limit": 1})

    times = [r.monotonic for r in get_requests(sandbox, workspace)]
    per_second = max(sum(1 for t in times if start <= t < start + 0.95) for start in times)
    assert len(times) == 10
    assert per_second <= 4
    assert times[-1] - times[0] >= 2.0


def test_invalid_page_size_rejected_before_requests(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=5)

    for page_size in (0, 20_000):
        run = run_tap(tmp_path, tap_config(sandbox, workspace, page_size=page_size))
        assert run.returncode != 0
        assert "page_size" in run.stderr

    assert get_requests(sandbox, workspace) == []


def test_plain_http_to_remote_host_rejected(tmp_path):
    config = {"api_url": "http://planhat.invalid", "api_token": "t"}

    run = run_tap(tmp_path, config)

    assert run.returncode != 0
    assert "plain http:// for a host that is not loopback" in run.stderr


def test_about_lists_settings():
    completed = subprocess.run(
        [str(BIN / "tap-planhat-tickets"), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )

    about = json.loads(completed.stdout)
    settings = about["settings"]["properties"]
    assert settings["api_token"]["secret"] is True
    assert about["settings"]["required"] == ["api_token"]
    assert settings["page_size"]["maximum"] == 10_000


def test_connection_test_reads_one_record(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=50)

    run = run_tap(tmp_path, tap_config(sandbox, workspace), args=("--test",))

    assert run.returncode == 0, run.stderr
    assert len(get_requests(sandbox, workspace)) == 1


def test_invalid_start_date_named(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=5)

    run = run_tap(tmp_path, tap_config(sandbox, workspace, start_date="yesterday"))

    assert run.returncode != 0
    assert "Setting start_date 'yesterday' is not an ISO-8601 date or date-time" in run.stderr
    assert get_requests(sandbox, workspace) == []


def test_invalid_bookmark_named(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=5)
    state = {"bookmarks": {"tickets": {"replication_key": "updateDate", "replication_key_value": "garbage"}}}

    run = run_tap(tmp_path, tap_config(sandbox, workspace), state=state)

    assert run.returncode != 0
    assert "The state's bookmark of stream tickets, 'garbage', is not an ISO-8601 timestamp" in run.stderr


def test_future_bookmark_warned(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=5)
    state = {"bookmarks": {"tickets": {"replication_key": "updateDate", "replication_key_value": "2999-01-01T00:00:00.000Z"}}}

    run = run_tap(tmp_path, tap_config(sandbox, workspace), state=state)

    assert run.returncode == 0, run.stderr
    assert "The bookmark 2999-01-01T00:00:00.000Z lies in the future" in run.stderr
