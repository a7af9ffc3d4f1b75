"""The tap's speed-ups write what the SDK's own per-record path writes.

Each test runs the tap as shipped and `tests.tap.sdk_reference`, which undoes
every override of the SDK's per-record path, against the same pages, and
compares the Singer messages value by value and type by type. A sandbox hook
puts values into the pages that the SDK's type conformance would change or
that a JSON writer could change. They are floats with and without a
fraction, integers too large for 64 bits, booleans sent as numbers or
strings, and fields that the schema does not list, at the top level and
inside nested objects.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from planhat_sandbox import Exchange, Reply, SandboxHook
from tests.singer_io import TapRun, discover, parse_tap_output, select_only
from tests.tap.conftest import tap_config

ROOT = Path(__file__).resolve().parents[2]

# Values that the SDK's conformance changes or that a writer could change.
EDGE_VALUES: list[dict[str, Any]] = [
    {
        "custom": {
            "ratio": 0.1,
            "whole": 2.0,
            "large": 1e16,
            "negativeZero": -0.0,
            "count": 7,
            "beyond64Bits": 123456789012345678901234567890,
            "nested": {"list": [1, 2.5, {"flag": True}, None], "text": "ünï 😀 שלום"},
        },
        "starred": 1,
        "pinned": 0,
        "isOpen": "no",
        "archived": 2.5,
        "waitsToBeFiltered": None,
    },
    {
        "history": [
            {"status": "open", "time": "2021-06-24T19:38:16.000Z", "by": "agent"}
        ],
        "endusers": [{"id": "u1", "name": "Ann", "role": "admin"}],
        "days": 3.0,
        "timeSpent": 15,
        "timeBucket": ["2021-W25", None],
        "brandNewField": {"x": 1, "y": [True, 1.5]},
        "starred": [],
        "pinned": {"a": 1},
    },
    {
        "updateDate": "2021-06-24T19:38:16Z",
        "isOpen": True,
        "archived": False,
        "users": [{"id": 1.0}],
        "tags": [],
    },
]


class EdgeValuesHook(SandboxHook):
    """Write EDGE_VALUES into every seventh ticket of every GET /tickets page."""

    def before_sending(self, exchange: Exchange, reply: Reply) -> Reply:
        if exchange.method != "GET" or reply.status != 200:
            return reply
        page = json.loads(reply.body)
        for ticket in page:
            index = int(ticket["_id"], 16) % 7
            if index < len(EDGE_VALUES):
                ticket.update(EDGE_VALUES[index])
        # The standard json module writes integers beyond 64 bits; orjson would not.
        reply.body = json.dumps(page).encode()
        return reply


@pytest.fixture
def edge_values(sandbox):
    sandbox.hook = EdgeValuesHook()
    yield
    sandbox.hook = None


def run_variant_process(
    tmp_path: Path,
    variant: str,
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
) -> subprocess.CompletedProcess[str]:
    folder = tmp_path / variant
    folder.mkdir(exist_ok=True)
    config_path = folder / "config.json"
    config_path.write_text(json.dumps(config))
    command = [
        sys.executable,
        "-m",
        "tests.tap.sdk_reference",
        variant,
        "--config",
        str(config_path),
    ]
    if state is not None:
        (folder / "state.json").write_text(json.dumps(state))
        command += ["--state", str(folder / "state.json")]
    if catalog is not None:
        (folder / "catalog.json").write_text(json.dumps(catalog))
        command += ["--catalog", str(folder / "catalog.json")]
    return subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, timeout=300, check=False
    )


def run_variant(
    tmp_path: Path,
    variant: str,
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
) -> TapRun:
    completed = run_variant_process(
        tmp_path, variant, config, state=state, catalog=catalog
    )
    return parse_tap_output(completed.returncode, completed.stdout, completed.stderr)


def typed(value: Any) -> Any:
    """Return `value` with the type of every scalar, so that 2 and 2.0 differ."""
    if isinstance(value, dict):
        return {key: typed(element) for key, element in value.items()}
    if isinstance(value, list):
        return [typed(element) for element in value]
    return (type(value).__name__, value)


def without_signpost(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the signpost, the time each run started, which differs between runs."""
    return [
        {
            "bookmarks": {
                stream: {
                    key: value
                    for key, value in bookmark.items()
                    if key != "replication_key_signpost"
                }
                for stream, bookmark in state["bookmarks"].items()
            }
        }
        for state in states
    ]


def by_id(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The sandbox returns tickets with equal updateDate in a new order on every
    # request, so two incremental syncs may emit the same records in another
    # order.
    return sorted(records, key=lambda record: (record["_id"], record["updateDate"]))


def assert_same_messages(tap: TapRun, reference: TapRun) -> None:
    assert tap.returncode == 0, tap.stderr
    assert reference.returncode == 0, reference.stderr
    assert typed(by_id(tap.records)) == typed(by_id(reference.records))
    assert without_signpost(tap.states) == without_signpost(reference.states)
    assert tap.schemas == reference.schemas


def test_full_sync_matches_sdk_path(tmp_path, sandbox, workspace_factory, edge_values):
    workspace = workspace_factory(tickets=450, seed=5)
    config = tap_config(sandbox, workspace, page_size=100)

    tap = run_variant(tmp_path, "tap", config)
    reference = run_variant(tmp_path, "reference", config)

    assert_same_messages(tap, reference)
    assert "Records skip the SDK's per-record" in tap.stderr
    assert len(tap.records) == 450
    # A STATE every 100 records, and the final one.
    assert len(tap.states) >= 5


def test_floats_stay_floats(tmp_path, sandbox, workspace_factory, edge_values):
    workspace = workspace_factory(tickets=100, seed=5)

    tap = run_variant(tmp_path, "tap", tap_config(sandbox, workspace))

    custom = next(
        r["custom"] for r in tap.records if "ratio" in (r.get("custom") or {})
    )
    assert typed(custom["ratio"]) == ("float", 0.1)
    assert typed(custom["whole"]) == ("float", 2.0)
    assert typed(custom["large"]) == ("float", 1e16)
    assert typed(custom["count"]) == ("int", 7)
    assert typed(custom["nested"]["list"]) == [
        ("int", 1),
        ("float", 2.5),
        {"flag": ("bool", True)},
        ("NoneType", None),
    ]


def test_booleans_conformed_like_sdk(tmp_path, sandbox, workspace_factory, edge_values):
    workspace = workspace_factory(tickets=100, seed=5)

    tap = run_variant(tmp_path, "tap", tap_config(sandbox, workspace))

    first = next(r for r in tap.records if "ratio" in (r.get("custom") or {}))
    assert (first["starred"], first["pinned"], first["isOpen"]) == (True, False, True)
    assert typed(first["archived"]) == ("float", 2.5)
    second = next(
        r for r in tap.records if "brandNewField" in (r.get("unlistedFields") or {})
    )
    assert (second["starred"], second["pinned"]) == (True, True)


def test_incremental_sync_matches_sdk_path(
    tmp_path, sandbox, workspace_factory, edge_values
):
    workspace = workspace_factory(tickets=400, seed=6)
    # One page contains every change, so that the paging cannot make the runs differ.
    config = tap_config(sandbox, workspace, page_size=1_000, lookback_window_minutes=0)
    first = run_variant(tmp_path, "tap", config)
    workspace.update_random(60)
    workspace.create_random(10)

    tap = run_variant(tmp_path, "tap", config, state=first.last_state)
    reference = run_variant(tmp_path, "reference", config, state=first.last_state)

    assert_same_messages(tap, reference)
    assert len(tap.records) >= 70
    bookmark = tap.last_state["bookmarks"]["tickets"]["replication_key_value"]
    assert bookmark > first.last_state["bookmarks"]["tickets"]["replication_key_value"]


def test_deselected_fields_still_removed(
    tmp_path, sandbox, workspace_factory, edge_values
):
    workspace = workspace_factory(tickets=150, seed=7)
    config = tap_config(sandbox, workspace)
    catalog = select_only(discover(tmp_path, config), {"subject", "custom", "starred"})

    tap = run_variant(tmp_path, "tap", config, catalog=catalog)
    reference = run_variant(tmp_path, "reference", config, catalog=catalog)

    assert_same_messages(tap, reference)
    assert "Records go through the SDK's per-record" in tap.stderr
    assert {key for record in tap.records for key in record} <= {
        "_id",
        "updateDate",
        "subject",
        "custom",
        "starred",
    }


def test_changed_catalog_schema_uses_sdk_path(
    tmp_path, sandbox, workspace_factory, edge_values
):
    workspace = workspace_factory(tickets=150, seed=8)
    config = tap_config(sandbox, workspace)
    catalog = discover(tmp_path, config)
    del catalog["streams"][0]["schema"]["properties"]["days"]

    tap = run_variant(tmp_path, "tap", config, catalog=catalog)
    reference = run_variant(tmp_path, "reference", config, catalog=catalog)

    assert_same_messages(tap, reference)
    assert "Records go through the SDK's per-record" in tap.stderr
    assert all("days" not in record for record in tap.records)


# The times at which the run started and its pages arrived differ between
# runs. So does the table version: the start of the run in seconds.
RUN_TIMES = re.compile(r'"(time_extracted|replication_key_signpost)":"[^"]*"')
TABLE_VERSION = re.compile(r'"(version|table_version)":[0-9]+')


def without_run_times(stdout: str) -> list[str]:
    return [
        TABLE_VERSION.sub(r'"\1":0', RUN_TIMES.sub(r'"\1":""', line))
        for line in stdout.splitlines()
    ]


def test_record_lines_match_sdk_messages(
    tmp_path, sandbox, workspace_factory, edge_values
):
    workspace = workspace_factory(tickets=350, seed=9)
    config = tap_config(
        sandbox, workspace, page_size=100, emit_activate_version_messages=True
    )

    tap = run_variant_process(tmp_path, "tap", config)
    messages = run_variant_process(tmp_path, "messages", config)

    assert tap.returncode == 0, tap.stderr
    assert messages.returncode == 0, messages.stderr
    assert "Records skip the SDK's per-record" in tap.stderr
    # Byte for byte, in the same order: a full sync reads by `_id`.
    assert without_run_times(tap.stdout) == without_run_times(messages.stdout)
    kinds = [json.loads(line)["type"] for line in tap.stdout.splitlines()]
    assert kinds.count("RECORD") == 350
    assert kinds.count("ACTIVATE_VERSION") == 1
    assert '"version":' in tap.stdout


def test_time_extracted_is_page_arrival(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=250, seed=9)
    # One request after another, so pages arrive in the order they are read.
    config = tap_config(sandbox, workspace, page_size=100, max_requests_in_flight=1)

    completed = run_variant_process(tmp_path, "tap", config)

    assert completed.returncode == 0, completed.stderr
    messages = [json.loads(line) for line in completed.stdout.splitlines()]
    times = [m["time_extracted"] for m in messages if m["type"] == "RECORD"]
    assert len(times) == 250
    # Pages of 100 that overlap by one ticket: three pages carry records.
    assert len(set(times)) == 3
    assert times == sorted(times)
    assert all(time.endswith("+00:00") for time in times)


@pytest.mark.parametrize(
    "settings",
    [
        {"stream_maps": {"tickets": {"email": "__NULL__"}}},
        {"stream_maps": {"tickets": {"__alias__": "support_tickets"}}},
        {"flattening_enabled": True, "flattening_max_depth": 1},
    ],
)
def test_stream_maps_use_sdk_path(
    tmp_path, sandbox, workspace_factory, edge_values, settings
):
    workspace = workspace_factory(tickets=150, seed=10)
    config = tap_config(sandbox, workspace, **settings)

    tap = run_variant(tmp_path, "tap", config)
    reference = run_variant(tmp_path, "reference", config)

    assert_same_messages(tap, reference)
    assert "Records go through the SDK's per-record" in tap.stderr
    assert "(stream maps or flattening configured)" in tap.stderr
    assert len(tap.records) == 150
