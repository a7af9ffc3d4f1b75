"""Pipelines with third-party plugins from PyPI: tap-jsonl into the target, and the tap into target-csv.

Both plugins are declared in meltano.yml with full definitions. The first
pipeline maps Zendesk tickets (scripts/zendesk_tickets.jsonl) to Planhat
tickets with the stream maps of meltano.yml. The second one turns on the
SDK's stream maps and schema flattening on the tap side, through the
environment variables that Meltano reads for the tap's settings.
"""

from __future__ import annotations

import csv
import json
from typing import Any

import pytest
import requests
import yaml

from planhat_sandbox import Sandbox, Workspace
from tests.meltano.conftest import ROOT, TOKEN, MeltanoProject

pytestmark = pytest.mark.slow

ZENDESK_FILE = ROOT / "scripts" / "zendesk_tickets.jsonl"
IMPORT_TOKEN = "import-test-token"
TICKETS = 300
# Keeps a few fields, renames subject, moves one custom field to a column of
# its own and keeps only the domain of the requester's email. The seeded
# custom field "Escalated" is a boolean that only some tickets have.
STREAM_MAPS = {
    "tickets": {
        "__else__": "__NULL__",
        "_id": "_id",
        "title": "subject",
        "status": "status",
        "companyId": "companyId",
        "updateDate": "updateDate",
        "custom": "custom",
        "history": "history",
        "escalated": "int(custom['Escalated']) if custom and 'Escalated' in custom else None",
        "email_domain": "email.split('@')[-1] if email else None",
    }
}


def read_zendesk_tickets() -> list[dict[str, Any]]:
    with ZENDESK_FILE.open(encoding="utf-8") as file:
        return [json.loads(line) for line in file]


def sandbox_tickets(sandbox: Sandbox, token: str) -> dict[str, dict[str, Any]]:
    """Return every ticket of the token's workspace, by ``_id``."""
    response = requests.get(
        f"{sandbox.url}/tickets",
        params={"limit": 10_000},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    response.raise_for_status()
    return {ticket["_id"]: ticket for ticket in response.json()}


@pytest.fixture
def workspace(meltano: MeltanoProject, sandbox: Sandbox) -> Workspace:
    """An empty sandbox workspace with the companies CRM-00001 to CRM-00005, which the target writes to."""
    created = sandbox.add_workspace("import", token=IMPORT_TOKEN, tickets=0, seed=5)
    meltano.environment["TARGET_PLANHAT_TICKETS_API_URL"] = sandbox.url
    meltano.environment["TARGET_PLANHAT_TICKETS_API_TOKEN"] = IMPORT_TOKEN
    return created


def test_zendesk_jsonl_loads_as_tickets(meltano: MeltanoProject, workspace: Workspace) -> None:
    rows = read_zendesk_tickets()
    company_ids = {company["externalId"]: company["_id"] for company in workspace.companies}

    result = meltano.run("--environment=dev", "run", "tap-jsonl", "target-planhat-tickets")

    summary = f"stream 'zendesk_tickets': received {len(rows)}, created {len(rows)}, updated 0, unchanged 0"
    assert summary in result.stderr
    tickets = {ticket["externalId"]: ticket for ticket in workspace.tickets()}
    assert len(tickets) == len(rows)
    for row in rows:
        key = str(row["id"])
        ticket = tickets[key]
        assert ticket["subject"] == row["subject"], key
        assert ticket["snippet"] == row["description"], key
        assert ticket["email"] == row["requester"]["email"], key
        assert ticket["companyId"] == company_ids[row["organization"]["external_id"]], key
        assert ticket["status"] == row["status"], key
        assert ticket["severity"] == row["priority"], key
        assert ticket["subType"] == row["type"], key
        assert ticket["tags"] == row["tags"], key
        assert ticket["url"] == row["url"], key
        assert ticket["source"] == "zendesk", key
        assert "requester" not in ticket, key


def test_flattened_tickets_load_as_csv(meltano: MeltanoProject, sandbox: Sandbox, tmp_path) -> None:
    sandbox.add_workspace("meltano", token=TOKEN, tickets=TICKETS, seed=4)
    meltano.environment.update({
        "TAP_PLANHAT_TICKETS_STREAM_MAPS": json.dumps(STREAM_MAPS),
        "TAP_PLANHAT_TICKETS_FLATTENING_ENABLED": "true",
        "TAP_PLANHAT_TICKETS_FLATTENING_MAX_DEPTH": "1",
        "TARGET_CSV_OUTPUT_PATH": str(tmp_path),
    })  # fmt: skip

    meltano.run("--environment=dev", "run", "tap-planhat-tickets", "target-csv")

    with (tmp_path / "tickets.csv").open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file)
        rows = {row["_id"]: row for row in reader}
    assert reader.fieldnames == list(STREAM_MAPS["tickets"])[1:]
    tickets = sandbox_tickets(sandbox, TOKEN)
    assert set(rows) == set(tickets)
    with_escalated = 0
    for ticket_id, ticket in tickets.items():
        row = rows[ticket_id]
        assert row["title"] == ticket["subject"], ticket_id
        assert row["email_domain"] == ticket["email"].split("@")[-1], ticket_id
        # Flattening writes objects and arrays without declared properties as JSON text.
        assert json.loads(row["custom"] or "null") == ticket.get("custom"), ticket_id
        assert json.loads(row["history"] or "null") == ticket.get("history"), ticket_id
        escalated = (ticket.get("custom") or {}).get("Escalated")
        assert row["escalated"] == ("" if escalated is None else str(int(escalated))), ticket_id
        with_escalated += escalated is not None
    # Both branches of the map expression ran.
    assert 0 < with_escalated < len(tickets)


def test_flattening_changes_tap_schema(meltano: MeltanoProject, sandbox: Sandbox) -> None:
    sandbox.add_workspace("meltano", token=TOKEN, tickets=5, seed=4)
    meltano.environment.update({
        "TAP_PLANHAT_TICKETS_STREAM_MAPS": json.dumps(STREAM_MAPS),
        "TAP_PLANHAT_TICKETS_FLATTENING_ENABLED": "true",
        "TAP_PLANHAT_TICKETS_FLATTENING_MAX_DEPTH": "1",
    })  # fmt: skip

    result = meltano.run("--environment=dev", "invoke", "tap-planhat-tickets")

    messages = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    (schema,) = [message["schema"] for message in messages if message["type"] == "SCHEMA"]
    assert list(schema["properties"]) == list(STREAM_MAPS["tickets"])[1:]
    assert schema["properties"]["custom"]["type"] == ["string", "null"]
    assert schema["properties"]["history"]["type"] == ["string", "null"]
    assert "integer" in schema["properties"]["escalated"]["type"]
    records = [message for message in messages if message["type"] == "RECORD"]
    assert len(records) == 5


@pytest.mark.parametrize(
    ("plugin_type", "name", "package"),
    [("extractors", "tap-jsonl", "tap-jsonl"), ("loaders", "target-csv", "meltanolabs-target-csv")],
)
def test_definition_matches_about(meltano: MeltanoProject, plugin_type: str, name: str, package: str) -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    definition = next(item for item in project["plugins"][plugin_type] if item["name"] == name)

    result = meltano.run("invoke", name, "--about", "--format=json")

    about = json.loads(result.stdout)
    declared_settings = {setting["name"] for setting in definition["settings"]}
    assert declared_settings <= set(about["settings"]["properties"])
    assert set(definition["capabilities"]) <= set(about["capabilities"])
    assert definition["pip_url"] == f"{package}=={about['version']}"
    for group in definition["settings_group_validation"]:
        assert set(group) <= declared_settings
    assert set(about["settings"].get("required") or []) <= set(definition["settings_group_validation"][0])


def test_readme_shows_tested_flattening_config() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("The CSV test", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]

    config = yaml.safe_load(block)

    assert config["stream_maps"] == STREAM_MAPS
    assert config["flattening_enabled"] is True
    assert config["flattening_max_depth"] == 1
