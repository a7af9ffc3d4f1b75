"""The target CLI against the sandbox: invalid records, rejects and silent loss."""

from __future__ import annotations

import json
import re

import pytest

from tests.target.conftest import (
    RequestRecorder,
    run_target,
    stored_by_external_id,
    target_config,
    ticket,
    write_singer,
)

UNKNOWN_COMPANY = "CRM-99999"


def hundred_records():
    """Build 100 records: T-00010 and T-00050 lack an email, T-00075 has no company."""
    records = [ticket(number) for number in range(1, 101)]
    records[9]["email"] = None
    records[49].pop("email")
    records[74]["companyExternalId"] = UNKNOWN_COMPANY
    return records


EXPECTED_LOADED = {f"T-{number:05d}" for number in range(1, 101)} - {
    "T-00010",
    "T-00050",
    "T-00075",
}
EMAIL_PROBLEM = "email is missing or empty, and Planhat drops such tickets"
COMPANY_PROBLEM = f"no company with externalId '{UNKNOWN_COMPANY}' (companyExternalId) (createdErrors)"


def test_default_run_fails_naming_all_three(tmp_path, sandbox, workspace, recorder):
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "helpdesk_export", hundred_records(), state_every=10)

    run = run_target(tmp_path, target_config(sandbox), input_path)

    assert run.returncode == 1
    assert run.states == []
    assert (
        "Stream 'helpdesk_export': 2 invalid records were not sent: "
        f"sourceId 'T-00010' ({EMAIL_PROBLEM}); sourceId 'T-00050' ({EMAIL_PROBLEM})."
    ) in run.stderr
    assert (
        "The API rejected or dropped 1 records in this run, more than "
        "max_rejected_records (0) allows; in this batch: "
        f"sourceId 'T-00075': {COMPANY_PROBLEM}."
    ) in run.stderr
    assert "No STATE was emitted for this batch or any later one." in run.stderr


def test_invalid_named_before_sending(tmp_path, sandbox, workspace, recorder):
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "helpdesk_export", hundred_records(), state_every=10)

    run = run_target(tmp_path, target_config(sandbox), input_path)

    invalid_line = run.stderr.index(
        "Stream helpdesk_export: invalid record, not sent: sourceId 'T-00050'"
    )
    put_line = run.stderr.index("Stream helpdesk_export: PUT /tickets with 98 items")
    assert invalid_line < put_line
    sent = {item["sourceId"] for item in recorder.items()}
    assert "T-00010" not in sent
    assert "T-00050" not in sent
    assert all(item.get("email") for item in recorder.items())
    assert (
        f"Stream helpdesk_export: the API rejected sourceId 'T-00075': {COMPANY_PROBLEM}"
    ) in run.stderr


def test_skip_and_tolerate_load_the_rest(tmp_path, sandbox, workspace, recorder):
    input_path = tmp_path / "input.singer"
    states_in = write_singer(
        input_path, "helpdesk_export", hundred_records(), state_every=10
    )
    config = target_config(sandbox, skip_invalid_records=True, max_rejected_records=1)

    run = run_target(tmp_path, config, input_path)

    assert run.returncode == 0, run.stderr
    assert set(stored_by_external_id(workspace)) == EXPECTED_LOADED
    assert run.states[-1] == states_in[-1]
    assert (
        f"WARNING  | target-planhat-tickets.helpdesk_export | Stream helpdesk_export: skipped invalid record sourceId 'T-00010': {EMAIL_PROBLEM}"
        in run.stderr
    )
    assert (
        f"Stream helpdesk_export: skipped invalid record sourceId 'T-00050': {EMAIL_PROBLEM}"
        in run.stderr
    )
    assert (
        f"WARNING  | target-planhat-tickets.helpdesk_export | Stream helpdesk_export: the API rejected sourceId 'T-00075': {COMPANY_PROBLEM}"
        in run.stderr
    )
    assert (
        "Summary: stream 'helpdesk_export': received 100, created 97, updated 0, "
        "unchanged 0, skipped as invalid 2, rejected by the API 1, dropped silently "
        "by the API 0, deleted 0, already absent 0, duplicates merged 0"
    ) in run.stderr


def test_rejects_over_tolerance_fail(tmp_path, sandbox, workspace):
    records = [
        ticket(1),
        ticket(2, companyExternalId=UNKNOWN_COMPANY),
        ticket(3, companyExternalId=UNKNOWN_COMPANY),
    ]
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "tickets", records, state_every=1)

    run = run_target(
        tmp_path, target_config(sandbox, max_rejected_records=1), input_path
    )

    assert run.returncode == 1
    assert run.states == []
    assert (
        "The API rejected or dropped 2 records in this run, more than "
        "max_rejected_records (1) allows"
    ) in run.stderr


def test_partial_failure_stops_later_batches(tmp_path, sandbox, workspace):
    class RejectTicketEight(RequestRecorder):
        def upsert_item_error(self, exchange, index, item):
            if item["sourceId"] == "T-00008":
                return ("updatedErrors", "ticket is locked by another import")
            return None

    hook = RejectTicketEight()
    sandbox.hook = hook
    input_path = tmp_path / "input.singer"
    write_singer(
        input_path,
        "tickets",
        [ticket(number) for number in range(1, 16)],
        state_every=5,
    )

    run = run_target(tmp_path, target_config(sandbox, batch_size_rows=5), input_path)

    assert run.returncode == 1
    assert hook.statuses("PUT") == [200, 206]
    # Only the first batch was acknowledged, and its STATE went out before
    # the second batch failed.
    assert run.states == [{"bookmarks": {"tickets": {"position": 5}}}]
    assert len(workspace) == 9
    assert (
        "Stream tickets: the API rejected sourceId 'T-00008': ticket is locked by "
        "another import (updatedErrors)"
    ) in run.stderr
    # The run stops when the second batch fails, before it reads records 11 to 15.
    assert (
        "Summary of the failed run: stream 'tickets': received 10, created 9,"
        in run.stderr
    )


class DropTicketTwo(RequestRecorder):
    """Sandbox hook that drops T-00002 from each PUT body before the API handles it."""

    def __init__(self, *, hide_key_lists: bool = False) -> None:
        super().__init__()
        self.hide_key_lists = hide_key_lists

    def reply_instead(self, exchange):
        if exchange.method == "PUT":
            items = [
                item
                for item in json.loads(exchange.body)
                if item["sourceId"] != "T-00002"
            ]
            exchange.body = json.dumps(items).encode()
        return None

    def before_sending(self, exchange, reply):
        if self.hide_key_lists and exchange.method == "PUT":
            body = json.loads(reply.body)
            body.pop("insertsKeys")
            body.pop("updatesKeys")
            reply.body = json.dumps(body).encode()
        return super().before_sending(exchange, reply)


def test_silent_loss_named_and_fails(tmp_path, sandbox, workspace):
    sandbox.hook = DropTicketTwo()
    input_path = tmp_path / "input.singer"
    write_singer(
        input_path, "tickets", [ticket(1), ticket(2), ticket(3)], state_every=3
    )

    run = run_target(tmp_path, target_config(sandbox), input_path)

    assert run.returncode == 1
    assert run.states == []
    assert (
        "Stream tickets: PUT /tickets with 3 items: created 2, updated 0, unchanged 0, rejected 0, dropped silently 1"
        in run.stderr
    )
    assert (
        "Stream tickets: the API dropped sourceId 'T-00002' without an error"
    ) in run.stderr
    assert "in this batch: sourceId 'T-00002': dropped without an error." in run.stderr


def test_unnamed_silent_loss_counted(tmp_path, sandbox, workspace):
    sandbox.hook = DropTicketTwo(hide_key_lists=True)
    input_path = tmp_path / "input.singer"
    states_in = write_singer(
        input_path, "tickets", [ticket(1), ticket(2), ticket(3)], state_every=3
    )

    run = run_target(
        tmp_path, target_config(sandbox, max_rejected_records=1), input_path
    )

    assert run.returncode == 0, run.stderr
    assert run.states == states_in
    assert (
        "Stream tickets: the API dropped 1 items without an error: its response "
        "accounts for 2 of the 3 items sent, and names none of the others"
    ) in run.stderr
    assert "rejected by the API 0, dropped silently by the API 1," in run.stderr


def test_forbidden_put_fails(tmp_path, sandbox, workspace):
    workspace.set_read_only()
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "tickets", [ticket(1)], state_every=1)

    run = run_target(tmp_path, target_config(sandbox), input_path)

    assert run.returncode == 1
    assert run.states == []
    assert re.search(
        r"PUT http://127\.0\.0\.1:\d+/tickets failed with HTTP 403: .*The token's service "
        r"account lacks permission; check its roles in Planhat\.",
        run.stderr,
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"hard_delete": True},
            "Setting hard_delete needs same_workspace: deleting a ticket needs its Planhat _id",
        ),
        (
            {"dead_letter_path": "/nonexistent-folder/dead.jsonl"},
            "Setting dead_letter_path '/nonexistent-folder/dead.jsonl' is in a folder that does not exist",
        ),
        ({"load_method": "overwrite"}, "'overwrite' is not one of ['upsert']"),
    ],
)
def test_invalid_settings_rejected(
    tmp_path, sandbox, workspace, recorder, settings, message
):
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "tickets", [ticket(1)])

    run = run_target(tmp_path, target_config(sandbox, **settings), input_path)

    assert run.returncode == 1
    assert message in run.stderr
    assert recorder.exchanges == []


def test_schema_mismatch_names_field(tmp_path, sandbox, workspace):
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "tickets", [ticket(1), ticket(2, tags="a,b"), ticket(3)])

    run = run_target(tmp_path, target_config(sandbox), input_path)

    assert run.returncode != 0
    assert (
        "Stream 'tickets': record sourceId 'T-00002' does not match the stream's "
        "SCHEMA message: field tags: 'a,b' is not of type 'array', 'null'. Fix the "
        "tap's schema or the stream map that builds this field."
    ) in run.stderr
    assert "Summary of the failed run: stream 'tickets': received 1," in run.stderr
    assert run.states == []
