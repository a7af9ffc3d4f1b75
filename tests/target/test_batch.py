"""Unit tests of batch planning: validation, keys and the merge of duplicates."""

from __future__ import annotations

from target_planhat_tickets.batch import plan_batch

COMPANY = "56bccdf554d64d837d01be80"
ID_A = "60d4e139e9c01e379effa355"
DELETED = "2026-01-01T00:00:00Z"


def ticket(source_id, **fields):
    return {
        "sourceId": source_id,
        "email": "a@example.com",
        "companyId": COMPANY,
        **fields,
    }


def test_valid_records_keyed_by_source_id():
    plan = plan_batch(
        [ticket("A"), ticket("B")], same_workspace=False, hard_delete=False
    )

    assert list(plan.upserts) == [("sourceId", "A"), ("sourceId", "B")]
    assert plan.invalid == []


def test_invalid_records_named_and_left_out():
    records = [ticket("A"), ticket("B", email=None), {"status": "open"}]

    plan = plan_batch(
        records, same_workspace=False, hard_delete=False, first_ordinal=11
    )

    assert list(plan.upserts) == [("sourceId", "A")]
    assert [invalid.label for invalid in plan.invalid] == [
        "sourceId 'B'",
        "record 13 (no sourceId)",
    ]
    assert plan.invalid[0].record is records[1]


def test_duplicates_merge_last_wins():
    records = [
        ticket("A", title="first", status="open", custom={"x": 1, "y": 1}),
        ticket("B"),
        ticket("A", title="second", custom={"y": 2}),
    ]

    plan = plan_batch(records, same_workspace=False, hard_delete=False)

    assert plan.duplicates == 1
    assert list(plan.upserts) == [("sourceId", "A"), ("sourceId", "B")]
    merged = plan.upserts[("sourceId", "A")]
    assert merged["title"] == "second"
    assert merged["status"] == "open"
    assert merged["custom"] == {"x": 1, "y": 2}


def test_same_workspace_keys_by_id():
    plan = plan_batch([ticket("A", _id=ID_A)], same_workspace=True, hard_delete=False)

    assert list(plan.upserts) == [("_id", ID_A)]
    assert plan.upserts[("_id", ID_A)]["_id"] == ID_A


def test_delete_drops_earlier_upsert():
    records = [ticket("A", _id=ID_A), {"_id": ID_A, "_sdc_deleted_at": DELETED}]

    plan = plan_batch(records, same_workspace=True, hard_delete=True)

    assert plan.upserts == {}
    assert plan.deletes == {("_id", ID_A): ID_A}
    assert plan.duplicates == 1


def test_later_upsert_cancels_delete():
    records = [{"_id": ID_A, "_sdc_deleted_at": DELETED}, ticket("A", _id=ID_A)]

    plan = plan_batch(records, same_workspace=True, hard_delete=True)

    assert plan.deletes == {}
    assert list(plan.upserts) == [("_id", ID_A)]


def test_deleted_marker_upserted_without_hard_delete():
    records = [ticket("A", _sdc_deleted_at=DELETED)]

    plan = plan_batch(records, same_workspace=False, hard_delete=False)

    assert plan.deletes == {}
    assert list(plan.upserts) == [("sourceId", "A")]
    assert plan.deletes_upserted == 1
