"""The shared ticket schema against the vendor's example tickets."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from planhat_api import load_ticket_schema

FIXTURES = Path(__file__).parent / "fixtures"
MODEL_FIELDS = [
    "_id", "source", "companyId", "sourceId", "email", "domains", "companyExternalId", "title",
    "description", "url", "tags", "type", "severity", "product", "timeSpent", "status", "history",
]


def load_fixture(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator():
    schema = load_ticket_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("name", ["ticket-read-example.json", "ticket-write-example.json"])
def test_vendor_example_valid(validator, name):
    for ticket in load_fixture(name):
        errors = [error.message for error in validator.iter_errors(ticket)]
        assert errors == []


@pytest.mark.parametrize("name", ["ticket-read-example.json", "ticket-write-example.json"])
def test_schema_lists_every_example_field(name):
    properties = load_ticket_schema()["properties"]

    for ticket in load_fixture(name):
        assert set(ticket) - set(properties) == set()


def test_schema_lists_every_model_field():
    assert set(MODEL_FIELDS) - set(load_ticket_schema()["properties"]) == set()


def test_every_field_but_id_nullable():
    properties = load_ticket_schema()["properties"]

    not_nullable = [name for name, spec in properties.items() if "null" not in spec["type"]]

    assert not_nullable == ["_id"]


def test_custom_accepts_any_value_type(validator):
    ticket = {"_id": "a" * 24, "custom": {"n": None, "f": 1.5, "i": 2, "s": "x", "b": True, "l": [1], "o": {"k": 1}}}

    assert list(validator.iter_errors(ticket)) == []


def test_dates_are_date_time_format():
    properties = load_ticket_schema()["properties"]

    for name in ("createDate", "updateDate", "date", "inDate"):
        assert properties[name]["format"] == "date-time"


def test_bad_date_rejected(validator):
    errors = list(validator.iter_errors({"_id": "a" * 24, "updateDate": "yesterday"}))

    assert [error.message for error in errors] == ["'yesterday' is not a 'date-time'"]


def test_write_only_fields_are_the_write_names():
    properties = load_ticket_schema()["properties"]

    write_only = {name for name, spec in properties.items() if spec.get("writeOnly")}

    assert write_only == {"sourceId", "title", "description", "name", "agentEmail"}
