"""Tests of the benchmark tools: prepared replies, the measuring wrapper, the baselines."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import requests

from benchmarks import measure
from benchmarks.baseline_target import _item as baseline_item
from benchmarks.replies import PreparedReplies
from planhat_sandbox import Sandbox
from target_planhat_tickets.mapping import map_record

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "replay-token"


@pytest.fixture
def replayed() -> tuple[Sandbox, PreparedReplies]:
    replies = PreparedReplies()
    with Sandbox(hook=replies) as sandbox:
        sandbox.add_workspace("replay", token=TOKEN, tickets=50, seed=3)
        yield sandbox, replies


def _get(sandbox: Sandbox, **params: object) -> requests.Response:
    return requests.get(
        f"{sandbox.url}/tickets",
        params=params,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )


def _put(sandbox: Sandbox, items: list[dict[str, object]]) -> requests.Response:
    return requests.put(
        f"{sandbox.url}/tickets",
        data=orjson.dumps(items),
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/json",
        },
        timeout=10,
    )


def test_replies_replay_get_bytes(replayed):
    sandbox, replies = replayed
    first = _get(sandbox, limit=20, offset=0, sort="-updateDate")
    second = _get(sandbox, sort="-updateDate", offset=0, limit=20)

    assert first.status_code == 200
    assert second.content == first.content
    assert (replies.misses, replies.hits) == (1, 1)


def test_replies_compute_other_queries(replayed):
    sandbox, replies = replayed
    _get(sandbox, limit=20, offset=0, sort="_id")
    other = _get(sandbox, limit=20, offset=19, sort="_id")

    assert (
        orjson.loads(other.content)[0]["_id"]
        == orjson.loads(_get(sandbox, limit=20, offset=0, sort="_id").content)[19][
            "_id"
        ]
    )
    assert replies.misses == 2


def test_replies_clear_serves_changes(replayed):
    sandbox, replies = replayed
    workspace = sandbox.workspace("replay")
    before = orjson.loads(_get(sandbox, limit=5, sort="-updateDate").content)
    changed = workspace.update_random(1)
    stale = orjson.loads(_get(sandbox, limit=5, sort="-updateDate").content)
    replies.clear()
    fresh = orjson.loads(_get(sandbox, limit=5, sort="-updateDate").content)

    assert stale == before
    assert fresh[0]["_id"] == changed[0]
    assert replies.hits == 0


def test_replies_replay_put_by_body(replayed):
    sandbox, replies = replayed
    workspace = sandbox.workspace("replay")
    company = workspace.companies[0]["_id"]
    item = {"sourceId": "BENCH-1", "email": "a@example.com", "companyId": company}

    created = _put(sandbox, [item])
    replayed_reply = _put(sandbox, [item])
    changed = _put(sandbox, [{**item, "title": "new"}])

    assert orjson.loads(created.content)["created"] == 1
    assert replayed_reply.content == created.content
    assert orjson.loads(changed.content)["updated"] == 1
    assert (replies.misses, replies.hits) == (2, 1)


def test_replies_disabled_store_nothing(replayed):
    sandbox, replies = replayed
    replies.enabled = False
    _get(sandbox, limit=5)
    _get(sandbox, limit=5)

    assert replies.stored_bytes() == 0
    assert (replies.misses, replies.hits) == (0, 0)


def test_measure_counts_records_across_chunks(monkeypatch):
    lines = [
        b'{"type":"SCHEMA","stream":"tickets"}',
        *[
            b'{"type":"RECORD","stream":"tickets","record":{"subject":"{\\"type\\":\\"RECORD\\""}}'
        ]
        * 5,
        b'{"type":"STATE","value":{}}',
    ]
    data = b"\n".join(lines) + b"\n"
    monkeypatch.setattr(measure, "_CHUNK_BYTES", 7)
    copy = io.BytesIO()

    total, records = measure._drain(io.BytesIO(data), copy)

    assert total == len(data)
    assert records == 5
    assert copy.getvalue() == data


def test_measure_reports_child_figures(tmp_path):
    report = tmp_path / "report.json"
    output = tmp_path / "out.txt"
    script = 'import sys; sys.stdout.write(\'{"type":"RECORD"}\\n\' * 3)'

    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.measure",
            str(report),
            "--stdout",
            str(output),
            "--",
            sys.executable,
            "-c",
            script,
        ],
        check=True,
        cwd=ROOT,
    )
    figures = orjson.loads(report.read_bytes())

    assert figures["returncode"] == 0
    assert figures["record_lines"] == 3
    assert figures["peak_rss_kib"] > 0
    assert output.read_text().count("RECORD") == 3


def test_baseline_target_items_match_target(replayed):
    """The baseline's request bodies must equal the target's, or no reply is replayed."""
    sandbox, _ = replayed
    tickets = sandbox.workspace("replay").tickets()

    for ticket in tickets:
        expected = map_record(ticket, same_workspace=False).item
        assert orjson.dumps(baseline_item(ticket)) == orjson.dumps(expected), ticket[
            "_id"
        ]


def run_module(*arguments: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m ARGUMENTS` in the project's root and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", *arguments],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_bench_runs_end_to_end(tmp_path):
    result = run_module("benchmarks", "--tickets", "300", "--runs", "1")

    assert result.returncode == 0, result.stderr[-3000:]
    assert "tap full sync" in result.stdout
    assert "tap incremental, 1% changed" in result.stdout
    assert "target load" in result.stdout
    # From the tap's full sync to the memory runs, only warm-up runs may need
    # responses that the sandbox computes.
    timed = result.stdout.split("Tap full sync")[1].split("Peak memory at")[0]
    computed = [
        line for line in timed.splitlines() if "computed by the sandbox" in line
    ]
    assert computed
    assert all("warm-up" in line for line in computed), computed


@pytest.mark.slow
def test_latency_bench_runs_end_to_end():
    result = run_module(
        "benchmarks.latency",
        *("--tickets", "3000", "--page-size", "500", "--delay", "0.2"),
        *("--in-flight", "4", "1"),
    )

    assert result.returncode == 0, result.stderr[-3000:]
    rows = re.findall(
        r"^\| (\d+) \| ([\d.]+) \|.*\| (\d+) \| 3,000 \|$", result.stdout, re.M
    )
    assert [in_flight for in_flight, _, _ in rows] == ["4", "1"]
    # 3,000 tickets in pages of 500 overlapping by one: 7 pages, and at
    # most 3 more past the last one with 4 in flight.
    requests = {in_flight: int(count) for in_flight, _, count in rows}
    assert requests["1"] == 7
    assert 7 <= requests["4"] <= 10
    assert "Target load of 3,000 tickets, 0.2 s added to every PUT /tickets" in (
        result.stdout
    )


@pytest.mark.slow
def test_fingerprint_bench_second_load_sends_nothing():
    result = run_module("benchmarks.fingerprints", "--tickets", "2000")

    assert result.returncode == 0, result.stderr[-3000:]
    summary = result.stdout.split("\nSummary")[1]
    assert re.search(r"without a store\s+1 PUT requests,\s+2,000 items", summary)
    assert re.search(r"with a new store \(first load\)\s+1 PUT requests", summary)
    assert re.search(
        r"with that store \(second load\)\s+0 PUT requests,\s+0 items", summary
    )
