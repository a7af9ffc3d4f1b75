"""Unit tests of the summary line and the dead-letter file."""

from __future__ import annotations

import json
from decimal import Decimal

from target_planhat_tickets.report import DeadLetterFile, RunReport


def test_summary_names_each_stream():
    report = RunReport(dry_run=False)
    report.stream("tickets").received = 3
    report.stream("tickets").created = 2
    report.stream("tickets").invalid = 1
    report.stream("helpdesk_export").received = 1
    report.stream("helpdesk_export").updated = 1

    assert report.summary_line(failed=False) == (
        "Summary: stream 'tickets': received 3, created 2, updated 0, unchanged 0, "
        "skipped as invalid 1, rejected by the API 0, dropped silently by the API 0, "
        "deleted 0, already absent 0, duplicates merged 0; stream 'helpdesk_export': "
        "received 1, created 0, updated 1, unchanged 0, skipped as invalid 0, rejected "
        "by the API 0, dropped silently by the API 0, deleted 0, already absent 0, "
        "duplicates merged 0"
    )


def test_summary_of_failed_run():
    report = RunReport(dry_run=False)

    assert (
        report.summary_line(failed=True)
        == "Summary of the failed run: no records received"
    )


def test_summary_of_dry_run():
    report = RunReport(dry_run=True)
    report.stream("tickets").received = 2
    report.stream("tickets").would_upsert = 2

    assert report.summary_line(failed=False) == (
        "Summary of the dry run (nothing was sent): stream 'tickets': received 2, "
        "would upsert 2, would delete 0, skipped as invalid 0, duplicates merged 0"
    )


def test_rejected_total_spans_streams():
    report = RunReport(dry_run=False)
    report.stream("a").rejected = 2
    report.stream("b").dropped_silently = 1

    assert report.rejected_total == 3


def test_dead_letters_appended(tmp_path):
    path = tmp_path / "dead.jsonl"
    path.write_text('{"earlier": true}\n')
    letters = DeadLetterFile(path)

    letters.write(
        stream="s",
        key="sourceId 'A'",
        reason="invalid",
        errors=["e"],
        record={"n": Decimal("1.5")},
    )

    lines = path.read_text().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[1]) == {
        "stream": "s",
        "key": "sourceId 'A'",
        "reason": "invalid",
        "errors": ["e"],
        "record": {"n": 1.5},
    }


def test_dead_letters_off_without_path():
    letters = DeadLetterFile(None)

    letters.write(stream="s", key="k", reason="invalid", errors=[], record={})

    assert letters.lines_written == 0
