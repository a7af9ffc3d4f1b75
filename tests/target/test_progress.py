"""Progress lines of the target CLI against the sandbox: due, consistent with the summary, no secrets."""

from __future__ import annotations

import re

import pytest

from planhat_sandbox import FaultHook
from tests.target.conftest import TOKEN, run_target, target_config, ticket, write_singer

RECORDS = 3_000
BATCH = 500

PROGRESS = re.compile(
    r"Progress: (?P<received>[\d,]+) records received "
    r"\((?P<rate>[\d,]+)/s over the last (?P<window>[\d.,]+) s\), "
    r"(?P<upserted>[\d,]+) upserted, "
    r"(?P<requests>[\d,]+) requests?, (?P<retries>[\d,]+) retr(?:y|ies), "
    r"(?P<elapsed>[\d.,]+) s elapsed$"
)
SUMMARY = re.compile(
    r"Summary: stream 'tickets': received (?P<received>\d+), created (?P<created>\d+), "
    r"updated (?P<updated>\d+), unchanged (?P<unchanged>\d+), .*; "
    r"(?P<requests>[\d,]+) requests?, (?P<retries>[\d,]+) retr(?:y|ies), "
    r"(?P<elapsed>[\d.,]+) s elapsed$"
)


def numbers(match: re.Match[str]) -> dict[str, float]:
    return {
        name: float(value.replace(",", "")) for name, value in match.groupdict().items()
    }


def matching(pattern: re.Pattern[str], stderr: str) -> list[dict[str, float]]:
    return [numbers(m) for line in stderr.splitlines() if (m := pattern.search(line))]


@pytest.fixture
def slow_puts(inject) -> FaultHook:
    """Hold every PUT for 0.3 s, and respond to the second with 503 once."""
    return inject(
        {"kind": "delay", "seconds": 0.3, "method": "PUT", "times": None},
        {"kind": "status", "status": 503, "method": "PUT", "first": 2},
    )


def test_progress_lines_match_summary(tmp_path, sandbox, workspace, slow_puts):
    input_path = tmp_path / "input.singer"
    write_singer(
        input_path,
        "tickets",
        [ticket(n) for n in range(1, RECORDS + 1)],
        state_every=BATCH,
    )
    config = target_config(
        sandbox, batch_size_rows=BATCH, progress_interval_seconds=0.5
    )

    run = run_target(tmp_path, config, input_path)

    assert run.returncode == 0, run.stderr
    summaries = matching(SUMMARY, run.stderr)
    assert len(summaries) == 1, run.stderr
    summary = summaries[0]
    assert summary["received"] == RECORDS
    assert summary["created"] == RECORDS
    # Six PUTs of 500 items, one of them retried after the 503.
    assert summary["requests"] == 7
    assert summary["retries"] == 1
    lines = matching(PROGRESS, run.stderr)
    # Six batches of at least 0.3 s each, with a line due every 0.5 s.
    assert len(lines) >= 2, run.stderr
    previous = dict.fromkeys(
        ("received", "upserted", "requests", "retries", "elapsed"), 0.0
    )
    for line in lines:
        assert previous["received"] < line["received"] <= summary["received"]
        assert line["upserted"] < line["received"]
        assert previous["upserted"] <= line["upserted"] <= summary["created"]
        assert previous["requests"] <= line["requests"] <= summary["requests"]
        assert previous["retries"] <= line["retries"] <= summary["retries"]
        assert previous["elapsed"] < line["elapsed"] <= summary["elapsed"]
        assert line["window"] >= 0.5
        expected_rate = (line["received"] - previous["received"]) / line["window"]
        assert abs(line["rate"] - expected_rate) <= 1 + 0.06 * expected_rate
        previous = line
    assert lines[-1]["retries"] == 1


def test_progress_lines_hide_config(tmp_path, sandbox, workspace, slow_puts):
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "tickets", [ticket(n) for n in range(1, 1_001)])
    config = target_config(sandbox, batch_size_rows=200, progress_interval_seconds=0.2)

    run = run_target(tmp_path, config, input_path)

    assert run.returncode == 0, run.stderr
    progress_text = "\n".join(
        line for line in run.stderr.splitlines() if "Progress:" in line
    )
    assert progress_text
    assert TOKEN not in run.stderr
    assert TOKEN not in run.stdout
    assert "api_token" not in progress_text
    assert sandbox.url not in progress_text


def test_progress_interval_zero_keeps_summary(tmp_path, sandbox, workspace, slow_puts):
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "tickets", [ticket(n) for n in range(1, 1_001)])
    config = target_config(sandbox, batch_size_rows=200, progress_interval_seconds=0)

    run = run_target(tmp_path, config, input_path)

    assert run.returncode == 0, run.stderr
    assert "Progress:" not in run.stderr
    assert len(matching(SUMMARY, run.stderr)) == 1


def test_null_progress_interval_means_default(tmp_path, sandbox, workspace):
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "tickets", [ticket(n) for n in range(1, 101)])
    config = target_config(sandbox, progress_interval_seconds=None)

    run = run_target(tmp_path, config, input_path)

    assert run.returncode == 0, run.stderr
    assert len(matching(SUMMARY, run.stderr)) == 1
