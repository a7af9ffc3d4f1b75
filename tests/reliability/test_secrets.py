"""The API token never appears in the output of tap or target, even at DEBUG through failures."""

from __future__ import annotations

import pytest

from tests.reliability.conftest import tap_config
from tests.singer_io import run_tap
from tests.target.conftest import run_target, ticket, write_singer

SECRET = "SECRET-7f3a9c1e-token"


@pytest.fixture(autouse=True)
def debug_logging(monkeypatch):
    """Run tap and target at DEBUG; they inherit the environment of the tests."""
    monkeypatch.setenv("LOGLEVEL", "DEBUG")

FAULTS = {
    "none": None,
    "persistent 503": {"kind": "status", "status": 503, "times": None},
    "401": {"kind": "status", "status": 401, "times": None},
    "403": {"kind": "status", "status": 403, "times": None},
    "closed mid-response": {"kind": "disconnect", "times": None},
    "truncated JSON": {"kind": "truncate", "times": None},
    # Every request from the second on, so that the fault hits a page the
    # sync needs even when pages past the last one are requested ahead.
    "429 with a long Retry-After": {"kind": "status", "status": 429, "retry_after": "999", "times": None},
}


@pytest.fixture
def workspace(sandbox):
    created = sandbox.add_workspace("secrets", token=SECRET, tickets=120, seed=7, companies=5)
    yield created
    sandbox.remove_workspace(created.name)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_tap_debug_output_hides_token(tmp_path, sandbox, workspace, inject, fault):
    if FAULTS[fault]:
        inject({**FAULTS[fault], "first": 2})
    config = tap_config(sandbox, workspace, page_size=50, retry_max_attempts=2)

    run = run_tap(tmp_path, config)

    # urllib3 logs every request line at DEBUG, with the path but no headers.
    assert "DEBUG    | urllib3.connectionpool" in run.stderr
    assert (run.returncode == 0) == (fault == "none")
    assert SECRET not in run.stderr
    assert SECRET not in repr(run.records + run.states + run.schemas + run.other)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_target_debug_output_hides_token(tmp_path, sandbox, workspace, inject, fault):
    if FAULTS[fault]:
        inject({**FAULTS[fault], "method": "PUT", "first": 1})
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "tickets", [ticket(n) for n in range(1, 21)], state_every=10)
    config = {
        "api_url": sandbox.url,
        "api_token": SECRET,
        "retry_initial_wait_seconds": 0.01,
        "retry_max_attempts": 2,
        "retry_max_wait_seconds": 2,
    }

    run = run_target(tmp_path, config, input_path)

    assert "DEBUG    | urllib3.connectionpool" in run.stderr
    assert (run.returncode == 0) == (fault == "none")
    assert SECRET not in run.stderr
    assert SECRET not in run.stdout


@pytest.mark.parametrize("api_url", ["http://planhat.invalid", "not a url"])
def test_config_errors_hide_token(tmp_path, api_url):
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "tickets", [ticket(1)])
    config = {"api_url": api_url, "api_token": SECRET}

    tap = run_tap(tmp_path, config)
    target = run_target(tmp_path, config, input_path)

    assert tap.returncode != 0
    assert target.returncode != 0
    assert SECRET not in tap.stderr
    assert SECRET not in target.stderr + target.stdout
