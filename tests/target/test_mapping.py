"""Unit tests of the mapping from either record shape to the write model."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import orjson
import pytest

from target_planhat_tickets.mapping import map_record, to_json_value

READ_SHAPE = {
    "_id": "60d4e139e9c01e379effa355",
    "externalId": "5003X00002CDLbHQAX",
    "type": "ticket",
    "subType": "ticket",
    "subject": "[00001044] SFDC Case 1",
    "snippet": "Test case from SFDC",
    "email": "requester@example.com",
    "status": "New",
    "companyId": "56bccdf554d64d837d01be80",
    "companyName": "Exxon",
    "createDate": "2021-06-24T19:38:16.000Z",
    "tags": [],
    "custom": {
        "Closed Date": None,
        "Week No": Decimal("29.285714285714285"),
        "Logins": 0,
    },
    "unlistedFields": {"newField": 1},
}


def test_read_shape_fills_write_names():
    item = map_record(READ_SHAPE, same_workspace=False).item

    assert item["title"] == "[00001044] SFDC Case 1"
    assert item["description"] == "Test case from SFDC"
    assert item["sourceId"] == "5003X00002CDLbHQAX"
    assert "subject" not in item
    assert "snippet" not in item
    assert "externalId" not in item


def test_write_name_wins_over_read_name():
    record = {
        "title": "written",
        "subject": "read",
        "sourceId": "S-1",
        "externalId": "E-1",
    }

    item = map_record(record, same_workspace=False).item

    assert item["title"] == "written"
    assert item["sourceId"] == "S-1"


def test_read_name_fills_null_write_name():
    item = map_record({"title": None, "subject": "read"}, same_workspace=False).item

    assert item["title"] == "read"


def test_id_left_out_across_workspaces():
    mapped = map_record(READ_SHAPE, same_workspace=False)

    assert "_id" not in mapped.item
    assert mapped.ticket_id == "60d4e139e9c01e379effa355"
    assert "_id" in mapped.unsent_fields


def test_id_sent_in_same_workspace():
    mapped = map_record(READ_SHAPE, same_workspace=True)

    assert mapped.item["_id"] == "60d4e139e9c01e379effa355"
    assert "_id" not in mapped.unsent_fields


def test_null_and_missing_fields_left_out():
    record = {"sourceId": "S-1", "email": "a@example.com", "status": None, "tags": None}

    item = map_record(record, same_workspace=False).item

    assert item == {"sourceId": "S-1", "email": "a@example.com"}


def test_unsent_fields_named_without_metadata():
    record = {**READ_SHAPE, "_sdc_extracted_at": "2026-01-01T00:00:00Z", "days": None}

    unsent = map_record(record, same_workspace=False).unsent_fields

    assert unsent == {"_id", "companyName", "createDate", "unlistedFields"}


def test_custom_values_unchanged():
    item = map_record(READ_SHAPE, same_workspace=False).item

    assert item["custom"] == {
        "Closed Date": None,
        "Week No": 29.285714285714285,
        "Logins": 0,
    }
    assert isinstance(item["custom"]["Logins"], int)


def test_sub_type_replaces_read_type():
    record = {"type": "ticket", "subType": "bug"}

    assert map_record(record, same_workspace=False).item["type"] == "bug"


def test_write_type_kept_beside_sub_type():
    record = {"type": "feature request", "subType": "bug"}

    assert map_record(record, same_workspace=False).item["type"] == "feature request"


def test_read_type_sent_without_sub_type():
    assert map_record({"type": "ticket"}, same_workspace=False).item["type"] == "ticket"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(15, 15), (Decimal("15.0"), 15), (Decimal("15.5"), 15.5), ("15", "15")],
)
def test_time_spent_whole_numbers_become_int(value, expected):
    item = map_record({"timeSpent": value}, same_workspace=False).item

    assert item["timeSpent"] == expected
    assert type(item["timeSpent"]) is type(expected)


def test_deleted_marker_sets_deleted():
    mapped = map_record(
        {"_id": "x", "_sdc_deleted_at": "2026-01-01T00:00:00Z"}, same_workspace=True
    )

    assert mapped.deleted is True


def test_json_value_datetime_as_planhat_format():
    moment = datetime.datetime(
        2021,
        6,
        24,
        21,
        38,
        16,
        123456,
        tzinfo=datetime.timezone(datetime.timedelta(hours=2)),
    )

    assert to_json_value(moment) == "2021-06-24T19:38:16.123Z"


def test_json_value_naive_datetime_is_utc():
    assert (
        to_json_value(datetime.datetime(2021, 6, 24, 19, 38, 16))
        == "2021-06-24T19:38:16.000Z"
    )


def test_json_value_serialises_with_orjson():
    value = {
        "when": datetime.datetime(2021, 6, 24, tzinfo=datetime.timezone.utc),
        "day": datetime.date(2021, 6, 24),
        "ratio": Decimal("0.1"),
        "count": 3,
        "nested": [Decimal("1E+2"), {"deep": Decimal("2.50")}],
    }

    text = orjson.dumps(to_json_value(value)).decode()

    assert json.loads(text) == {
        "when": "2021-06-24T00:00:00.000Z",
        "day": "2021-06-24",
        "ratio": 0.1,
        "count": 3,
        "nested": [100.0, {"deep": 2.5}],
    }
    assert '"count":3,' in text
