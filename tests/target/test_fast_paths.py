"""The target's speed-ups decide and produce what the SDK's own code does.

Compiled validation must never accept a record that the SDK's validator
rejects, the msgspec reader must parse what the `json` module parses, and the
cached timestamp parsing must change records as the SDK's parsing does.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import json
import logging
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.exceptions import InvalidRecord, MissingKeyPropertiesError
from singer_sdk.helpers.conform import DatetimeErrorTreatmentEnum
from singer_sdk.singerlib.json import deserialize_json
from singer_sdk.sinks.core import JSONSchemaValidator, Sink

from planhat_api import load_ticket_schema
from target_planhat_tickets import batch
from target_planhat_tickets.batch import (
    BatchPlan,
    RecordProblems,
    describe_record,
    plan_batch,
)
from target_planhat_tickets.compiled_validation import (
    CompiledSchemaValidator,
    compile_check,
)
from target_planhat_tickets.fast_mapping import map_valid_record
from target_planhat_tickets.mapping import map_record
from target_planhat_tickets.reader import _decode, _decode_utf8, _parse_line
from target_planhat_tickets.target import TargetPlanhatTickets
from target_planhat_tickets.validation import find_problems

TICKET_SCHEMA = load_ticket_schema()

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=5), children, max_size=3),
    ),
    max_leaves=8,
)
ticket_records = st.dictionaries(
    st.sampled_from([*TICKET_SCHEMA["properties"], "unknownField"]),
    json_values,
    max_size=8,
)

# Schemas that mean the same in draft 7 and draft 2020-12: the compiled check
# is used for them.
PORTABLE_SCHEMAS = [
    TICKET_SCHEMA,
    {
        "type": "object",
        "properties": {
            "n": {"type": ["integer", "null"], "minimum": 0, "exclusiveMaximum": 10},
            "x": {"type": "number", "maximum": 2.5},
            "s": {"type": "string", "minLength": 1, "maxLength": 3, "pattern": "^a"},
            "e": {"enum": ["a", "b", None]},
            "a": {"type": "array", "items": {"type": "boolean"}, "minItems": 1},
            "o": {
                "type": "object",
                "required": ["k"],
                "additionalProperties": False,
                "properties": {"k": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
            },
        },
        "required": ["n"],
    },
]
TICKET_CHECK = compile_check(TICKET_SCHEMA, validate_formats=False)
TICKET_SDK_VALIDATOR = JSONSchemaValidator(TICKET_SCHEMA)
KEYWORDS_CHECK = compile_check(PORTABLE_SCHEMAS[1], validate_formats=False)
KEYWORDS_SDK_VALIDATOR = JSONSchemaValidator(PORTABLE_SCHEMAS[1])
portable_records = st.fixed_dictionaries(
    {},
    optional={name: json_values for name in ("n", "x", "s", "e", "a", "o")},
)


def sdk_accepts(validator: JSONSchemaValidator, record: dict[str, Any]) -> bool:
    try:
        validator.validate(record)
    except InvalidRecord:
        return False
    return True


def compiled_accepts(check: Any, record: dict[str, Any]) -> bool:
    try:
        check(copy.deepcopy(record))
    except Exception:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(ticket_records)
def test_compiled_never_more_lenient_tickets(record):
    if compiled_accepts(TICKET_CHECK, record):
        assert sdk_accepts(TICKET_SDK_VALIDATOR, record), record


@settings(max_examples=300, deadline=None)
@given(portable_records)
def test_compiled_never_more_lenient_keywords(record):
    if compiled_accepts(KEYWORDS_CHECK, record):
        assert sdk_accepts(KEYWORDS_SDK_VALIDATOR, record), record


@settings(max_examples=150, deadline=None)
@given(ticket_records)
def test_compiled_validator_decides_like_sdk(record):
    compiled = CompiledSchemaValidator(TICKET_SDK_VALIDATOR, TICKET_CHECK)

    assert sdk_accepts(compiled, record) == sdk_accepts(TICKET_SDK_VALIDATOR, record)


def test_compiled_check_leaves_record_unchanged():
    schema = {"type": "object", "properties": {"a": {"type": "string", "default": "x"}}}
    check = compile_check(schema, validate_formats=False)
    record: dict[str, Any] = {}

    check(record)

    assert record == {}


def test_compiled_validator_raises_sdk_error():
    sdk = JSONSchemaValidator(TICKET_SCHEMA)
    compiled = CompiledSchemaValidator(
        sdk, compile_check(TICKET_SCHEMA, validate_formats=False)
    )
    record = {"_id": "a" * 24, "timeSpent": "fifteen"}

    with pytest.raises(InvalidRecord) as ours:
        compiled.validate(record)
    with pytest.raises(InvalidRecord) as theirs:
        sdk.validate(record)

    assert str(ours.value) == str(theirs.value)
    assert type(ours.value.__cause__) is type(theirs.value.__cause__)


def test_compiled_validator_defers_integral_float():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    sdk = JSONSchemaValidator(schema)
    compiled = CompiledSchemaValidator(
        sdk, compile_check(schema, validate_formats=False)
    )

    compiled.validate({"n": 15.0})  # draft 2020-12 accepts it; fastjsonschema does not


@pytest.mark.parametrize(
    "schema",
    [
        {
            "type": "object",
            "properties": {"a": {"$ref": "#/definitions/a"}},
            "definitions": {"a": {"type": "string"}},
        },
        {"type": "array", "prefixItems": [{"type": "string"}]},
        {"type": "array", "items": [{"type": "string"}]},
        {"type": "object", "unevaluatedProperties": False},
        {"type": "number", "multipleOf": 0.1},
        {"type": "array", "uniqueItems": True},
        {"enum": [1, "a"]},
        {"const": True},
        {"type": "object", "properties": {"a": {"anyOf": [{"dependentRequired": {}}]}}},
    ],
)
def test_differing_keywords_not_compiled(schema):
    assert compile_check(schema, validate_formats=False) is None


def test_formats_not_compiled():
    assert compile_check(TICKET_SCHEMA, validate_formats=True) is None


def test_portable_schemas_compiled():
    for schema in PORTABLE_SCHEMAS:
        assert compile_check(schema, validate_formats=False) is not None


@pytest.mark.parametrize(
    "line",
    [
        '{"type":"RECORD","record":{"a":1.5,"b":1E5,"c":-0.0,"d":1e400,"e":1.5e-400}}',
        '{"type":"RECORD","record":{"big":123456789012345678901234567890,"neg":-9223372036854775809}}',
        '{"type":"RECORD","record":{"text":"\\u00fc\\ud83d\\ude00 \\" \\\\","empty":{},"list":[]}}',
        '{"type":"RECORD","record":{"nan":NaN,"inf":Infinity}}',
        '{"type":"RECORD","record":{"lone":"\\ud800"}}',
        '{"type":"RECORD","record":{"a":1,"a":2}}\n',
    ],
)
def test_decode_matches_json_module(line):
    decoded = _decode(line)
    expected = deserialize_json(line.rstrip("\n"))

    assert repr(decoded) == repr(expected)


def test_decode_invalid_json_raises_json_error():
    with pytest.raises(json.JSONDecodeError):
        _decode('{"type": "RECORD", "record": ')


@pytest.fixture
def sink():
    target = TargetPlanhatTickets(
        config={"api_url": "http://127.0.0.1:9", "api_token": "t"},
        validate_config=True,
    )
    schema = {
        "type": "object",
        "properties": {
            "_id": {"type": "string"},
            "createDate": {"type": ["string", "null"], "format": "date-time"},
            "day": {"type": ["string", "null"], "format": "date"},
            "clock": {
                "anyOf": [{"type": "string", "format": "time"}, {"type": "null"}]
            },
            "subject": {"type": ["string", "null"]},
        },
    }
    return target.get_sink("tickets", schema=schema, key_properties=["_id"])


RECORDS = [
    {
        "_id": "a",
        "createDate": "2021-06-24T19:38:16.000Z",
        "day": "2021-06-24",
        "clock": "19:38:16",
        "subject": "x",
    },
    {"_id": "b", "createDate": None, "day": None, "clock": None},
    {"_id": "c", "createDate": "2021-13-45T99:00:00Z", "unknown": 1, "other": None},
    {
        "_id": "d",
        "day": "not a date",
        "subject": "2021-06-24",
        "unknown": 2,
        "more": [1],
    },
    {"_id": "e", "createDate": "9999-12-31T23:59:59.999999+00:00"},
]


@pytest.mark.parametrize("treatment", list(DatetimeErrorTreatmentEnum))
def test_timestamps_parsed_like_sdk(sink, treatment, caplog):
    for record in RECORDS:
        ours, theirs = copy.deepcopy(record), copy.deepcopy(record)
        our_error = their_error = None
        try:
            sink._parse_timestamps_in_record(ours, sink.schema, treatment)
        except Exception as error:  # the ERROR treatment raises for an invalid date
            our_error = (type(error), str(error))
        try:
            Sink._parse_timestamps_in_record(sink, theirs, sink.schema, treatment)
        except Exception as error:
            their_error = (type(error), str(error))

        assert our_error == their_error, record
        if our_error is None:
            assert ours == theirs, record
            assert list(ours) == list(record)


def test_timestamps_warn_once_per_unknown_field(sink, caplog):
    caplog.set_level(logging.WARNING)
    for record in RECORDS * 2:
        sink._parse_timestamps_in_record(
            copy.deepcopy(record), sink.schema, DatetimeErrorTreatmentEnum.NULL
        )

    warnings = [
        r.getMessage()
        for r in caplog.records
        if "No schema for record field" in r.getMessage()
    ]
    assert warnings == [
        "No schema for record field 'unknown'",
        "No schema for record field 'more'",
    ]


def test_timestamps_parsed_to_datetime(sink):
    record = copy.deepcopy(RECORDS[0])

    sink._parse_timestamps_in_record(
        record, sink.schema, DatetimeErrorTreatmentEnum.ERROR
    )

    assert record["createDate"] == datetime.datetime(
        2021, 6, 24, 19, 38, 16, tzinfo=datetime.timezone.utc
    )
    assert record["day"] == datetime.date(2021, 6, 24)
    assert record["subject"] == "x"


# The shortcut of plan_batch for valid records must plan what the full path
# plans: the same items with their keys in the same order, the same invalid
# records with the same messages, and the same counts.

object_ids = st.sampled_from(
    ["5fee6600dd73cf256d00001a", "5fee6600dd73cf256d00001b", "5FEE6600DD73CF256D00001A"]
)
texts = st.one_of(
    st.sampled_from(["a@example.com", "ZD-1", "ZD-2", " ", "", "\u2003", "ticket"]),
    st.text(max_size=4),
)
mapping_scalars = st.one_of(
    st.none(),
    texts,
    st.booleans(),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.floats(allow_nan=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.datetimes(timezones=st.sampled_from([None, datetime.timezone.utc])),
)
mapping_values = st.recursive(
    mapping_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.tuples(children),
        st.dictionaries(st.one_of(texts, st.integers(0, 3)), children, max_size=3),
    ),
    max_leaves=6,
)


def usually(valid: st.SearchStrategy, other: st.SearchStrategy) -> st.SearchStrategy:
    """Draw from `valid` 9 times in 10, and from `other` otherwise."""
    return st.integers(0, 9).flatmap(lambda n: other if n == 9 else valid)


# Most records are valid, so that the shortcut is taken, and any field may
# be anything, so that every check of the full path is taken too.
mapping_records = st.fixed_dictionaries(
    {
        "externalId": usually(st.sampled_from(["ZD-1", "ZD-2", "ZD-3"]), texts),
        "email": usually(st.just("a@example.com"), mapping_values),
        "companyId": usually(st.just("5fed1480dd73cf256d000012"), mapping_values),
    },
    optional={
        "_id": usually(object_ids, mapping_values),
        "_sdc_deleted_at": usually(st.none(), st.just("2024-01-01T00:00:00Z")),
        "_sdc_extracted_at": mapping_values,
        "sourceId": usually(st.sampled_from(["ZD-1", "ZD-4"]), mapping_values),
        "companyExternalId": texts,
        "domains": usually(st.lists(texts, max_size=2), mapping_values),
        "subject": texts,
        "title": usually(texts, mapping_values),
        "snippet": texts,
        "tags": usually(st.lists(texts, max_size=2), mapping_values),
        "type": usually(st.sampled_from(["ticket", "bug", None]), mapping_values),
        "subType": st.one_of(st.sampled_from(["ticket", "task", None]), texts),
        "timeSpent": usually(st.integers(0, 100), mapping_values),
        "history": usually(
            st.lists(st.dictionaries(texts, mapping_scalars, max_size=2), max_size=2),
            mapping_values,
        ),
        "custom": usually(
            st.dictionaries(texts, mapping_values, max_size=3), mapping_values
        ),
        "companyName": mapping_values,
        "unknownField": mapping_values,
    },
)


def plan_by_full_path(
    records: list[dict[str, Any]], *, same_workspace: bool, hard_delete: bool
) -> BatchPlan:
    """Plan a batch with `map_record` and `find_problems` alone, as before the shortcut."""
    plan = BatchPlan()
    for ordinal, record in enumerate(records, start=1):
        mapped = map_record(record, same_workspace=same_workspace)
        plan.unsent_fields.update(mapped.unsent_fields)
        if mapped.deleted and not hard_delete:
            mapped = dataclasses.replace(mapped, deleted=False)
            plan.deletes_upserted += 1
        problems = find_problems(mapped, same_workspace=same_workspace)
        if problems:
            label = describe_record(mapped, ordinal)
            plan.invalid.append(RecordProblems(label, problems, record))
            continue
        batch._add(plan, mapped)
    return plan


def plan_facts(plan: BatchPlan) -> dict[str, Any]:
    """Return what a plan sends and reports, with the key order of every object."""
    return {
        "upserts": repr([(key, item) for key, item in plan.upserts.items()]),
        "deletes": list(plan.deletes.items()),
        "invalid": [(r.label, r.problems, id(r.record)) for r in plan.invalid],
        "duplicates": plan.duplicates,
        "deletes_upserted": plan.deletes_upserted,
        "unsent_fields": plan.unsent_fields,
    }


@settings(max_examples=400, deadline=None)
@given(
    st.lists(mapping_records, max_size=6),
    st.booleans(),
    st.booleans(),
)
def test_plan_shortcut_matches_full_path(records, same_workspace, hard_delete):
    options = {"same_workspace": same_workspace, "hard_delete": hard_delete}

    planned = plan_batch(records, **options)
    expected = plan_by_full_path(records, **options)

    assert plan_facts(planned) == plan_facts(expected)


@settings(max_examples=400, deadline=None)
@given(mapping_records, st.booleans())
def test_shortcut_item_equals_mapped_item(record, same_workspace):
    item = map_valid_record(record, same_workspace=same_workspace)
    mapped = map_record(record, same_workspace=same_workspace)

    if item is not None:
        assert repr(item) == repr(mapped.item)
        assert find_problems(mapped, same_workspace=same_workspace) == []


def test_shortcut_taken_for_tap_records():
    record = {
        "_id": "5fee6600dd73cf256d00001a",
        "externalId": "ic_1",
        "type": "ticket",
        "subType": "ticket",
        "subject": "Hello",
        "email": "a@example.com",
        "companyId": "5fed1480dd73cf256d000012",
        "history": [{"status": "open", "time": "2021-01-01T00:00:00.000Z"}],
        "custom": {"Week No": Decimal("1.5"), "Logins": 3, "Score": None},
        "tags": ["urgent"],
        "createDate": datetime.datetime(2021, 1, 1, tzinfo=datetime.timezone.utc),
    }

    item = map_valid_record(record, same_workspace=False)

    assert item == map_record(record, same_workspace=False).item


# The target processes a RECORD of a stream without stream maps itself,
# skipping the SDK's copy of the record and its no-op stream map. Sinks must
# receive the same records, and errors must be the same, as through the
# SDK's own `_process_record_message`.

tap_like_records = st.fixed_dictionaries(
    {
        "_id": usually(object_ids, json_values),
        "externalId": usually(st.sampled_from(["ZD-1", "ZD-2"]), json_values),
        "email": usually(st.just("a@example.com"), json_values),
        "companyId": usually(st.just("5fed1480dd73cf256d000012"), json_values),
        "createDate": usually(
            st.sampled_from(["2021-01-01T00:00:00.000Z", None]),
            st.sampled_from(["not a date", "2021-13-45T00:00:00Z", ""]),
        ),
    },
    optional={
        name: json_values
        for name in ("subject", "custom", "history", "tags", "days", "unknownField")
    }
    | {"_sdc_deleted_at": st.just("2024-01-01T00:00:00Z")},
)
# Fields that the SDK's record metadata fills from the clock.
CLOCK_FIELDS = (
    "_sdc_received_at",
    "_sdc_batched_at",
    "_sdc_sequence",
    "_sdc_sync_started_at",
)


def load_through(
    records: list[dict[str, Any]], *, own_path: bool, **settings: Any
) -> dict[str, Any]:
    """Process `records` as RECORD messages and return what the sink received."""
    config = {"api_url": "http://127.0.0.1:9", "api_token": "t", **settings}
    target = TargetPlanhatTickets(config=config, validate_config=True)
    if not own_path:
        target._process_unmapped_record = lambda message: False
    target._process_schema_message(
        {
            "type": "SCHEMA",
            "stream": "tickets",
            "schema": TICKET_SCHEMA,
            "key_properties": ["_id"],
        }
    )
    sink = target.get_sink("tickets")
    batches: list[list[dict[str, Any]]] = []
    sink.process_batch = lambda context: batches.append(
        [without_clock_fields(record) for record in context["records"]]
    )

    outcomes = []
    for record in records:
        message = {
            "type": "RECORD",
            "stream": "tickets",
            "record": copy.deepcopy(record),
            "time_extracted": "2024-01-01T00:00:00+00:00",
        }
        try:
            target._process_record_message(message)
            outcomes.append("processed")
        except Exception as error:
            outcomes.append(f"{type(error).__name__}: {error}")
    target.drain_all()
    return {
        "outcomes": outcomes,
        "batches": repr(batches),
        "counts": target.report.stream("tickets"),
        "records_read": sink._total_records_read,
    }


def without_clock_fields(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key not in CLOCK_FIELDS}


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"batch_size_rows": 2},
        {"add_record_metadata": True},
        {"same_workspace": True, "hard_delete": True},
        {"validate_records": False},
    ],
)
@settings(max_examples=25, deadline=None)
@given(records=st.lists(tap_like_records, max_size=5))
def test_own_record_path_matches_sdk(records, settings):
    ours = load_through(records, own_path=True, **settings)
    sdks = load_through(records, own_path=False, **settings)

    assert ours == sdks


def test_own_record_path_taken_without_maps():
    target = TargetPlanhatTickets(
        config={"api_url": "http://127.0.0.1:9", "api_token": "t"},
        validate_config=True,
    )
    target._process_schema_message(
        {"type": "SCHEMA", "stream": "tickets", "schema": TICKET_SCHEMA}
    )
    message = {"type": "RECORD", "stream": "tickets", "record": {"_id": "a"}}

    assert target._process_unmapped_record(message) is True


def test_own_record_path_skipped_with_stream_maps():
    target = TargetPlanhatTickets(
        config={
            "api_url": "http://127.0.0.1:9",
            "api_token": "t",
            "stream_maps": {"tickets": {"companyId": "__NULL__"}},
        },
        validate_config=True,
    )
    target._process_schema_message(
        {"type": "SCHEMA", "stream": "tickets", "schema": TICKET_SCHEMA}
    )
    message = {"type": "RECORD", "stream": "tickets", "record": {"_id": "a"}}

    assert target._process_unmapped_record(message) is False


def test_missing_key_property_raises_sdk_error(sink):
    record = {"createDate": None}

    with pytest.raises(MissingKeyPropertiesError) as ours:
        sink._singer_validate_message(record)
    with pytest.raises(MissingKeyPropertiesError) as sdks:
        Sink._singer_validate_message(sink, record)

    assert str(ours.value) == str(sdks.value)


# The reader parses each line's bytes with msgspec straight away, and takes
# the text path for any line that this does not turn into a message. Every
# line must give the message or the error of the text path alone.


def parse_as_text(number: int, raw: bytes) -> dict[str, Any] | None:
    """Parse a line as the reader did before it parsed bytes: decode, then parse."""
    return _parse_line(number, _decode_utf8(number, raw))


def outcome(parse: Any, raw: bytes) -> str:
    try:
        return repr(parse(7, raw))
    except Exception as error:
        return f"{type(error).__name__}: {error}"


line_texts = st.one_of(
    json_values.map(
        lambda value: json.dumps({"type": "RECORD", "record": value}, default=str)
    ),
    st.text().map(lambda text: json.dumps({"type": text, "stream": "s"})),
    st.sampled_from(
        [
            "",
            "  ",
            "\u2003\u00a0",
            "\ufeff" + '{"type": "STATE"}',
            '{"type": "RECORD", "record": {"n": NaN}}',
            '{"type": "RECORD", "record": {"s": "\\ud800"}}',
            '["type"]',
            '{"stream": "s"}',
            '{"type": "RECORD"',
            '{"type": "A", "type": "B"}',
        ]
    ),
)
line_bytes = st.one_of(
    line_texts.map(lambda text: text.encode("utf-8")),
    st.tuples(line_texts, st.binary(min_size=1, max_size=3), st.integers(0, 40)).map(
        lambda parts: (
            parts[0].encode("utf-8")[: parts[2]]
            + parts[1]
            + parts[0].encode("utf-8")[parts[2] :]
        )
    ),
    st.binary(max_size=12),
)


@settings(max_examples=500, deadline=None)
@given(line_bytes, st.sampled_from([b"", b"\n", b"\r\n"]))
def test_bytes_parse_like_text(raw, ending):
    line = raw + ending

    assert outcome(_parse_line, line) == outcome(parse_as_text, line)
