"""The stream maps of docs/source-mappings.md turn sample records of each source system into tickets the target accepts.

The maps run through the Meltano Singer SDK's PluginMapper, as in a tap, and
the results through the target's own mapping and validation.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from singer_sdk.mapper import PluginMapper

from target_planhat_tickets.mapping import map_record
from target_planhat_tickets.validation import find_problems

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "source-mappings.md"
MAPPING_BLOCK = re.compile(r"<!-- mapping: (?P<source>\w+) -->\n```yaml\n(?P<yaml>.*?)```", re.S)

OBJECT = {"type": ["object", "null"]}
STRING = {"type": ["string", "null"]}
INTEGER = {"type": ["integer", "null"]}
BOOLEAN = {"type": ["boolean", "null"]}
STRINGS = {"type": ["array", "null"], "items": {"type": "string"}}

ZENDESK_SCHEMA = {
    "type": "object",
    "properties": {
        "id": INTEGER, "url": STRING, "subject": STRING, "description": STRING, "status": STRING,
        "priority": STRING, "type": STRING, "tags": STRINGS, "created_at": STRING, "updated_at": STRING,
        "requester": OBJECT, "organization": OBJECT, "assignee": OBJECT,
    },
}  # fmt: skip
FRESHDESK_SCHEMA = {
    "type": "object",
    "properties": {
        "id": INTEGER, "subject": STRING, "description_text": STRING, "status": INTEGER,
        "priority": INTEGER, "type": STRING, "tags": STRINGS, "company_id": INTEGER,
        "requester_id": INTEGER, "requester": OBJECT, "updated_at": STRING,
    },
}  # fmt: skip
SALESFORCE_SCHEMA = {
    "type": "object",
    "properties": {
        "Id": STRING, "CaseNumber": STRING, "Subject": STRING, "Description": STRING, "Status": STRING,
        "Priority": STRING, "Type": STRING, "Origin": STRING, "ContactEmail": STRING,
        "SuppliedEmail": STRING, "SuppliedName": STRING, "AccountId": STRING, "IsDeleted": BOOLEAN,
        "LastModifiedDate": STRING,
    },
}  # fmt: skip

FRESHDESK_RECORDS = [
    {
        "id": 101, "subject": "Cannot reset password", "description_text": "The reset link expired.",
        "status": 2, "priority": 3, "type": "Incident", "tags": ["login"], "company_id": 7001,
        "requester_id": 55, "requester": {"id": 55, "name": "Ana Silva", "email": "ana@customer.example"},
        "updated_at": "2025-04-01T10:00:00Z",
    },
    {
        "id": 102, "subject": "Billing question", "description_text": "Which plan includes SSO?",
        "status": 5, "priority": 1, "type": "Question", "tags": [], "company_id": 7002,
        "requester_id": 56, "requester": {"id": 56, "name": "Bo Chen", "email": "bo@other.example"},
        "updated_at": "2025-04-02T10:00:00Z",
    },
]  # fmt: skip
SALESFORCE_RECORDS = [
    {
        "Id": "5003X00001AbCdEQAV", "CaseNumber": "00001026", "Subject": "Sync stopped", "Description": "No data since Monday.",
        "Status": "Working", "Priority": "High", "Type": "Problem", "Origin": "Email",
        "ContactEmail": "it@customer.example", "SuppliedEmail": None, "SuppliedName": None,
        "AccountId": "0013X00002XyZaBQAV", "IsDeleted": False, "LastModifiedDate": "2025-04-03T08:00:00.000+0000",
    },
    {
        "Id": "5003X00001AbCdFQAV", "CaseNumber": "00001027", "Subject": "Web form request", "Description": "Please call me.",
        "Status": "New", "Priority": "Low", "Type": None, "Origin": "Web",
        "ContactEmail": None, "SuppliedEmail": "web@prospect.example", "SuppliedName": "Cy Park",
        "AccountId": "0013X00002XyZaCQAV", "IsDeleted": False, "LastModifiedDate": "2025-04-04T08:00:00.000+0000",
    },
    {
        "Id": "5003X00001AbCdGQAV", "CaseNumber": "00001028", "Subject": "Deleted case", "Description": None,
        "Status": "Closed", "Priority": "Low", "Type": None, "Origin": "Phone",
        "ContactEmail": "old@customer.example", "SuppliedEmail": None, "SuppliedName": None,
        "AccountId": "0013X00002XyZaBQAV", "IsDeleted": True, "LastModifiedDate": "2025-04-05T08:00:00.000+0000",
    },
]  # fmt: skip


def mapping_blocks() -> dict[str, dict[str, Any]]:
    """Return the `stream_maps` of each YAML block in the doc, by source system."""
    text = DOC.read_text(encoding="utf-8")
    return {match["source"]: yaml.safe_load(match["yaml"])["stream_maps"] for match in MAPPING_BLOCK.finditer(text)}


def apply_maps(stream_maps: dict[str, Any], schema: dict[str, Any], records: list[dict[str, Any]]) -> tuple[dict, list[dict]]:
    """Run the stream maps on ``records`` as a tap does and return the emitted schema and records."""
    (stream,) = stream_maps
    mapper = PluginMapper(plugin_config={"stream_maps": stream_maps}, logger=logging.getLogger("stream-maps"))
    mapper.register_raw_stream_schema(stream, schema, [next(iter(schema["properties"]))])
    (stream_map,) = mapper.stream_maps[stream]
    assert stream_map.transformed_key_properties == ["sourceId"]
    mapped = [stream_map.transform(record) for record in records if stream_map.get_filter_result(record)]
    return stream_map.transformed_schema, mapped


def assert_accepted_by_target(schema: dict[str, Any], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Check each record against the emitted schema and the target's validation; return the write items."""
    items = []
    for record in records:
        jsonschema.Draft202012Validator(schema).validate(record)
        mapped = map_record(record, same_workspace=False)
        assert find_problems(mapped, same_workspace=False) == [], record
        assert not mapped.unsent_fields, mapped.unsent_fields
        items.append(mapped.item)
    return items


def test_doc_has_three_mappings():
    assert set(mapping_blocks()) == {"zendesk", "freshdesk", "salesforce"}


def test_zendesk_mapping_is_meltano_config():
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    tap_jsonl = next(item for item in project["plugins"]["extractors"] if item["name"] == "tap-jsonl")

    assert mapping_blocks()["zendesk"] == tap_jsonl["config"]["stream_maps"]


def test_zendesk_mapping():
    with (ROOT / "scripts" / "zendesk_tickets.jsonl").open(encoding="utf-8") as file:
        records = [json.loads(line) for line in file]

    schema, mapped = apply_maps(mapping_blocks()["zendesk"], ZENDESK_SCHEMA, records)

    items = assert_accepted_by_target(schema, mapped)
    assert len(items) == len(records)
    for record, item in zip(records, items, strict=True):
        assert item["sourceId"] == str(record["id"])
        assert item["email"] == record["requester"]["email"]
        assert item["companyExternalId"] == record["organization"]["external_id"]
        assert item.get("agentEmail") == (record["assignee"] or {}).get("email")
        assert item["source"] == "zendesk"


def test_freshdesk_mapping():
    schema, mapped = apply_maps(mapping_blocks()["freshdesk"], FRESHDESK_SCHEMA, FRESHDESK_RECORDS)

    items = assert_accepted_by_target(schema, mapped)
    assert [item["sourceId"] for item in items] == ["101", "102"]
    assert [item["status"] for item in items] == ["open", "closed"]
    assert [item["severity"] for item in items] == ["high", "low"]
    assert [item["companyExternalId"] for item in items] == ["7001", "7002"]
    assert items[0]["email"] == "ana@customer.example"
    assert items[0]["description"] == "The reset link expired."
    assert items[0]["tags"] == ["login"]


def test_salesforce_mapping():
    schema, mapped = apply_maps(mapping_blocks()["salesforce"], SALESFORCE_SCHEMA, SALESFORCE_RECORDS)

    items = assert_accepted_by_target(schema, mapped)
    assert [item["sourceId"] for item in items] == ["00001026", "00001027"]
    assert [item["email"] for item in items] == ["it@customer.example", "web@prospect.example"]
    assert items[0]["companyExternalId"] == "0013X00002XyZaBQAV"
    assert items[0]["url"] == "https://example.my.salesforce.com/5003X00001AbCdEQAV"
    assert items[1]["name"] == "Cy Park"


@pytest.mark.parametrize("source", ["freshdesk", "salesforce"])
def test_mapping_without_email_is_rejected(source):
    schemas = {"freshdesk": FRESHDESK_SCHEMA, "salesforce": SALESFORCE_SCHEMA}
    records = {
        "freshdesk": [{**FRESHDESK_RECORDS[0], "requester": None}],
        "salesforce": [{**SALESFORCE_RECORDS[0], "ContactEmail": None}],
    }

    _, mapped = apply_maps(mapping_blocks()[source], schemas[source], records[source])

    problems = find_problems(map_record(mapped[0], same_workspace=False), same_workspace=False)
    assert any("email" in problem for problem in problems), problems
