"""Admin routes under /_sandbox/ that drive a running sandbox."""

from __future__ import annotations

import pytest
import requests


@pytest.fixture
def admin(sandbox):
    session = requests.Session()
    base = f"{sandbox.url}/_sandbox"

    def call(method, path, body=None):
        return session.request(method, base + path, json=body, timeout=30)

    yield call
    session.close()


@pytest.fixture
def workspace(make_workspace):
    return make_workspace(tickets=200, seed=4)


def test_health(admin):
    response = admin("GET", "/health")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_create_workspace_and_read_it(sandbox, admin, client_for):
    response = admin(
        "POST",
        "/workspaces",
        {"name": "created", "token": "token-created", "tickets": 25, "seed": 3},
    )
    try:
        assert response.status_code == 201
        assert response.json()["tickets"] == 25
        assert "token" not in response.json()
        assert len(client_for("token-created").tickets()) == 25
    finally:
        sandbox.remove_workspace("created")


def test_created_workspace_is_deterministic(sandbox, admin):
    first = admin(
        "POST",
        "/workspaces",
        {"name": "det-1", "token": "det-1", "tickets": 30, "seed": 11},
    )
    second = admin(
        "POST",
        "/workspaces",
        {"name": "det-2", "token": "det-2", "tickets": 30, "seed": 11},
    )
    try:
        assert first.status_code == second.status_code == 201
        assert (
            sandbox.workspace("det-1").tickets() == sandbox.workspace("det-2").tickets()
        )
    finally:
        sandbox.remove_workspace("det-1")
        sandbox.remove_workspace("det-2")


def test_duplicate_workspace_name_is_409(admin, workspace):
    response = admin(
        "POST", "/workspaces", {"name": workspace.name, "token": "fresh-token"}
    )

    assert response.status_code == 409
    assert "already exists" in response.json()["message"]


def test_duplicate_token_is_409(admin, workspace):
    response = admin(
        "POST", "/workspaces", {"name": "fresh-name", "token": workspace.token}
    )

    assert response.status_code == 409
    assert workspace.token not in response.text


@pytest.mark.parametrize(
    ("body", "message_part"),
    [
        ({"token": "t"}, "needs string fields 'name' and 'token'"),
        ({"name": "bad name", "token": "t"}, "invalid workspace name"),
        ({"name": "ok", "token": "t", "tickets": -1}, "tickets must be at least 0"),
        ({"name": "ok", "token": "t", "tickets": "5"}, "tickets must be an integer"),
    ],
)
def test_invalid_workspace_is_400(admin, body, message_part):
    response = admin("POST", "/workspaces", body)

    assert response.status_code == 400
    assert message_part in response.json()["message"]


def test_list_workspaces(admin, workspace):
    names = [
        entry["name"] for entry in admin("GET", "/workspaces").json()["workspaces"]
    ]

    assert workspace.name in names


def test_stats(admin, workspace):
    stats = admin("GET", f"/workspaces/{workspace.name}/stats").json()

    assert stats["tickets"] == 200
    assert sum(stats["by_status"].values()) + stats["without_status"] == 200
    assert stats["by_status"] == workspace.status_counts()
    assert stats["read_only"] is False
    assert stats["rate_limit"] is None


def test_stats_of_unknown_workspace_is_404(admin):
    response = admin("GET", "/workspaces/nobody/stats")

    assert response.status_code == 404
    assert "no workspace named 'nobody'" in response.json()["message"]


def test_companies(admin, workspace):
    companies = admin("GET", f"/workspaces/{workspace.name}/companies").json()[
        "companies"
    ]

    assert companies == workspace.companies
    assert all(
        set(company) == {"_id", "name", "externalId", "domains"}
        for company in companies
    )


def test_update_random(admin, workspace):
    before = {ticket["_id"]: ticket for ticket in workspace.tickets()}

    ids = admin(
        "POST", f"/workspaces/{workspace.name}/update-random", {"count": 7}
    ).json()["ids"]

    assert len(set(ids)) == 7
    after = [workspace.ticket(ticket_id) for ticket_id in ids]
    assert len({ticket["updateDate"] for ticket in after}) == 1
    assert all(
        ticket["updateDate"] > before[ticket["_id"]]["updateDate"] for ticket in after
    )
    assert all(ticket["status"] != before[ticket["_id"]]["status"] for ticket in after)
    assert all(ticket["history"][-1]["status"] == ticket["status"] for ticket in after)
    assert len(workspace) == 200


def test_update_random_with_status(admin, workspace):
    ids = admin(
        "POST",
        f"/workspaces/{workspace.name}/update-random",
        {"count": 3, "status": "archived"},
    ).json()["ids"]

    assert [workspace.ticket(ticket_id)["status"] for ticket_id in ids] == [
        "archived"
    ] * 3


def test_create_random(admin, workspace):
    newest_before = max(ticket["_id"] for ticket in workspace.tickets())

    ids = admin(
        "POST", f"/workspaces/{workspace.name}/create-random", {"count": 4}
    ).json()["ids"]

    assert len(workspace) == 204
    assert all(ticket_id > newest_before for ticket_id in ids)
    assert all(workspace.ticket(ticket_id)["email"] for ticket_id in ids)


def test_delete_random(admin, workspace):
    ids = admin(
        "POST", f"/workspaces/{workspace.name}/delete-random", {"count": 5}
    ).json()["ids"]

    assert len(workspace) == 195
    assert all(workspace.ticket(ticket_id) is None for ticket_id in ids)


def test_change_count_is_required(admin, workspace):
    response = admin("POST", f"/workspaces/{workspace.name}/create-random", {})

    assert response.status_code == 400
    assert "missing integer field 'count'" in response.json()["message"]


def test_set_and_clear_rate_limit(admin, workspace, client_for):
    settings = {"per_minute": 1, "send_retry_after": True}
    assert (
        admin("PUT", f"/workspaces/{workspace.name}/rate-limit", settings).status_code
        == 200
    )
    client = client_for(workspace)
    client.get()

    limited = client.get()
    admin("DELETE", f"/workspaces/{workspace.name}/rate-limit")

    assert limited.status_code == 429
    assert "Retry-After" in limited.headers
    assert client.get().status_code == 200


def test_invalid_rate_limit_is_400(admin, workspace):
    response = admin(
        "PUT", f"/workspaces/{workspace.name}/rate-limit", {"per_minute": 0}
    )

    assert response.status_code == 400
    assert "at least 1" in response.json()["message"]


def test_set_read_only(admin, workspace, client_for):
    assert (
        admin(
            "PUT", f"/workspaces/{workspace.name}/read-only", {"read_only": True}
        ).json()["read_only"]
        is True
    )

    response = client_for(workspace).put([{"sourceId": "x", "email": "a@example.com"}])

    assert response.status_code == 403


def test_delete_workspace(sandbox, admin, client_for):
    workspace = sandbox.add_workspace("to-delete", token="token-to-delete", tickets=1)

    response = admin("DELETE", f"/workspaces/{workspace.name}")

    assert response.status_code == 200
    assert client_for(workspace).get().status_code == 401


def test_unknown_admin_route_is_404(admin):
    assert admin("GET", "/nothing").status_code == 404


def test_wrong_admin_method_is_405(admin, workspace):
    assert (
        admin("GET", f"/workspaces/{workspace.name}/create-random").status_code == 405
    )


def test_admin_body_must_be_json_object(sandbox, workspace):
    url = f"{sandbox.url}/_sandbox/workspaces/{workspace.name}/create-random"

    response = requests.post(url, data=b"[1]", timeout=10)

    assert response.status_code == 400
    assert "JSON object" in response.json()["message"]
