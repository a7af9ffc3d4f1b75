"""The target CLI against the sandbox: shapes, keys, merges, deletes and dry runs."""

from __future__ import annotations

import json

from planhat_sandbox import Reply
from tests.target.conftest import (
    DATA,
    RequestRecorder,
    run_target,
    stored_by_external_id,
    target_config,
    ticket,
    write_singer,
)


def test_write_shape_stored(tmp_path, sandbox, workspace, recorder):
    run = run_target(tmp_path, target_config(sandbox), DATA / "write_shape.singer")

    assert run.returncode == 0, run.stderr
    stored = stored_by_external_id(workspace)
    assert sorted(stored) == ["HD-1", "HD-2"]
    first = stored["HD-1"]
    assert first["subject"] == "Printer on fire"
    assert first["snippet"] == "Smoke comes out of tray 2 ❗"
    assert first["status"] == "open"
    assert first["tags"] == ["hardware", "urgent"]
    assert first["subType"] == "bug"
    assert first["severity"] == "high"
    assert first["product"] == "Printers"
    assert first["name"] == "Ana Lima"
    assert first["agentEmail"] == "agent@support.example"
    assert first["url"] == "https://helpdesk.example/tickets/1"
    assert first["source"] == "helpdesk"
    assert first["companyName"] == "Northwind Traders"
    assert first["history"] == [
        {"status": "new", "time": "2026-01-05T10:00:00.000Z"},
        {"status": "open", "time": "2026-01-05T11:30:00.000Z"},
    ]
    assert stored["HD-2"]["companyName"] == "Contoso"


def test_numbers_and_dates_keep_types(tmp_path, sandbox, workspace, recorder):
    run = run_target(tmp_path, target_config(sandbox), DATA / "write_shape.singer")

    assert run.returncode == 0, run.stderr
    first = stored_by_external_id(workspace)["HD-1"]
    assert first["custom"] == {
        "Score": 4.25,
        "Ratio": 0.1,
        "Count": 7,
        "Closed": None,
        "Due": "2026-01-31",
        "Created Date": "2026-01-05T10:00:00.000+0000",
        "Flags": ["vip"],
    }
    assert type(first["custom"]["Count"]) is int
    assert type(first["timeSpent"]) is int
    sent = recorder.bodies[0][0]
    assert sent["timeSpent"] == 15
    assert sent["custom"]["Score"] == 4.25


def test_null_fields_left_out(tmp_path, sandbox, workspace, recorder):
    run = run_target(tmp_path, target_config(sandbox), DATA / "write_shape.singer")

    assert run.returncode == 0, run.stderr
    second = recorder.bodies[0][1]
    assert "description" not in second
    assert "priority" not in second


def test_partial_record_keeps_values(tmp_path, sandbox, workspace, recorder):
    first = run_target(tmp_path, target_config(sandbox), DATA / "write_shape.singer")
    update = run_target(
        tmp_path, target_config(sandbox), DATA / "partial_update.singer"
    )

    assert first.returncode == 0, first.stderr
    assert update.returncode == 0, update.stderr
    stored = stored_by_external_id(workspace)["HD-1"]
    assert stored["status"] == "solved"
    assert stored["subject"] == "Printer on fire"
    assert stored["tags"] == ["hardware", "urgent"]
    assert stored["custom"]["Score"] == 5
    assert stored["custom"]["Ratio"] == 0.1
    assert (
        "Summary: stream 'helpdesk_export': received 1, created 0, updated 1,"
        in update.stderr
    )


def test_read_shape_stored(tmp_path, sandbox, workspace, recorder):
    run = run_target(tmp_path, target_config(sandbox), DATA / "read_shape.singer")

    assert run.returncode == 0, run.stderr
    stored = stored_by_external_id(workspace)["5003X00002CDLbHQAX"]
    assert stored["subject"] == "[00001044] SFDC Case 1"
    assert stored["snippet"] == "Test case from SFDC"
    assert stored["status"] == "New"
    assert stored["subType"] == "feature request"
    assert stored["custom"] == {
        "Week No": 29.285714285714285,
        "Logins": 0,
        "Closed Date": None,
    }
    assert stored["companyId"] == workspace.companies[2]["_id"]


def test_read_only_fields_named_not_sent(tmp_path, sandbox, workspace, recorder):
    run = run_target(tmp_path, target_config(sandbox), DATA / "read_shape.singer")

    assert run.returncode == 0, run.stderr
    assert sorted(recorder.bodies[0][0]) == [
        "custom",
        "description",
        "domains",
        "email",
        "sourceId",
        "status",
        "tags",
        "title",
        "type",
    ]
    assert (
        "Stream tickets: fields outside the Planhat write model are not sent: "
        "_id, companyName, createDate, unlistedFields, updateDate"
    ) in run.stderr


def test_any_stream_name_loaded(tmp_path, sandbox, workspace):
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "public-tickets", [ticket(1), ticket(2)])

    run = run_target(tmp_path, target_config(sandbox), input_path)

    assert run.returncode == 0, run.stderr
    assert sorted(stored_by_external_id(workspace)) == ["T-00001", "T-00002"]
    assert "Stream public-tickets: PUT /tickets with 2 items: created 2," in run.stderr


def test_id_never_sent_across_workspaces(tmp_path, sandbox, workspace, recorder):
    existing = workspace.upsert([ticket(1)]).inserts_keys[0]["_id"]
    input_path = tmp_path / "input.singer"
    schema = {"type": "object", "properties": {"_id": {"type": "string"}}}
    # The record carries the _id of ticket T-00001 but is ticket T-00002 of
    # another workspace: matching by _id would overwrite the wrong ticket.
    write_singer(
        input_path,
        "tickets",
        [ticket(2, _id=existing)],
        schema=schema,
        key_properties=[],
    )

    run = run_target(tmp_path, target_config(sandbox), input_path)

    assert run.returncode == 0, run.stderr
    assert "_id" not in recorder.items()[0]
    assert workspace.ticket(existing)["subject"] == "Ticket 1"
    assert sorted(stored_by_external_id(workspace)) == ["T-00001", "T-00002"]


def test_same_workspace_matches_by_id(tmp_path, sandbox, workspace):
    existing = workspace.upsert([ticket(1)]).inserts_keys[0]["_id"]
    input_path = tmp_path / "input.singer"
    schema = {"type": "object", "properties": {"_id": {"type": "string"}}}
    write_singer(
        input_path,
        "tickets",
        [ticket(1, _id=existing, sourceId="RENAMED-1", status="closed")],
        schema=schema,
        key_properties=["_id"],
    )

    run = run_target(tmp_path, target_config(sandbox, same_workspace=True), input_path)

    assert run.returncode == 0, run.stderr
    stored = workspace.ticket(existing)
    assert stored["status"] == "closed"
    assert stored["externalId"] == "RENAMED-1"
    assert len(workspace) == 1


def test_duplicates_merged_last_wins(tmp_path, sandbox, workspace, recorder):
    input_path = tmp_path / "input.singer"
    records = [
        ticket(1, status="new"),
        ticket(2),
        ticket(1, status="closed", title=None),
    ]
    write_singer(input_path, "tickets", records)

    run = run_target(tmp_path, target_config(sandbox), input_path)

    assert run.returncode == 0, run.stderr
    assert len(recorder.bodies[0]) == 2
    stored = stored_by_external_id(workspace)
    assert stored["T-00001"]["status"] == "closed"
    assert stored["T-00001"]["subject"] == "Ticket 1"
    assert "duplicates merged 1" in run.stderr
    assert (
        "Stream tickets: merged 1 records into earlier records with the same key"
        in run.stderr
    )


def test_hard_delete_counts_absent(tmp_path, sandbox, workspace, recorder):
    keep, remove = (
        key["_id"] for key in workspace.upsert([ticket(1), ticket(2)]).inserts_keys
    )
    unknown = "6" * 24
    input_path = tmp_path / "input.singer"
    schema = {"type": "object", "properties": {"_id": {"type": "string"}}}
    deleted_at = "2026-01-01T00:00:00Z"
    records = [
        {"_id": remove, "_sdc_deleted_at": deleted_at},
        {"_id": unknown, "_sdc_deleted_at": deleted_at},
    ]
    write_singer(input_path, "tickets", records, schema=schema, key_properties=["_id"])
    config = target_config(sandbox, same_workspace=True, hard_delete=True)

    run = run_target(tmp_path, config, input_path)

    assert run.returncode == 0, run.stderr
    assert workspace.ticket(remove) is None
    assert workspace.ticket(keep) is not None
    assert (
        f"Stream tickets: ticket _id '{unknown}' was already absent (404)" in run.stderr
    )
    assert "deleted 1, already absent 1" in run.stderr
    assert recorder.statuses("PUT") == []
    assert recorder.statuses("DELETE") == [200, 404]


def test_deleted_marker_upserted_without_hard_delete(tmp_path, sandbox, workspace):
    input_path = tmp_path / "input.singer"
    write_singer(
        input_path, "tickets", [ticket(1, _sdc_deleted_at="2026-01-01T00:00:00Z")]
    )

    run = run_target(
        tmp_path, target_config(sandbox, add_record_metadata=True), input_path
    )

    assert run.returncode == 0, run.stderr
    assert sorted(stored_by_external_id(workspace)) == ["T-00001"]
    assert (
        "Stream tickets: 1 records carry _sdc_deleted_at, but hard_delete is off, "
        "so they were upserted like the others"
    ) in run.stderr


def test_dry_run_sends_nothing(tmp_path, sandbox, workspace, recorder):
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "tickets", [ticket(1), ticket(2)], state_every=1)

    run = run_target(tmp_path, target_config(sandbox, dry_run=True), input_path)

    assert run.returncode == 0, run.stderr
    assert recorder.exchanges == []
    assert len(workspace) == 0
    assert run.states == []
    assert (
        "Stream tickets: dry run: would send 2 items in 1 PUT /tickets requests and "
        "0 DELETE /tickets/{_id} requests; first keys: sourceId 'T-00001', sourceId 'T-00002'"
    ) in run.stderr
    assert (
        "Summary of the dry run (nothing was sent): stream 'tickets': received 2, would upsert 2,"
        in run.stderr
    )


def test_dry_run_still_validates(tmp_path, sandbox, workspace, recorder):
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "tickets", [ticket(1, email=None)])

    run = run_target(tmp_path, target_config(sandbox, dry_run=True), input_path)

    assert run.returncode == 1
    assert (
        "Stream 'tickets': 1 invalid records were not sent: sourceId 'T-00001' (email is missing"
        in run.stderr
    )
    assert recorder.exchanges == []


def test_server_error_retried_once(tmp_path, sandbox, workspace):
    class FailFirstPut(RequestRecorder):
        def reply_instead(self, exchange):
            if exchange.method == "PUT" and len(self.bodies) == 1:
                return Reply(status=502, body=b'{"error": "Bad Gateway"}')
            return None

    hook = FailFirstPut()
    sandbox.hook = hook
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "tickets", [ticket(1)])

    run = run_target(tmp_path, target_config(sandbox), input_path)

    assert run.returncode == 0, run.stderr
    assert hook.statuses("PUT") == [502, 200]
    assert len(workspace) == 1
    assert (
        "/tickets failed (HTTP 502); retrying in 0.00 s (attempt 2 of 6)" in run.stderr
    )


def test_token_never_logged(tmp_path, sandbox, workspace):
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "tickets", [ticket(1, email=None)])

    run = run_target(tmp_path, target_config(sandbox), input_path)

    assert run.returncode == 1
    assert "token-b" not in run.stderr
    assert "token-b" not in run.stdout


def test_dead_letters_hold_skipped_records(tmp_path, sandbox, workspace):
    input_path = tmp_path / "input.singer"
    dead_letters = tmp_path / "dead.jsonl"
    write_singer(input_path, "tickets", [ticket(1), ticket(2, email="")])
    config = target_config(
        sandbox, skip_invalid_records=True, dead_letter_path=str(dead_letters)
    )

    run = run_target(tmp_path, config, input_path)

    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in dead_letters.read_text().splitlines()]
    assert lines == [
        {
            "stream": "tickets",
            "key": "sourceId 'T-00002'",
            "reason": "invalid",
            "errors": ["email is missing or empty, and Planhat drops such tickets"],
            "record": ticket(2, email=""),
        },
    ]


FOREIGN_SCHEMA = {
    "type": "object",
    "properties": {
        name: {"type": ["string", "null"]}
        for name in (
            "ticket_id",
            "subject",
            "requester_email",
            "account_id",
            "minutes_spent",
            "category",
        )
    },
}

FOREIGN_MAPS = {
    "helpdesk_export": {
        "__else__": "__NULL__",
        "__key_properties__": ["sourceId"],
        "sourceId": "ticket_id",
        "title": "subject",
        "email": "requester_email",
        "companyExternalId": "account_id",
        "timeSpent": "int(minutes_spent)",
        "tags": "[category]",
    },
}


def test_stream_maps_shape_foreign_records(tmp_path, sandbox, workspace):
    input_path = tmp_path / "input.singer"
    record = {
        "ticket_id": "HD-1001",
        "subject": "Printer on fire",
        "requester_email": "ana@company-1.example",
        "account_id": "CRM-00001",
        "minutes_spent": "45",
        "category": "bug",
    }
    write_singer(
        input_path,
        "helpdesk_export",
        [record],
        schema=FOREIGN_SCHEMA,
        key_properties=["ticket_id"],
    )
    # The SDK types the list that "[category]" builds as a string, so the
    # check against the mapped SCHEMA is off; the target checks the types.
    config = target_config(sandbox, stream_maps=FOREIGN_MAPS, validate_records=False)

    run = run_target(tmp_path, config, input_path)

    assert run.returncode == 0, run.stderr
    stored = stored_by_external_id(workspace)["HD-1001"]
    assert stored["subject"] == "Printer on fire"
    assert stored["email"] == "ana@company-1.example"
    assert stored["companyId"] == workspace.companies[0]["_id"]
    assert stored["timeSpent"] == 45
    assert stored["tags"] == ["bug"]
