"""Unit tests of the bulk upsert response parser."""

from __future__ import annotations

import pytest

from target_planhat_tickets.response import (
    Reject,
    UnexpectedResponseError,
    describe_failures,
    parse_upsert_response,
)

SENT = [("sourceId", "A"), ("sourceId", "B"), ("sourceId", "C")]


def result(**fields):
    body = {
        "created": 0,
        "createdErrors": [],
        "insertsKeys": [],
        "updated": 0,
        "updatedErrors": [],
        "updatesKeys": [],
        "nonupdates": 0,
        "modified": [],
        "upsertedIds": [],
        "permissionErrors": [],
    }
    body.update(fields)
    return body


def test_counts_parsed():
    outcome = parse_upsert_response(result(created=1, updated=1, nonupdates=1), SENT)

    assert (outcome.created, outcome.updated, outcome.unchanged) == (1, 1, 1)
    assert outcome.rejects == []
    assert outcome.lost == 0


@pytest.mark.parametrize(
    "array",
    ["createdErrors", "updatedErrors", "permissionErrors", "validationErrors"],
)
def test_object_error_entries_name_keys(array):
    body = result(created=2, **{array: [{"sourceId": "B", "message": "no company"}]})

    outcome = parse_upsert_response(body, SENT)

    assert outcome.rejects == [Reject(("sourceId", "B"), "no company", array)]
    assert outcome.lost == 0


def test_external_id_names_source_id():
    body = result(created=2, updatedErrors=[{"externalId": "C", "error": "locked"}])

    outcome = parse_upsert_response(body, SENT)

    assert outcome.rejects == [Reject(("sourceId", "C"), "locked", "updatedErrors")]


def test_string_error_entry_names_key():
    sent = [("sourceId", "ZD-1"), ("sourceId", "ZD-12")]
    body = result(created=1, createdErrors=["item ZD-12: company not found"])

    outcome = parse_upsert_response(body, sent)

    assert outcome.rejects == [
        Reject(("sourceId", "ZD-12"), "item ZD-12: company not found", "createdErrors"),
    ]


def test_unnamed_error_entry_kept():
    body = result(created=2, createdErrors=["something failed"])

    outcome = parse_upsert_response(body, SENT)

    assert outcome.rejects == [Reject(None, "something failed", "createdErrors")]
    assert outcome.lost == 0


def test_object_without_message_kept_whole():
    body = result(created=2, createdErrors=[{"sourceId": "A", "code": 7}])

    outcome = parse_upsert_response(body, SENT)

    assert outcome.rejects[0].message == '{"code": 7, "sourceId": "A"}'


def test_key_in_two_arrays_counts_once():
    body = result(
        created=2,
        createdErrors=[{"sourceId": "A", "message": "one"}],
        validationErrors=[{"sourceId": "A", "message": "two"}],
    )

    outcome = parse_upsert_response(body, SENT)

    assert outcome.rejects == [Reject(("sourceId", "A"), "one", "createdErrors")]


def test_silent_loss_named_from_key_lists():
    body = result(
        created=1,
        insertsKeys=[{"_id": "x1", "sourceId": "A"}],
        updated=1,
        updatesKeys=[{"_id": "x3", "sourceId": "C"}],
    )

    outcome = parse_upsert_response(body, SENT)

    assert outcome.lost_keys == [("sourceId", "B")]
    assert outcome.lost_unnamed == 0


def test_silent_loss_counted_without_key_lists():
    body = {"created": 1, "updated": 0, "nonupdates": 0}

    outcome = parse_upsert_response(body, SENT)

    assert outcome.lost_keys == []
    assert outcome.lost_unnamed == 2


def test_everything_lost_named():
    outcome = parse_upsert_response(result(), SENT)

    assert outcome.lost_keys == SENT


def test_surplus_counted():
    outcome = parse_upsert_response(result(created=4), SENT)

    assert outcome.surplus == 1
    assert outcome.lost == 0


@pytest.mark.parametrize(
    ("body", "kind"),
    [([], "array"), (None, "null"), ("ok", "string")],
)
def test_non_object_body_rejected(body, kind):
    with pytest.raises(
        UnexpectedResponseError,
        match=rf"^PUT /tickets returned a JSON {kind}, not the bulk upsert result object\.",
    ):
        parse_upsert_response(body, SENT)


def test_failures_described_for_log_and_error():
    outcome = parse_upsert_response(
        result(
            created=1,
            insertsKeys=[{"_id": "x1", "sourceId": "A"}],
            createdErrors=[{"sourceId": "B", "message": "no company"}],
        ),
        SENT,
    )

    failures = describe_failures(outcome, len(SENT))

    assert [
        (failure.key, failure.log_text, failure.listed) for failure in failures
    ] == [
        (
            ("sourceId", "B"),
            "the API rejected sourceId 'B': no company (createdErrors)",
            "sourceId 'B': no company (createdErrors)",
        ),
        (
            ("sourceId", "C"),
            "the API dropped sourceId 'C' without an error",
            "sourceId 'C': dropped without an error",
        ),
    ]


def test_unnamed_loss_described_as_group():
    outcome = parse_upsert_response({"created": 1}, SENT)

    failures = describe_failures(outcome, len(SENT))

    assert [
        (failure.key, failure.log_text, failure.listed) for failure in failures
    ] == [
        (
            None,
            "the API dropped 2 items without an error: its response accounts for 1 "
            "of the 3 items sent, and names none of the others",
            "2 items the API did not name: dropped without an error",
        ),
    ]
