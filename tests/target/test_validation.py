"""Unit tests of the checks a record passes before anything is sent for it."""

from __future__ import annotations

import pytest

from target_planhat_tickets.mapping import map_record
from target_planhat_tickets.validation import find_problems

VALID = {
    "sourceId": "S-1",
    "email": "a@example.com",
    "companyId": "56bccdf554d64d837d01be80",
}
TICKET_ID = "60d4e139e9c01e379effa355"


def problems(record, *, same_workspace=False):
    return find_problems(
        map_record(record, same_workspace=same_workspace), same_workspace=same_workspace
    )


def test_valid_record_has_no_problems():
    assert problems(VALID) == []


@pytest.mark.parametrize("email", [None, "", "   "])
def test_missing_email_is_invalid(email):
    record = {**VALID, "email": email}

    assert problems(record) == [
        "email is missing or empty, and Planhat drops such tickets"
    ]


def test_missing_source_id_is_invalid():
    record = {key: value for key, value in VALID.items() if key != "sourceId"}

    assert problems(record) == ["sourceId (or externalId) is missing or empty"]


def test_id_does_not_replace_source_id_across_workspaces():
    record = {
        "_id": TICKET_ID,
        "email": "a@example.com",
        "companyId": VALID["companyId"],
    }

    assert problems(record) == ["sourceId (or externalId) is missing or empty"]


def test_id_replaces_source_id_in_same_workspace():
    record = {
        "_id": TICKET_ID,
        "email": "a@example.com",
        "companyId": VALID["companyId"],
    }

    assert problems(record, same_workspace=True) == []


def test_malformed_id_is_invalid_in_same_workspace():
    record = {**VALID, "_id": "not-an-id"}

    assert problems(record, same_workspace=True) == [
        "_id 'not-an-id' is not a Planhat id (24 hexadecimal characters)",
    ]


@pytest.mark.parametrize(
    "company",
    [{"companyId": "c1"}, {"companyExternalId": "CRM-1"}, {"domains": ["example.com"]}],
)
def test_any_company_reference_is_enough(company):
    record = {"sourceId": "S-1", "email": "a@example.com", **company}

    assert problems(record) == []


@pytest.mark.parametrize(
    "company", [{}, {"domains": []}, {"companyId": ""}, {"domains": [""]}]
)
def test_missing_company_is_invalid(company):
    record = {"sourceId": "S-1", "email": "a@example.com", **company}

    assert problems(record) == [
        "the company is missing: set companyId, companyExternalId or a non-empty domains array",
    ]


def test_every_problem_listed():
    assert problems({"status": "open"}) == [
        "sourceId (or externalId) is missing or empty",
        "email is missing or empty, and Planhat drops such tickets",
        "the company is missing: set companyId, companyExternalId or a non-empty domains array",
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sourceId", 123, "sourceId must be a string, got 123 (int)"),
        ("tags", "a,b", "tags must be an array of strings, got 'a,b' (str)"),
        ("tags", ["a", 1], "tags must be an array of strings, got ['a', 1] (list)"),
        (
            "timeSpent",
            "15",
            "timeSpent must be a whole number of minutes, got '15' (str)",
        ),
        (
            "timeSpent",
            1.5,
            "timeSpent must be a whole number of minutes, got 1.5 (float)",
        ),
        (
            "timeSpent",
            True,
            "timeSpent must be a whole number of minutes, got True (bool)",
        ),
        ("custom", [1], "custom must be an object, got [1] (list)"),
    ],
)
def test_wrong_type_is_invalid(field, value, message):
    assert problems({**VALID, field: value}) == [message]


def test_history_must_hold_objects():
    assert problems({**VALID, "history": ["open"]}) == [
        'history must be an array of objects such as {"status": "open", "time": "..."}, '
        "got ['open'] (list)",
    ]


def test_delete_needs_only_id():
    record = {"_id": TICKET_ID, "_sdc_deleted_at": "2026-01-01T00:00:00Z"}

    assert problems(record, same_workspace=True) == []


def test_delete_without_id_is_invalid():
    record = {"sourceId": "S-1", "_sdc_deleted_at": "2026-01-01T00:00:00Z"}

    assert problems(record, same_workspace=True) == [
        "_id is missing, and deleting a ticket needs its Planhat _id",
    ]


def test_oversized_integer_is_invalid():
    record = {**VALID, "custom": {"Big": 2**64, "Fine": 2**63}}

    assert problems(record) == [
        "custom contains the integer 18446744073709551616, outside the 64-bit range "
        "that the JSON encoder writes; send it as a string instead",
    ]
