"""Progress lines of the tap CLI against the sandbox: due, consistent with the summary, no secrets."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from planhat_sandbox import FaultHook
from tests.singer_io import run_tap
from tests.tap.conftest import tap_config

TICKETS = 3_000
PAGE_SIZE = 200
TOKEN_MARK = "ws-token-"

PROGRESS = re.compile(
    r"Progress: (?P<records>[\d,]+) tickets read "
    r"\((?P<rate>[\d,]+)/s over the last (?P<window>[\d.,]+) s\), "
    r"(?P<requests>[\d,]+) requests?, (?P<retries>[\d,]+) retr(?:y|ies), "
    r"(?P<elapsed>[\d.,]+) s elapsed$"
)
SUMMARY = re.compile(
    r"Read (?P<records>[\d,]+) tickets \(full\) in (?P<requests>\d+) requests: .*, "
    r"(?P<retries>\d+) retries, \d+ pages requested ahead and not used, "
    r"(?P<elapsed>[\d.,]+) s elapsed$"
)


@dataclass
class Line:
    records: int
    rate: int
    window: float
    requests: int
    retries: int
    elapsed: float


def number(text: str) -> float:
    return float(text.replace(",", ""))


def parse(match: re.Match[str]) -> Line:
    fields = {name: number(value) for name, value in match.groupdict().items()}
    return Line(
        records=int(fields["records"]),
        rate=int(fields.get("rate", 0)),
        window=fields.get("window", 0.0),
        requests=int(fields["requests"]),
        retries=int(fields["retries"]),
        elapsed=fields["elapsed"],
    )


def progress_lines(stderr: str) -> list[Line]:
    return [parse(m) for line in stderr.splitlines() if (m := PROGRESS.search(line))]


def summary_line(stderr: str) -> Line:
    matches = [m for line in stderr.splitlines() if (m := SUMMARY.search(line))]
    assert len(matches) == 1, stderr
    return parse(matches[0])


@pytest.fixture
def slow_pages(inject) -> FaultHook:
    """Hold every GET for 0.15 s, and respond to the third with 503 once."""
    return inject(
        {"kind": "delay", "seconds": 0.15, "method": "GET", "times": None},
        {"kind": "status", "status": 503, "method": "GET", "first": 3},
    )


def test_progress_lines_match_summary(tmp_path, sandbox, workspace_factory, slow_pages):
    workspace = workspace_factory(tickets=TICKETS, seed=3)
    # One request after another, so that the delays add up to a run of
    # several intervals.
    config = tap_config(
        sandbox,
        workspace,
        page_size=PAGE_SIZE,
        progress_interval_seconds=0.5,
        max_requests_in_flight=1,
    )

    run = run_tap(tmp_path, config)

    assert run.returncode == 0, run.stderr
    summary = summary_line(run.stderr)
    lines = progress_lines(run.stderr)
    # 16 pages of at least 0.15 s each, with a line due every 0.5 s.
    assert len(lines) >= 3, run.stderr
    assert summary.records == len(run.records) == TICKETS
    assert summary.retries == 1
    previous = Line(0, 0, 0.0, 0, 0, 0.0)
    for line in lines:
        assert previous.records <= line.records <= summary.records
        assert previous.requests < line.requests <= summary.requests
        assert previous.retries <= line.retries <= summary.retries
        assert previous.elapsed < line.elapsed <= summary.elapsed
        assert line.window >= 0.5
        # The rate is the records since the previous line divided by the
        # window. The window is printed with at least 2 significant digits,
        # so the printed rate may differ by a few percent.
        expected_rate = (line.records - previous.records) / line.window
        assert abs(line.rate - expected_rate) <= 1 + 0.06 * expected_rate
        previous = line
    assert lines[-1].retries == 1


def test_progress_interval_zero_keeps_summary(
    tmp_path, sandbox, workspace_factory, slow_pages
):
    workspace = workspace_factory(tickets=1_000, seed=4)
    config = tap_config(
        sandbox, workspace, page_size=PAGE_SIZE, progress_interval_seconds=0
    )

    run = run_tap(tmp_path, config)

    assert run.returncode == 0, run.stderr
    assert "Progress:" not in run.stderr
    assert summary_line(run.stderr).records == 1_000


def test_progress_lines_hide_config(tmp_path, sandbox, workspace_factory, slow_pages):
    workspace = workspace_factory(tickets=1_000, seed=5)
    config = tap_config(
        sandbox, workspace, page_size=100, progress_interval_seconds=0.2
    )

    run = run_tap(tmp_path, config)

    assert run.returncode == 0, run.stderr
    assert progress_lines(run.stderr)
    progress_text = "\n".join(
        line for line in run.stderr.splitlines() if "Progress:" in line
    )
    assert workspace.token.startswith(TOKEN_MARK)
    assert workspace.token not in run.stderr
    assert TOKEN_MARK not in run.stderr
    assert "api_token" not in progress_text
    assert sandbox.url not in progress_text


def test_null_progress_interval_means_default(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=300, seed=6)
    config = tap_config(sandbox, workspace, progress_interval_seconds=None)

    run = run_tap(tmp_path, config)

    assert run.returncode == 0, run.stderr
    assert summary_line(run.stderr).records == 300
