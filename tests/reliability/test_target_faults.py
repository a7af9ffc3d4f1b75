"""The fault matrix of the target: every fault type at each of three PUTs, through the CLI.

The input has 30 records in batches of 10, with a STATE after every 10.
Transient faults hit one PUT twice, below retry_max_attempts: the run
finishes, every ticket is in the sandbox exactly once, and the last STATE
out is the last STATE in. Persistent faults fail the run within a bounded
time with the reason, and every STATE out covers only batches that
Planhat acknowledged.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.reliability.conftest import FAULTS, PERSISTENT_MESSAGES
from tests.target.conftest import run_target, ticket, write_singer

RECORDS = 30
BATCH = 10
ATTEMPTS = 4
FAIL_WITHIN_SECONDS = 90
TOKEN = "target-faults-token"

POSITIONS = (
    pytest.param(1, marks=pytest.mark.slow),
    2,
    pytest.param(3, marks=pytest.mark.slow),
)

@pytest.fixture
def workspace(sandbox):
    """An empty workspace with companies CRM-00001 to CRM-00005, as `ticket()` expects."""
    created = sandbox.add_workspace("target-faults", token=TOKEN, seed=7, companies=5)
    yield created
    sandbox.remove_workspace(created.name)


def config_for(sandbox, **settings):
    return {
        "api_url": sandbox.url,
        "api_token": TOKEN,
        "retry_initial_wait_seconds": 0.01,
        "retry_max_wait_seconds": 2,
        "retry_max_attempts": ATTEMPTS,
        "request_timeout_seconds": 0.5,
        "batch_size_rows": BATCH,
        **settings,
    }


def write_input(tmp_path):
    path = tmp_path / "input.singer"
    states = write_singer(path, "tickets", [ticket(n) for n in range(1, RECORDS + 1)], state_every=BATCH)
    return path, states


def positions_out(run):
    return [state["bookmarks"]["tickets"]["position"] for state in run.states]


def loaded(workspace):
    return Counter(t["externalId"] for t in workspace.tickets())


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_transient_fault_loads_all_once(tmp_path, sandbox, workspace, inject, fault, position):
    input_path, states_in = write_input(tmp_path)
    hook = inject({**FAULTS[fault], "method": "PUT", "path": "/tickets", "first": position, "times": 2})

    run = run_target(tmp_path, config_for(sandbox), input_path)

    assert run.returncode == 0, run.stderr
    assert run.states[-1] == states_in[-1]
    assert loaded(workspace) == Counter(f"T-{n:05d}" for n in range(1, RECORDS + 1))
    assert len(hook.applied) == 2
    assert run.stderr.count("; retrying in") == 2


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_persistent_fault_stops_state(tmp_path, sandbox, workspace, inject, fault, position):
    input_path, _ = write_input(tmp_path)
    inject({**FAULTS[fault], "method": "PUT", "path": "/tickets", "first": position, "times": None})
    started = time.monotonic()

    run = run_target(tmp_path, config_for(sandbox), input_path)

    acknowledged = BATCH * (position - 1)
    assert run.returncode != 0
    assert time.monotonic() - started < FAIL_WITHIN_SECONDS
    assert PERSISTENT_MESSAGES[fault] in run.stderr
    assert "Summary of the failed run" in run.stderr
    assert all(position_out <= acknowledged for position_out in positions_out(run))
    assert {f"T-{n:05d}" for n in range(1, acknowledged + 1)} <= set(loaded(workspace))


@pytest.mark.parametrize("position", POSITIONS)
def test_item_error_fails_naming_key(tmp_path, sandbox, workspace, inject, position):
    input_path, _ = write_input(tmp_path)
    rejected = f"T-{BATCH * (position - 1) + 4:05d}"
    inject(
        {
            "kind": "item_error",
            "method": "PUT",
            "source_ids": [rejected],
            "array": "createdErrors",
            "message": "duplicate ticket in the help desk",
            "times": None,
        },
    )

    run = run_target(tmp_path, config_for(sandbox), input_path)

    acknowledged = BATCH * (position - 1)
    assert run.returncode != 0
    assert (
        f"the API rejected sourceId '{rejected}': duplicate ticket in the help desk (createdErrors)"
    ) in run.stderr
    assert all(position_out <= acknowledged for position_out in positions_out(run))
    assert rejected not in loaded(workspace)


def test_item_error_within_tolerance_loads_rest(tmp_path, sandbox, workspace, inject):
    input_path, states_in = write_input(tmp_path)
    inject({"kind": "item_error", "method": "PUT", "indexes": [0], "times": None, "array": "validationErrors"})

    run = run_target(tmp_path, config_for(sandbox, max_rejected_records=3), input_path)

    assert run.returncode == 0, run.stderr
    assert run.states[-1] == states_in[-1]
    assert len(loaded(workspace)) == RECORDS - 3
    assert "rejected by the API 3," in run.stderr
