"""The demo's reverse pipeline: tap-spreadsheets and the stream maps of meltano.yml into target-planhat-tickets.

The tests load scripts/helpdesk_export.csv into an empty sandbox workspace
that has the seeded companies CRM-00001 to CRM-00005, and check the tickets
that the sandbox stores against the CSV, read here with the csv module.
"""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from planhat_sandbox import Sandbox, Workspace
from tests.meltano.conftest import ROOT, MeltanoProject

CSV_FILE = ROOT / "scripts" / "helpdesk_export.csv"
IMPORT_TOKEN = "import-test-token"
RUN = ("--environment=demo", "run", "tap-spreadsheets", "target-planhat-tickets")
FULL_REFRESH_RUN = ("--environment=demo", "run", "--full-refresh", "tap-spreadsheets", "target-planhat-tickets")
STATE_ID = "demo:tap-spreadsheets-to-target-planhat-tickets"
# Snake_case column names that the tap emits, and its metadata columns. The
# stream maps' `__else__: __NULL__` must keep all of them out of the records.
UNMAPPED_COLUMNS = {
    "ticket_id", "body", "requester_email", "account_id", "state", "priority",
    "minutes_spent", "assignee_email", "link", "category",
    "_sdc_last_modified", "_sdc_filename", "_sdc_stream", "_sdc_worksheet",
}  # fmt: skip
UNSENT_FIELDS_MESSAGE = "fields outside the Planhat write model are not sent"


def read_rows() -> list[dict[str, str]]:
    with CSV_FILE.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture
def workspace(meltano: MeltanoProject, sandbox: Sandbox) -> Workspace:
    """An empty sandbox workspace with companies, which the target writes to."""
    created = sandbox.add_workspace("import", token=IMPORT_TOKEN, tickets=0, seed=5)
    meltano.environment["TARGET_PLANHAT_TICKETS_API_URL"] = sandbox.url
    meltano.environment["TARGET_PLANHAT_TICKETS_API_TOKEN"] = IMPORT_TOKEN
    return created


def test_export_is_valid_input():
    rows = read_rows()
    ids = [row["Ticket ID"] for row in rows]

    assert 10 <= len(rows) <= 20
    assert len(set(ids)) == len(ids)
    for row in rows:
        assert all(value.strip() for value in row.values()), row["Ticket ID"]
        assert row["Minutes Spent"].isdigit(), row["Ticket ID"]
        assert row["Account ID"] in {f"CRM-{number:05d}" for number in range(1, 6)}, row["Ticket ID"]


@pytest.mark.slow
def test_csv_rows_load_as_tickets(meltano: MeltanoProject, workspace: Workspace):
    rows = read_rows()
    company_ids = {company["externalId"]: company["_id"] for company in workspace.companies}

    result = meltano.run(*FULL_REFRESH_RUN)

    summary = f"stream 'helpdesk_export': received {len(rows)}, created {len(rows)}, updated 0, unchanged 0"
    assert summary in result.stderr
    assert "skipped as invalid 0, rejected by the API 0, dropped silently by the API 0" in result.stderr
    assert UNSENT_FIELDS_MESSAGE not in result.stderr

    tickets = {ticket["externalId"]: ticket for ticket in workspace.tickets()}
    assert len(tickets) == len(rows)
    for row in rows:
        key = row["Ticket ID"]
        assert key in tickets
        ticket = tickets[key]
        assert ticket["subject"] == row["Subject"], key
        assert ticket["snippet"] == row["Body"], key
        assert ticket["email"] == row["Requester Email"], key
        assert ticket["companyId"] == company_ids[row["Account ID"]], key
        assert ticket["status"] == row["State"], key
        assert ticket["timeSpent"] == int(row["Minutes Spent"]), key
        assert type(ticket["timeSpent"]) is int, key
        assert ticket["severity"] == row["Priority"], key
        assert ticket["product"] == row["Product"], key
        assert ticket["agentEmail"] == row["Assignee Email"], key
        assert ticket["url"] == row["Link"], key
        assert ticket["subType"] == row["Category"], key
        assert ticket["source"] == "helpdesk-csv", key
        assert not UNMAPPED_COLUMNS & set(ticket), key


@pytest.mark.slow
def test_rerun_loads_only_with_full_refresh(meltano: MeltanoProject, workspace: Workspace):
    rows = read_rows()
    meltano.run(*FULL_REFRESH_RUN)
    assert meltano.state(STATE_ID)["singer_state"]["bookmarks"]["helpdesk_export"]

    # The tap's bookmark is the file's modification time, and it skips a file
    # that is not newer. That is why the demo runs with --full-refresh.
    without_refresh = meltano.run(*RUN)
    assert "Summary: no records received" in without_refresh.stderr

    # Tickets match by sourceId, so loading the file again changes nothing.
    with_refresh = meltano.run(*FULL_REFRESH_RUN)
    summary = f"stream 'helpdesk_export': received {len(rows)}, created 0, updated 0, unchanged {len(rows)}"
    assert summary in with_refresh.stderr
    assert len(workspace.tickets()) == len(rows)


@pytest.mark.slow
def test_file_tap_definition_matches_about(meltano: MeltanoProject):
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    definition = next(item for item in project["plugins"]["extractors"] if item["name"] == "tap-spreadsheets")

    result = meltano.run("invoke", "tap-spreadsheets", "--about", "--format=json")

    about = json.loads(result.stdout)
    declared_settings = {setting["name"] for setting in definition["settings"]}
    assert declared_settings <= set(about["settings"]["properties"])
    assert set(definition["capabilities"]) <= set(about["capabilities"])
    assert definition["settings_group_validation"] == [about["settings"]["required"]]
    assert definition["pip_url"] == f"tap-spreadsheets=={about['version']}"
