"""The request log, read in-process and over the admin routes."""

from __future__ import annotations

import time

import pytest
import requests


@pytest.fixture
def workspace(make_workspace):
    return make_workspace(tickets=40, seed=2)


@pytest.fixture
def client(workspace, client_for, sandbox):
    sandbox.clear_requests()
    return client_for(workspace)


def test_get_is_logged_with_query_and_items(sandbox, workspace, client):
    before = time.monotonic()
    client.get(limit=15, offset=30, sort="-updateDate")

    entries = sandbox.requests(workspace=workspace.name)

    assert len(entries) == 1
    entry = entries[0]
    assert entry.workspace == workspace.name
    assert entry.method == "GET"
    assert entry.path == "/tickets"
    assert entry.query == {"limit": "15", "offset": "30", "sort": "-updateDate"}
    assert entry.status == 200
    assert entry.items == 10
    assert before <= entry.monotonic <= time.monotonic()
    assert abs(entry.wall_time - time.time()) < 60
    assert entry.duration >= 0


def test_put_logs_items_sent_including_dropped(sandbox, workspace, client):
    company = workspace.companies[0]["_id"]
    client.put(
        [
            {"sourceId": "a", "email": "a@example.com", "companyId": company},
            {"sourceId": "b"},
        ]
    )

    entry = sandbox.requests(workspace=workspace.name, method="PUT")[0]

    assert entry.items == 2
    assert entry.status == 200


def test_delete_is_logged_with_path(sandbox, workspace, client):
    ticket_id = workspace.tickets()[0]["_id"]
    client.delete(ticket_id)

    entry = sandbox.requests(workspace=workspace.name)[0]

    assert entry.method == "DELETE"
    assert entry.path == f"/tickets/{ticket_id}"
    assert entry.items is None


def test_unauthenticated_request_has_no_workspace(sandbox, client_for):
    sandbox.clear_requests()
    client_for("secret-but-wrong").get()

    entry = sandbox.requests()[-1]

    assert entry.workspace is None
    assert entry.status == 401


def test_log_never_contains_the_token(sandbox, workspace, client):
    client.get(limit=1)

    for entry in sandbox.requests():
        assert workspace.token not in repr(entry)
        assert workspace.token not in str(entry.to_dict())


def test_entries_are_in_sequence_order(sandbox, workspace, client):
    for _ in range(3):
        client.get(limit=1)

    sequences = [entry.sequence for entry in sandbox.requests(workspace=workspace.name)]

    assert sequences == sorted(sequences)
    assert len(set(sequences)) == 3


def test_filter_after_sequence(sandbox, workspace, client):
    client.get(limit=1)
    first = sandbox.requests(workspace=workspace.name)[-1].sequence
    client.get(limit=2)

    entries = sandbox.requests(workspace=workspace.name, after=first)

    assert [entry.query["limit"] for entry in entries] == ["2"]


def test_admin_requests_are_not_logged(sandbox, client):
    requests.get(f"{sandbox.url}/_sandbox/health", timeout=10)

    assert sandbox.requests() == []


def test_clear_requests(sandbox, workspace, client):
    client.get(limit=1)

    sandbox.clear_requests()

    assert sandbox.requests() == []


def test_log_over_http(sandbox, workspace, client):
    client.get(limit=3, status="open")

    body = requests.get(
        f"{sandbox.url}/_sandbox/requests",
        params={"workspace": workspace.name},
        timeout=10,
    ).json()

    assert len(body["requests"]) == 1
    entry = body["requests"][0]
    assert entry["workspace"] == workspace.name
    assert entry["query"] == {"limit": "3", "status": "open"}
    assert entry["status"] == 200
    assert isinstance(entry["monotonic"], float)


def test_clear_over_http(sandbox, workspace, client):
    client.get(limit=1)

    response = requests.delete(f"{sandbox.url}/_sandbox/requests", timeout=10)

    assert response.status_code == 200
    assert sandbox.requests() == []
