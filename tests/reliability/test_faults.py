"""The sandbox's fault and change injection, over HTTP, the admin route and the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from planhat_sandbox import Fault, FaultSpecError
from planhat_sandbox.faults import parse_fault_text

SANDBOX_CLI = Path(sys.executable).parent / "planhat-sandbox"


def get(sandbox, workspace, **params):
    return requests.get(
        f"{sandbox.url}/tickets",
        params={"sort": "_id", "limit": 10, **params},
        headers={"Authorization": f"Bearer {workspace.token}"},
        timeout=10,
    )


def test_status_hits_chosen_requests(sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=30)
    inject({"kind": "status", "status": 503, "method": "GET", "path": "/tickets", "first": 2, "times": 2})

    statuses = [get(sandbox, workspace).status_code for _ in range(5)]

    assert statuses == [200, 503, 503, 200, 200]


def test_429_with_and_without_retry_after(sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=5)
    inject(
        {"kind": "status", "status": 429, "retry_after": 3, "first": 1},
        {"kind": "status", "status": 429, "first": 2},
    )

    first = get(sandbox, workspace)
    second = get(sandbox, workspace)

    assert first.status_code == 429
    assert first.headers["Retry-After"] == "3"
    assert first.text == "Too many requests"
    assert second.status_code == 429
    assert "Retry-After" not in second.headers


def test_persistent_fault_hits_every_request(sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=5)
    hook = inject({"kind": "status", "status": 500, "first": 3, "times": None})

    statuses = [get(sandbox, workspace).status_code for _ in range(6)]

    assert statuses == [200, 200, 500, 500, 500, 500]
    assert len(hook.hits_of("status")) == 4


def test_request_numbers_select_requests(sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=5)
    get(sandbox, workspace)
    after = sandbox.requests()[-1].sequence
    inject({"kind": "status", "status": 502, "requests": [after + 2], "times": None})

    statuses = [get(sandbox, workspace).status_code for _ in range(3)]

    assert statuses == [200, 502, 200]


def test_method_filter_leaves_other_requests(sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=5)
    inject({"kind": "status", "status": 500, "method": "PUT", "times": None})

    assert get(sandbox, workspace).status_code == 200


def test_delay_exceeds_client_timeout(sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=5)
    inject({"kind": "delay", "seconds": 3, "first": 1})

    with pytest.raises(requests.Timeout):
        requests.get(
            f"{sandbox.url}/tickets",
            headers={"Authorization": f"Bearer {workspace.token}"},
            timeout=0.5,
        )
    assert get(sandbox, workspace).status_code == 200


def test_disconnect_cuts_body(sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=20)
    inject({"kind": "disconnect"})

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(sandbox, workspace)
    assert len(get(sandbox, workspace).json()) == 10


def test_truncate_sends_invalid_json(sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=20)
    inject({"kind": "truncate"})

    response = get(sandbox, workspace)

    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_item_error_rejects_chosen_items(sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=0)
    company = workspace.companies[0]["_id"]
    inject(
        {
            "kind": "item_error",
            "method": "PUT",
            "source_ids": ["S-2"],
            "array": "updatedErrors",
            "message": "ticket is locked",
        },
    )
    items = [{"sourceId": f"S-{n}", "email": f"u{n}@example.com", "companyId": company} for n in (1, 2, 3)]

    response = requests.put(
        f"{sandbox.url}/tickets",
        json=items,
        headers={"Authorization": f"Bearer {workspace.token}"},
        timeout=10,
    )

    body = response.json()
    assert response.status_code == 206
    assert body["updatedErrors"] == [{"sourceId": "S-2", "message": "ticket is locked"}]
    assert sorted(t["externalId"] for t in workspace.tickets()) == ["S-1", "S-3"]


def test_change_after_nth_request(sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=50)
    inject(
        {"kind": "change", "action": "delete", "count": 5, "method": "GET", "first": 2},
        {"kind": "change", "action": "create", "count": 3, "method": "GET", "first": 2},
    )

    first = get(sandbox, workspace)
    assert len(workspace) == 50
    get(sandbox, workspace)

    assert first.status_code == 200
    assert len(workspace) == 48


@pytest.mark.parametrize(
    ("pick", "expected"),
    [("lowest-id", slice(0, 3)), ("highest-id", slice(-3, None))],
)
def test_change_picks_by_id(sandbox, workspace_factory, inject, pick, expected):
    workspace = workspace_factory(tickets=20)
    ids = sorted(t["_id"] for t in workspace.tickets())
    inject({"kind": "change", "action": "delete", "count": 3, "pick": pick})

    get(sandbox, workspace)

    remaining = {t["_id"] for t in workspace.tickets()}
    assert remaining.isdisjoint(ids[expected])
    assert len(remaining) == 17


def test_update_moves_ticket_to_newest(sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=20)
    oldest = min(workspace.tickets(), key=lambda t: t["updateDate"])
    inject({"kind": "change", "action": "update", "count": 1, "pick": "oldest"})

    get(sandbox, workspace)

    newest = max(workspace.tickets(), key=lambda t: t["updateDate"])
    assert newest["_id"] == oldest["_id"]


def test_create_below_existing_ids(sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=20)
    lowest = min(t["_id"] for t in workspace.tickets())
    inject({"kind": "change", "action": "create", "count": 2, "pick": "lowest-id"})

    get(sandbox, workspace)

    created = sorted(t["_id"] for t in workspace.tickets())[:2]
    assert all(ticket_id < lowest for ticket_id in created)
    assert len(workspace) == 22


def test_short_form_parses_lists_and_every():
    fault = parse_fault_text("kind=status,status=503,method=GET,requests=3+4,times=every")

    assert fault == Fault(kind="status", status=503, method="GET", requests=frozenset({3, 4}), times=None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind=teleport", "invalid fault kind 'teleport'"),
        ("kind=status,status=200", "status must be 400 to 599, got 200"),
        ("kind=status,first=0", "first must be 1 or more, got 0"),
        ("kind=change,action=rename", "invalid action 'rename'"),
        ("kind=status,colour=red", "unknown fault field 'colour'"),
        ("status", "expected key=value pairs"),
        ('{"kind": "delay", "seconds": "long"}', "seconds must be a number"),
    ],
)
def test_invalid_fault_named(text, message):
    with pytest.raises(FaultSpecError, match=message):
        parse_fault_text(text)


def test_admin_route_sets_and_clears_faults(sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=5)
    inject()  # removes the admin's hook after the test too
    faults_url = f"{sandbox.url}/_sandbox/faults"

    put = requests.put(faults_url, json={"faults": [{"kind": "status", "status": 503}]}, timeout=10)
    status_with_fault = get(sandbox, workspace).status_code
    listed = requests.get(faults_url, timeout=10).json()
    cleared = requests.delete(faults_url, timeout=10)

    assert put.status_code == 200
    assert status_with_fault == 503
    assert listed["faults"] == [{"kind": "status", "status": 503, "matched": 1}]
    assert listed["applied"][0]["kind"] == "status"
    assert cleared.status_code == 200
    assert get(sandbox, workspace).status_code == 200


def test_admin_route_rejects_invalid_fault(sandbox):
    response = requests.put(
        f"{sandbox.url}/_sandbox/faults", json=[{"kind": "status", "times": 0}], timeout=10
    )

    assert response.status_code == 400
    assert response.json()["message"] == "fault 1: times must be 1 or more, or null for every request, got 0"


def test_cli_fault_option_and_file(tmp_path):
    fault_file = tmp_path / "faults.json"
    fault_file.write_text(json.dumps({"faults": [{"kind": "status", "status": 502, "first": 2}]}))
    command = [
        str(SANDBOX_CLI), "serve", "--port", "0", "--workspace", "cli:cli-token:5",
        "--fault", "kind=status,status=503,first=1", "--fault-file", str(fault_file),
    ]  # fmt: skip

    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            url = process.stdout.readline().strip()
            statuses = [
                requests.get(f"{url}/tickets", headers={"Authorization": "Bearer cli-token"}, timeout=10).status_code
                for _ in range(3)
            ]
        finally:
            os.kill(process.pid, signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)

    assert statuses == [503, 502, 200]
    assert process.returncode == 0
    assert "fault injected: {'kind': 'status', 'first': 2, 'status': 502}" in stderr


def test_cli_rejects_invalid_fault_file(tmp_path):
    fault_file = tmp_path / "faults.json"
    fault_file.write_text("[{")

    completed = subprocess.run(
        [str(SANDBOX_CLI), "serve", "--port", "0", "--fault-file", str(fault_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 2
    assert f"fault file {fault_file} is not valid JSON" in completed.stderr
