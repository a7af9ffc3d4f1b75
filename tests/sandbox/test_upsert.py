"""PUT /tickets and DELETE /tickets/{_id} against the sandbox."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

WRITE_EXAMPLE = Path(__file__).parents[1] / "fixtures" / "ticket-write-example.json"
RESPONSE_KEYS = {
    "created", "createdErrors", "insertsKeys",
    "updated", "updatedErrors", "updatesKeys", "nonupdates", "modified",
    "upsertedIds", "permissionErrors", "validationErrors",
}  # fmt: skip


@pytest.fixture
def workspace(make_workspace):
    return make_workspace(tickets=20, seed=5)


@pytest.fixture
def client(workspace, client_for):
    return client_for(workspace)


@pytest.fixture
def company(workspace):
    return workspace.companies[0]


def new_item(company, source_id="src-1", **fields):
    return {
        "sourceId": source_id,
        "email": "requester@example.com",
        "companyId": company["_id"],
        **fields,
    }


def find(workspace, external_id):
    matches = [
        ticket
        for ticket in workspace.tickets()
        if ticket.get("externalId") == external_id
    ]
    assert len(matches) == 1, matches
    return matches[0]


def test_create_maps_write_names_to_read_names(workspace, client, company):
    item = new_item(
        company,
        title="Printer on fire 🔥",
        description="ما زال يحترق",
        type="bug",
        severity="high",
    )

    response = client.put([item])

    assert response.status_code == 200
    body = response.json()
    assert set(body) == RESPONSE_KEYS
    assert body["created"] == 1
    ticket = find(workspace, "src-1")
    assert ticket["subject"] == "Printer on fire 🔥"
    assert ticket["snippet"] == "ما زال يحترق"
    assert ticket["type"] == "ticket"
    assert ticket["subType"] == "bug"
    assert ticket["severity"] == "high"
    assert ticket["companyName"] == company["name"]
    assert "title" not in ticket
    assert "description" not in ticket
    assert "sourceId" not in ticket


def test_create_reports_keys_and_ids(workspace, client, company):
    body = client.put([new_item(company)]).json()

    ticket = find(workspace, "src-1")
    assert body["insertsKeys"] == [{"_id": ticket["_id"], "sourceId": "src-1"}]
    assert body["upsertedIds"] == [ticket["_id"]]
    assert body["updated"] == 0
    assert body["updatesKeys"] == []


def test_create_sets_server_properties(workspace, client, company):
    client.put(
        [new_item(company, createDate="1999-01-01T00:00:00.000Z", companyName="Forged")]
    )

    ticket = find(workspace, "src-1")
    seeded_ids = [
        other["_id"] for other in workspace.tickets() if other["externalId"] != "src-1"
    ]
    assert ticket["createDate"] == ticket["updateDate"] == ticket["date"]
    assert ticket["createDate"] != "1999-01-01T00:00:00.000Z"
    assert ticket["companyName"] == company["name"]
    assert ticket["_id"] > max(seeded_ids)


def test_vendor_write_example_is_stored(workspace, client, company):
    item = json.loads(WRITE_EXAMPLE.read_text(encoding="utf-8"))[0]
    item["companyId"] = company["_id"]

    assert client.put([item]).status_code == 200

    ticket = find(workspace, item["sourceId"])
    assert ticket["subject"] == item["title"]
    assert ticket["snippet"] == item["description"]
    assert ticket["history"] == item["history"]
    assert ticket["domains"] == item["domains"]
    assert ticket["name"] == item["name"]
    assert ticket["agentEmail"] is None


def test_create_by_company_external_id(workspace, client, company):
    item = {
        "sourceId": "by-external",
        "email": "a@example.com",
        "companyExternalId": company["externalId"],
    }

    assert client.put([item]).json()["created"] == 1
    assert find(workspace, "by-external")["companyId"] == company["_id"]


def test_create_by_domain(workspace, client, company):
    item = {
        "sourceId": "by-domain",
        "email": "a@example.com",
        "domains": ["unknown.example", company["domains"][0].upper()],
    }

    assert client.put([item]).json()["created"] == 1
    assert find(workspace, "by-domain")["companyId"] == company["_id"]


@pytest.mark.parametrize(
    ("company_fields", "message_part"),
    [
        ({}, "needs companyId, companyExternalId or a non-empty domains"),
        ({"domains": []}, "needs companyId, companyExternalId or a non-empty domains"),
        ({"companyId": "0123456789abcdef01234567"}, "no company with companyId"),
        ({"companyExternalId": "nope"}, "no company with externalId"),
        ({"domains": ["nowhere.example"]}, "no company has any of the domains"),
    ],
)
def test_create_without_known_company_is_created_error(
    workspace, client, company_fields, message_part
):
    item = {"sourceId": "orphan", "email": "a@example.com", **company_fields}

    response = client.put([item])

    assert response.status_code == 206
    body = response.json()
    assert body["created"] == 0
    assert len(body["createdErrors"]) == 1
    assert body["createdErrors"][0]["sourceId"] == "orphan"
    assert message_part in body["createdErrors"][0]["message"]
    assert len(workspace) == 20


def test_update_by_source_id_merges_custom(workspace, client, company):
    client.put([new_item(company, custom={"a": 1, "b": "x"}, title="Old")])
    before = find(workspace, "src-1")
    time.sleep(0.002)

    body = client.put(
        [
            {
                "sourceId": "src-1",
                "email": "requester@example.com",
                "title": "New",
                "custom": {"b": None, "c": 2.5},
            }
        ]
    ).json()

    after = find(workspace, "src-1")
    assert body["updated"] == 1
    assert body["updatesKeys"] == [{"_id": before["_id"], "sourceId": "src-1"}]
    assert body["modified"] == [before["_id"]]
    assert body["upsertedIds"] == []
    assert after["subject"] == "New"
    assert after["custom"] == {"a": 1, "b": None, "c": 2.5}
    assert after["updateDate"] > before["updateDate"]
    assert after["createDate"] == before["createDate"]


def test_update_by_id(workspace, client):
    target = workspace.tickets()[3]

    body = client.put(
        [{"_id": target["_id"], "email": "x@example.com", "status": "closed"}]
    ).json()

    assert body["updated"] == 1
    assert workspace.ticket(target["_id"])["status"] == "closed"


def test_update_with_company_moves_ticket(workspace, client):
    target = workspace.tickets()[0]
    other = next(c for c in workspace.companies if c["_id"] != target["companyId"])
    item = {"_id": target["_id"], "email": "x@example.com", "domains": other["domains"]}

    assert client.put([item]).json()["updated"] == 1

    moved = workspace.ticket(target["_id"])
    assert moved["companyId"] == other["_id"]
    assert moved["companyName"] == other["name"]


def test_update_with_unknown_company_is_updated_error(workspace, client):
    target = workspace.tickets()[0]
    item = {"_id": target["_id"], "email": "x@example.com", "companyExternalId": "nope"}

    response = client.put([item])

    assert response.status_code == 206
    assert response.json()["updatedErrors"][0]["_id"] == target["_id"]
    assert workspace.ticket(target["_id"])["companyId"] == target["companyId"]


def test_id_takes_priority_over_source_id(workspace, client):
    first, second = workspace.tickets()[:2]

    client.put(
        [
            {
                "_id": first["_id"],
                "sourceId": second["externalId"],
                "email": "x@example.com",
                "title": "Hit",
            }
        ]
    )

    assert workspace.ticket(first["_id"])["subject"] == "Hit"
    assert workspace.ticket(first["_id"])["externalId"] == second["externalId"]
    assert workspace.ticket(second["_id"])["subject"] == second["subject"]


def test_unchanged_update_is_nonupdate(workspace, client, company):
    client.put([new_item(company)])
    before = find(workspace, "src-1")
    time.sleep(0.002)

    body = client.put([new_item(company)]).json()

    after = find(workspace, "src-1")
    assert body["nonupdates"] == 1
    assert body["updated"] == 0
    assert body["modified"] == []
    assert body["updatesKeys"] == [{"_id": before["_id"], "sourceId": "src-1"}]
    assert after["updateDate"] > before["updateDate"]


def test_tickets_of_one_request_share_update_date(workspace, client):
    items = [
        {"_id": ticket["_id"], "email": "x@example.com", "status": "merged"}
        for ticket in workspace.tickets()[:5]
    ]

    client.put(items)

    dates = {workspace.ticket(item["_id"])["updateDate"] for item in items}
    assert len(dates) == 1


def test_item_without_email_is_dropped_silently(workspace, client, company):
    items = [
        new_item(company, "kept"),
        {"sourceId": "dropped", "companyId": company["_id"]},
        new_item(company, "empty", email=""),
    ]

    response = client.put(items)

    assert response.status_code == 200
    body = response.json()
    assert body["created"] == 1
    assert body["createdErrors"] == []
    assert body["validationErrors"] == []
    assert len(workspace) == 21
    assert all(
        ticket["externalId"] not in ("dropped", "empty")
        for ticket in workspace.tickets()
    )


def test_update_without_email_is_dropped_silently(workspace, client):
    target = workspace.tickets()[0]

    body = client.put([{"_id": target["_id"], "status": "never-applied"}]).json()

    assert body["updated"] == 0
    assert body["nonupdates"] == 0
    assert workspace.ticket(target["_id"])["status"] == target["status"]


def test_unknown_id_is_updated_error(workspace, client):
    response = client.put(
        [{"_id": "0123456789abcdef01234567", "email": "x@example.com"}]
    )

    assert response.status_code == 206
    errors = response.json()["updatedErrors"]
    assert errors == [
        {
            "_id": "0123456789abcdef01234567",
            "message": "no ticket with _id 0123456789abcdef01234567 in this workspace",
        }
    ]


def test_id_of_another_workspace_is_updated_error(make_workspace, client, workspace):
    other = make_workspace(tickets=1, seed=9)

    body = client.put(
        [{"_id": other.tickets()[0]["_id"], "email": "x@example.com"}]
    ).json()

    assert len(body["updatedErrors"]) == 1


@pytest.mark.parametrize(
    ("fields", "message_part"),
    [
        ({"timeSpent": 12.5}, "timeSpent must be an integer"),
        ({"tags": "billing"}, "tags must be an array of strings"),
        ({"custom": [1]}, "custom must be an object"),
        ({"email": 5}, "email must be a string"),
        ({"history": ["open"]}, "history must be an array of objects"),
    ],
)
def test_wrong_type_is_validation_error(client, company, fields, message_part):
    response = client.put([new_item(company, "typed", **fields)])

    assert response.status_code == 206
    errors = response.json()["validationErrors"]
    assert len(errors) == 1
    assert errors[0]["sourceId"] == "typed"
    assert message_part in errors[0]["message"]


def test_partial_success_is_206_with_counts(workspace, client, company):
    items = [new_item(company, "good"), {"sourceId": "bad", "email": "a@example.com"}]

    response = client.put(items)

    assert response.status_code == 206
    body = response.json()
    assert body["created"] == 1
    assert [error["sourceId"] for error in body["createdErrors"]] == ["bad"]


def test_empty_array_is_200(client):
    response = client.put([])

    assert response.status_code == 200
    assert response.json()["created"] == 0


def test_five_thousand_items_are_accepted(workspace, client, company):
    items = [new_item(company, f"bulk-{index}") for index in range(5_000)]

    response = client.put(items)

    assert response.status_code == 200
    assert response.json()["created"] == 5_000
    assert len(workspace) == 5_020


@pytest.mark.parametrize(
    ("payload", "message_part"),
    [
        ({"sourceId": "x", "email": "a@example.com"}, "must be a JSON array"),
        ([{"email": "a@example.com"}], "neither _id nor sourceId"),
        (
            [{"sourceId": "", "_id": None, "email": "a@example.com"}],
            "neither _id nor sourceId",
        ),
        (["not an object"], "must be a JSON object"),
        (
            [
                {"sourceId": "a", "email": "x@example.com"},
                {"sourceId": "a", "email": "y@example.com"},
            ],
            "repeats sourceId",
        ),
        (
            [{"_id": "0123456789abcdef01234567", "email": "x@example.com"}] * 2,
            "repeats _id",
        ),
        ([{"sourceId": "a"}, {"sourceId": "a"}], "repeats sourceId"),
    ],
)
def test_bad_payload_is_400(workspace, client, payload, message_part):
    response = client.put(payload)

    assert response.status_code == 400
    assert message_part in response.json()["message"]
    assert len(workspace) == 20


def test_more_than_five_thousand_items_is_400(workspace, client, company):
    items = [new_item(company, f"bulk-{index}") for index in range(5_001)]

    response = client.put(items)

    assert response.status_code == 400
    assert "at most 5000" in response.json()["message"]
    assert len(workspace) == 20


def test_invalid_json_is_400(client):
    response = client.session.put(
        client.url + "/tickets",
        data=b"[{",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]


def test_wrong_content_type_is_400(client):
    response = client.session.put(
        client.url + "/tickets",
        data=b"[]",
        headers={"Content-Type": "text/plain"},
        timeout=10,
    )

    assert response.status_code == 400
    assert "Content-Type must be application/json" in response.json()["message"]


def test_read_only_workspace_rejects_every_item(workspace, client, company):
    workspace.set_read_only()
    target = workspace.tickets()[0]

    response = client.put(
        [
            new_item(company, "new"),
            {"_id": target["_id"], "email": "x@example.com", "status": "x"},
        ]
    )

    assert response.status_code == 403
    body = response.json()
    assert [sorted(error) for error in body["permissionErrors"]] == [
        ["message", "sourceId"],
        ["_id", "message"],
    ]
    assert body["created"] == 0
    assert len(workspace) == 20
    assert workspace.ticket(target["_id"])["status"] == target["status"]


def test_delete_removes_ticket(workspace, client):
    target = workspace.tickets()[0]["_id"]

    response = client.delete(target)

    assert response.status_code == 200
    assert response.json() == {"n": 1, "ok": 1, "deletedCount": 1}
    assert workspace.ticket(target) is None
    assert len(workspace) == 19


def test_delete_unknown_id_is_404(client):
    response = client.delete("0123456789abcdef01234567")

    assert response.status_code == 404
    assert "no ticket with _id" in response.json()["message"]


def test_delete_twice_is_404_the_second_time(workspace, client):
    target = workspace.tickets()[0]["_id"]

    assert client.delete(target).status_code == 200
    assert client.delete(target).status_code == 404


def test_delete_malformed_id_is_400(client):
    assert client.delete("not-an-object-id").status_code == 400


def test_delete_in_read_only_workspace_is_403(workspace, client):
    workspace.set_read_only()
    target = workspace.tickets()[0]["_id"]

    assert client.delete(target).status_code == 403
    assert workspace.ticket(target) is not None
