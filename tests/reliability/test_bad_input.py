"""Bad input and bad configuration: a clear error, a non-zero exit, no STATE past it.

The target gets 25 good records in batches of 10 with a STATE after every
10, then one bad line, then more records. Its error must name the line, the
stream or the record key, and every STATE it emits must cover only records
before the bad line that Planhat acknowledged.
"""

from __future__ import annotations

import json

import pytest

from tests.reliability.conftest import tap_config
from tests.singer_io import run_tap
from tests.target.conftest import WRITE_SCHEMA, run_target, ticket, write_singer

TOKEN = "bad-input-token"
GOOD = 25
BATCH = 10


@pytest.fixture
def workspace(sandbox):
    created = sandbox.add_workspace("bad-input", token=TOKEN, seed=7, companies=5)
    yield created
    sandbox.remove_workspace(created.name)


def target_config(sandbox, **settings):
    return {"api_url": sandbox.url, "api_token": TOKEN, "batch_size_rows": BATCH, **settings}


def message_lines(records, start=1):
    lines = []
    for number, record in enumerate(records, start=start):
        lines.append(json.dumps({"type": "RECORD", "stream": "tickets", "record": record}))
        if number % BATCH == 0:
            lines.append(json.dumps({"type": "STATE", "value": {"position": number}}))
    return lines


def write_with_bad_line(path, bad_line: bytes):
    """Write SCHEMA, 25 records with STATE every 10, the bad line, then 10 more records."""
    schema = json.dumps({"type": "SCHEMA", "stream": "tickets", "schema": WRITE_SCHEMA, "key_properties": ["sourceId"]})
    before = [schema, *message_lines([ticket(n) for n in range(1, GOOD + 1)])]
    after = message_lines([ticket(n) for n in range(GOOD + 1, GOOD + 11)], start=GOOD + 1)
    text_before = "".join(line + "\n" for line in before).encode()
    text_after = "".join(line + "\n" for line in after).encode()
    path.write_bytes(text_before + bad_line + b"\n" + text_after)
    # The bad line's number: one SCHEMA, 25 records and 2 STATE lines come first.
    return len(before) + 1


def positions_out(run):
    return [state["position"] for state in run.states]


def record_line(record) -> bytes:
    return json.dumps({"type": "RECORD", "stream": "tickets", "record": record}).encode()


BAD_LINES = {
    "malformed JSON": (b'{"type": "RECORD", "stream": "tickets", "record": {"sourceId": "T-9', "is not valid JSON (Unterminated string starting at character 64)"),
    "JSON array": (b"[1, 2, 3]", "is not a Singer message, because it is not a JSON object with a 'type'"),
    "invalid UTF-8": (record_line(ticket(99)).replace(b"Ticket 99", b"Ticket \xff\xfe 99"), "is not valid UTF-8: byte 0xff at byte"),
}


@pytest.mark.parametrize("case", list(BAD_LINES))
def test_bad_line_named_and_stops(tmp_path, sandbox, workspace, case):
    bad_line, message = BAD_LINES[case]
    input_path = tmp_path / "input.singer"
    number = write_with_bad_line(input_path, bad_line)

    run = run_target(tmp_path, target_config(sandbox), input_path)

    assert run.returncode != 0
    assert f"Line {number} of the input {message}" in run.stderr
    assert all(position <= 20 for position in positions_out(run))
    assert len(workspace) <= GOOD


def test_record_before_schema_named(tmp_path, sandbox, workspace):
    input_path = tmp_path / "input.singer"
    input_path.write_bytes(record_line(ticket(1)) + b"\n")

    run = run_target(tmp_path, target_config(sandbox), input_path)

    assert run.returncode != 0
    assert "A record for stream 'tickets' was encountered before a corresponding schema" in run.stderr
    assert "Stopped at line 1 of the input: RECORD message of stream 'tickets'" in run.stderr
    assert run.states == []
    assert len(workspace) == 0


def test_record_against_schema_named(tmp_path, sandbox, workspace):
    input_path = tmp_path / "input.singer"
    number = write_with_bad_line(input_path, record_line(ticket(99, tags="urgent")))

    run = run_target(tmp_path, target_config(sandbox), input_path)

    assert run.returncode != 0
    assert (
        "Stream 'tickets': record sourceId 'T-00099' does not match the stream's SCHEMA "
        "message: field tags: 'urgent' is not of type 'array', 'null'."
    ) in run.stderr
    assert f"Stopped at line {number} of the input: RECORD message of stream 'tickets'" in run.stderr
    assert all(position <= 20 for position in positions_out(run))


def test_oversized_integer_named(tmp_path, sandbox, workspace):
    input_path = tmp_path / "input.singer"
    write_with_bad_line(input_path, record_line(ticket(99, custom={"Score": 2**70})))

    run = run_target(tmp_path, target_config(sandbox), input_path)

    assert run.returncode != 0
    assert (
        f"sourceId 'T-00099' (custom contains the integer {2**70}, outside the 64-bit range "
        "that the JSON encoder writes; send it as a string instead)"
    ) in run.stderr
    assert "T-00099" not in {t["externalId"] for t in workspace.tickets()}
    assert all(position <= 20 for position in positions_out(run))


def test_huge_description_loads(tmp_path, sandbox, workspace):
    # 5 MB of text in one field, with multi-byte characters.
    description = "Große Störung ✓ " * 330_000
    input_path = tmp_path / "input.singer"
    write_with_bad_line(input_path, record_line(ticket(99, description=description)))

    run = run_target(tmp_path, target_config(sandbox), input_path)

    stored = {t["externalId"]: t for t in workspace.tickets()}
    assert run.returncode == 0, run.stderr[-3000:]
    assert stored["T-00099"]["snippet"] == description
    assert len(stored) == GOOD + 11
    assert run.states[-1] == {"position": 30}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"api_token": None}, "'api_token' is a required property"),
        ({"api_token": ""}, "api_token"),
        ({"api_url": "not a url"}, "Setting api_url 'not a url' is not a valid URL"),
        ({"api_url": "ftp://127.0.0.1"}, "Setting api_url 'ftp://127.0.0.1' is not a valid URL."),
        ({"api_url": "http://planhat.invalid"}, "uses plain http:// for a host that is not loopback"),
        ({"api_url": "http://planhat-staging.invalid:8080"}, "uses plain http:// for a host that is not loopback"),
        ({"region": "eu", "api_url": "https://planhat-eu.invalid"}, "are both set. Set only one"),
        ({"region": "europe west", "api_url": None}, "Setting region 'europe west' is invalid."),
        ({"batch_size_rows": 0}, "batch_size_rows"),
    ],
)
def test_target_bad_config_before_requests(tmp_path, sandbox, workspace, settings, message):
    input_path = tmp_path / "input.singer"
    write_with_bad_line(input_path, record_line(ticket(99)))
    config = {key: value for key, value in {**target_config(sandbox), **settings}.items() if value is not None}
    earlier = len(sandbox.requests())

    run = run_target(tmp_path, config, input_path)

    assert run.returncode != 0
    assert message in run.stderr
    assert len(sandbox.requests()) == earlier
    assert run.states == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"api_token": None}, "'api_token' is a required property"),
        ({"api_url": "not a url"}, "Setting api_url 'not a url' is not a valid URL"),
        ({"api_url": "http://planhat.invalid"}, "uses plain http:// for a host that is not loopback"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 20_000}, "page_size"),
    ],
)
def test_tap_bad_config_before_requests(tmp_path, sandbox, workspace_factory, settings, message):
    workspace = workspace_factory(tickets=5)
    config = {key: value for key, value in {**tap_config(sandbox, workspace), **settings}.items() if value is not None}

    run = run_tap(tmp_path, config)

    assert run.returncode != 0
    assert message in run.stderr
    assert sandbox.requests(workspace.name) == []
    assert run.states == []


def test_target_lone_surrogate_named(tmp_path, sandbox, workspace):
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "tickets", [ticket(1), ticket(2, title="x\ud800y"), ticket(3)], state_every=3)

    run = run_target(tmp_path, target_config(sandbox), input_path)

    assert run.returncode != 0
    assert "sourceId 'T-00002' cannot be sent as JSON" in run.stderr
    assert run.states == []
    assert workspace.tickets() == []
