"""GET /tickets against the sandbox: paging, sorting, ties, projection and filters."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import requests

DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
OBJECT_ID = re.compile(r"[0-9a-f]{24}")
READ_EXAMPLE = Path(__file__).parents[1] / "fixtures" / "ticket-read-example.json"
SHARED_COUNT = 3_000


def ids(tickets):
    return [ticket["_id"] for ticket in tickets]


def by_update_date(tickets):
    return sorted(tickets, key=lambda ticket: ticket["updateDate"])


def tie_run(tickets, minimum):
    """Return (start, size) of the first run of ``minimum`` or more equal dates."""
    ordered = by_update_date(tickets)
    counts = Counter(ticket["updateDate"] for ticket in ordered)
    date = next(date for date, count in counts.items() if count >= minimum)
    start = next(
        index for index, ticket in enumerate(ordered) if ticket["updateDate"] == date
    )
    return start, counts[date]


@pytest.fixture
def shared(shared_workspace, client_for):
    return client_for(shared_workspace)


def test_list_returns_bare_array(shared):
    response = shared.get()

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert isinstance(response.json(), list)


def test_default_limit_is_500(shared):
    assert len(shared.tickets()) == 500


def test_limit_above_maximum_is_capped(large_workspace, client_for):
    assert len(client_for(large_workspace).tickets(limit=20_000)) == 10_000


def test_limit_of_exactly_maximum(large_workspace, client_for):
    assert len(client_for(large_workspace).tickets(limit=10_000)) == 10_000


def test_offset_pages_cover_natural_order(shared_tickets, shared):
    pages = [
        shared.tickets(limit=1_000, offset=offset)
        for offset in (0, 1_000, 2_000, 3_000)
    ]

    assert [len(page) for page in pages] == [1_000, 1_000, 1_000, 0]
    assert [ticket_id for page in pages for ticket_id in ids(page)] == ids(
        shared_tickets
    )


def test_last_page_is_short(shared):
    assert len(shared.tickets(limit=700, offset=2_800)) == 200


def test_offset_beyond_end_returns_empty_array(shared):
    assert shared.tickets(offset=1_000_000) == []


def test_natural_order_is_creation_order(shared):
    page = ids(shared.tickets(limit=SHARED_COUNT))

    assert page == sorted(page)


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "", " 5", "0"])
def test_invalid_limit_is_rejected(shared, value):
    response = shared.get(limit=value)

    assert response.status_code == 400
    assert "limit" in response.json()["message"]


@pytest.mark.parametrize("value", ["x", "-3", "2e3"])
def test_invalid_offset_is_rejected(shared, value):
    response = shared.get(offset=value)

    assert response.status_code == 400
    assert "offset" in response.json()["message"]


def test_repeated_limit_is_rejected(shared):
    response = shared.get(limit=["5", "6"])

    assert response.status_code == 400
    assert "given 2 times" in response.json()["message"]


def test_sort_ascending_by_update_date(shared):
    dates = [
        ticket["updateDate"]
        for ticket in shared.tickets(limit=SHARED_COUNT, sort="updateDate")
    ]

    assert dates == sorted(dates)


def test_sort_descending_by_update_date(shared):
    dates = [
        ticket["updateDate"]
        for ticket in shared.tickets(limit=SHARED_COUNT, sort="-updateDate")
    ]

    assert dates == sorted(dates, reverse=True)


def test_sort_descending_starts_at_latest(shared_tickets, shared):
    latest = max(ticket["updateDate"] for ticket in shared_tickets)

    first = shared.tickets(limit=1, sort="-updateDate")[0]

    assert first["updateDate"] == latest


def test_sort_by_id_pages_are_disjoint(shared_tickets, shared):
    pages = [
        ids(shared.tickets(limit=1_200, offset=offset, sort="_id"))
        for offset in (0, 1_200, 2_400)
    ]

    assert [ticket_id for page in pages for ticket_id in page] == sorted(
        ids(shared_tickets)
    )


def test_sort_puts_missing_and_null_first(shared_tickets, shared):
    without_url = sum(1 for ticket in shared_tickets if ticket.get("url") is None)
    assert without_url > 0

    ascending = shared.tickets(limit=SHARED_COUNT, sort="url")
    descending_tail = shared.tickets(
        limit=SHARED_COUNT, sort="-url", offset=SHARED_COUNT - without_url
    )

    assert all(ticket.get("url") is None for ticket in ascending[:without_url])
    assert ascending[without_url].get("url") is not None
    assert len(descending_tail) == without_url
    assert all(ticket.get("url") is None for ticket in descending_tail)


def test_sort_orders_types_like_mongodb(make_workspace, client_for):
    workspace = make_workspace()
    company = workspace.companies[0]["_id"]
    values = {"text": "abc", "number": 3.5, "null": None, "bool": True, "missing": ...}
    items = []
    for source_id, value in values.items():
        item = {"sourceId": source_id, "email": "a@example.com", "companyId": company}
        if value is not ...:
            item["custom"] = {"v": value}
        items.append(item)
    client = client_for(workspace)
    assert client.put(items).status_code == 200

    order = [ticket["externalId"] for ticket in client.tickets(sort="custom.v")]

    assert set(order[:2]) == {"null", "missing"}
    assert order[2:] == ["number", "text", "bool"]


def test_sort_names_are_case_sensitive(shared):
    # "UpdateDate" is no property, so every ticket ties and the order is random.
    dates = [
        ticket["updateDate"] for ticket in shared.tickets(limit=200, sort="UpdateDate")
    ]

    assert dates != sorted(dates)


def test_unknown_sort_property_keeps_all_tickets(shared):
    page = ids(shared.tickets(limit=SHARED_COUNT, sort="-noSuchProperty"))

    assert len(set(page)) == SHARED_COUNT


def test_tie_run_order_changes_between_requests(shared_tickets, shared):
    start, size = tie_run(shared_tickets, 20)
    expected = {
        ticket["_id"] for ticket in by_update_date(shared_tickets)[start : start + size]
    }

    orders = [
        tuple(ids(shared.tickets(sort="updateDate", offset=start, limit=size)))
        for _ in range(5)
    ]

    assert len(set(orders)) > 1
    for order in orders:
        assert set(order) == expected


def test_split_tie_run_can_skip_tickets(shared_tickets, shared):
    start, size = tie_run(shared_tickets, 40)
    run = {
        ticket["_id"] for ticket in by_update_date(shared_tickets)[start : start + size]
    }
    half = size // 2

    complete = []
    for _ in range(3):
        first = ids(shared.tickets(sort="updateDate", offset=start, limit=half))
        second = ids(
            shared.tickets(sort="updateDate", offset=start + half, limit=size - half)
        )
        complete.append(set(first) | set(second) == run)

    assert not all(complete)


def test_select_returns_id_and_selected(shared):
    tickets = shared.tickets(limit=50, select="subject,updateDate")

    assert all(set(ticket) == {"_id", "subject", "updateDate"} for ticket in tickets)


def test_select_without_id_still_returns_id(shared):
    ticket = shared.tickets(limit=1, select="email")[0]

    assert set(ticket) == {"_id", "email"}


def test_select_nested_custom_key(shared):
    ticket = shared.tickets(limit=1, select="custom.Logins")[0]

    assert set(ticket) == {"_id", "custom"}
    assert set(ticket["custom"]) == {"Logins"}


def test_select_unknown_property_returns_only_id(shared):
    ticket = shared.tickets(limit=1, select="noSuchProperty")[0]

    assert set(ticket) == {"_id"}


def test_filter_by_company_id(shared_tickets, shared):
    company = shared_tickets[0]["companyId"]
    expected = [
        ticket["_id"] for ticket in shared_tickets if ticket["companyId"] == company
    ]

    assert ids(shared.tickets(limit=SHARED_COUNT, companyId=company)) == expected


def test_filter_by_several_company_ids(shared_workspace, shared_tickets, shared):
    companies = [company["_id"] for company in shared_workspace.companies[:2]]
    expected = [
        ticket["_id"] for ticket in shared_tickets if ticket["companyId"] in companies
    ]

    tickets = shared.tickets(limit=SHARED_COUNT, companyId=",".join(companies))

    assert ids(tickets) == expected


def test_filter_by_status(shared_tickets, shared):
    expected = [
        ticket["_id"] for ticket in shared_tickets if ticket.get("status") == "pending"
    ]
    assert expected

    assert ids(shared.tickets(limit=SHARED_COUNT, status="pending")) == expected


def test_filter_by_email(shared_tickets, shared):
    email = shared_tickets[0]["email"]
    expected = [ticket["_id"] for ticket in shared_tickets if ticket["email"] == email]

    assert ids(shared.tickets(email=email)) == expected


def test_search_ignores_case(shared_tickets, shared):
    expected = [
        ticket["_id"]
        for ticket in shared_tickets
        if "steps to reproduce" in ticket["snippet"].lower()
    ]
    assert expected

    tickets = shared.tickets(limit=SHARED_COUNT, search="STEPS to Reproduce")

    assert ids(tickets) == expected


def test_search_matches_right_to_left_text(shared):
    tickets = shared.tickets(limit=10, search="תודה רבה")

    assert tickets
    assert all("תודה רבה" in ticket["snippet"] for ticket in tickets)


def test_filters_combine(shared_tickets, shared):
    company = shared_tickets[0]["companyId"]
    expected = [
        ticket["_id"]
        for ticket in shared_tickets
        if ticket["companyId"] == company and ticket.get("status") == "open"
    ]
    assert expected

    assert (
        ids(shared.tickets(limit=SHARED_COUNT, companyId=company, status="open"))
        == expected
    )


def test_empty_filter_value_is_ignored(shared):
    assert len(shared.tickets(status="")) == 500


def test_short_parameter_names_are_ignored(shared):
    assert len(shared.tickets(l=1, s="closed")) == 500


def test_dates_have_milliseconds_and_z(shared):
    ticket = shared.tickets(limit=1)[0]

    for name in ("createDate", "updateDate", "date", "inDate"):
        assert DATE.fullmatch(ticket[name]), name
    assert DATE.fullmatch(ticket["history"][0]["time"])


def test_read_shape_matches_vendor_example(shared):
    example_keys = set(json.loads(READ_EXAMPLE.read_text(encoding="utf-8"))[0])
    seen_keys = set()
    for ticket in shared.tickets(limit=2_000):
        seen_keys |= set(ticket)

    assert example_keys <= seen_keys


def test_every_ticket_has_required_properties(shared):
    for ticket in shared.tickets(limit=SHARED_COUNT):
        assert OBJECT_ID.fullmatch(ticket["_id"])
        assert ticket["type"] == "ticket"
        assert ticket["email"]
        assert ticket["externalId"]
        assert OBJECT_ID.fullmatch(ticket["companyId"])


def test_workspaces_are_isolated(make_workspace, client_for):
    first = make_workspace(tickets=30, seed=1)
    second = make_workspace(tickets=20, seed=2)

    first_ids = set(ids(client_for(first).tickets()))
    second_ids = set(ids(client_for(second).tickets()))

    assert len(first_ids) == 30
    assert len(second_ids) == 20
    assert first_ids.isdisjoint(second_ids)


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "Basic dG9rZW4tc2hhcmVk", "Bearer", "token-shared"],
)
def test_missing_or_unknown_token_gets_401(sandbox, shared_workspace, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}

    response = requests.get(f"{sandbox.url}/tickets", headers=headers, timeout=10)

    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"
    assert "API URL" in response.json()["message"]


def test_removed_workspace_token_gets_401(make_workspace, sandbox, client_for):
    workspace = make_workspace(tickets=1)
    client = client_for(workspace)
    assert client.get().status_code == 200

    sandbox.remove_workspace(workspace.name)
    sandbox.add_workspace(workspace.name, token="another-token")

    assert client.get().status_code == 401


def test_bearer_scheme_is_case_insensitive(sandbox, shared_workspace):
    headers = {"Authorization": "bearer token-shared"}

    response = requests.get(
        f"{sandbox.url}/tickets?limit=1", headers=headers, timeout=10
    )

    assert response.status_code == 200


def test_unknown_path_gets_404(shared):
    assert shared.get("/companies").status_code == 404


def test_post_on_tickets_gets_405(shared):
    response = shared.session.post(shared.url + "/tickets", json=[], timeout=10)

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, PUT"


def test_get_one_ticket_gets_405(shared_tickets, shared):
    response = shared.get(f"/tickets/{shared_tickets[0]['_id']}")

    assert response.status_code == 405
    assert response.headers["Allow"] == "DELETE"
