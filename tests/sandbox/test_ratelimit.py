"""Per-workspace rate limiting of the sandbox."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def workspace(make_workspace):
    return make_workspace(tickets=3)


@pytest.fixture
def client(workspace, client_for):
    return client_for(workspace)


def test_rate_limit_is_off_by_default(client):
    response = client.get()

    assert response.status_code == 200
    assert "X-Rate-Limit-Limit" not in response.headers


def test_requests_within_limit_carry_headers(workspace, client):
    workspace.set_rate_limit(per_minute=3)

    responses = [client.get() for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 200]
    assert [response.headers["X-Rate-Limit-Limit"] for response in responses] == [
        "3",
        "3",
        "3",
    ]
    assert [response.headers["X-Rate-Limit-Remaining"] for response in responses] == [
        "2",
        "1",
        "0",
    ]


def test_request_over_limit_gets_429(workspace, client):
    workspace.set_rate_limit(per_minute=2)
    client.get()
    client.get()

    response = client.get()

    assert response.status_code == 429
    assert response.text == "Too many requests"
    assert response.headers["X-Rate-Limit-Limit"] == "2"
    assert response.headers["X-Rate-Limit-Remaining"] == "0"
    assert "Retry-After" not in response.headers


def test_retry_after_is_sent_when_configured(workspace, client):
    workspace.set_rate_limit(per_minute=1, send_retry_after=True)
    client.get()

    response = client.get()

    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_put_counts_against_the_limit(workspace, client):
    workspace.set_rate_limit(per_minute=1)
    client.put([])

    assert client.get().status_code == 429


def test_rejected_request_changes_nothing(workspace, client):
    workspace.set_rate_limit(per_minute=1)
    client.get()
    company = workspace.companies[0]["_id"]

    response = client.put(
        [{"sourceId": "late", "email": "a@example.com", "companyId": company}]
    )

    assert response.status_code == 429
    assert len(workspace) == 3


def test_limit_frees_up_after_window(workspace, client):
    workspace.set_rate_limit(per_minute=1, window_seconds=0.3)
    assert client.get().status_code == 200
    assert client.get().status_code == 429

    time.sleep(0.35)

    assert client.get().status_code == 200


def test_per_second_limit(workspace, client):
    workspace.set_rate_limit(per_minute=None, per_second=2)

    statuses = [client.get().status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


def test_limit_applies_per_workspace(make_workspace, workspace, client, client_for):
    other = client_for(make_workspace(tickets=1))
    workspace.set_rate_limit(per_minute=1)
    client.get()

    assert client.get().status_code == 429
    assert other.get().status_code == 200


def test_clear_rate_limit(workspace, client):
    workspace.set_rate_limit(per_minute=1)
    client.get()
    workspace.clear_rate_limit()

    response = client.get()

    assert response.status_code == 200
    assert "X-Rate-Limit-Limit" not in response.headers


def test_unauthenticated_requests_are_not_limited(workspace, client_for):
    workspace.set_rate_limit(per_minute=1)
    anonymous = client_for(None)

    assert [anonymous.get().status_code for _ in range(2)] == [401, 401]


@pytest.mark.parametrize(
    "arguments", [{"per_minute": 0}, {"per_second": -1}, {"window_seconds": 0}]
)
def test_invalid_rate_limit_is_rejected(workspace, arguments):
    with pytest.raises(ValueError, match="must be"):
        workspace.set_rate_limit(**arguments)
