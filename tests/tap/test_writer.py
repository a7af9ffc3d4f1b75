"""The tap's message writer: msgspec output, flushed at every message but RECORD."""

from __future__ import annotations

import io
import json
import sys
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib import RecordMessage, SchemaMessage, StateMessage

from tap_planhat_tickets.writer import MessageWriter


class CountingBuffer(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


class FakeStdout:
    def __init__(self) -> None:
        self.buffer = CountingBuffer()


def fake_stdout(monkeypatch: pytest.MonkeyPatch) -> FakeStdout:
    # Inside the test: pytest sets sys.stdout again when a test starts.
    fake = FakeStdout()
    monkeypatch.setattr(sys, "stdout", fake)
    return fake


def record() -> RecordMessage:
    return RecordMessage(
        stream="tickets",
        record={
            "_id": "a" * 24,
            "subject": 'ünï 😀 "quoted"',
            "custom": {
                "ratio": 0.1,
                "whole": 2.0,
                "count": 7,
                "exact": Decimal("1.25"),
                "none": None,
                "flag": False,
                "list": [1, 2.5],
            },
        },
        time_extracted=datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc),
    )


def test_writer_output_parses_like_sdk_default(monkeypatch, capsys):
    SingerWriter().write_message(record())
    theirs = json.loads(capsys.readouterr().out)
    stdout = fake_stdout(monkeypatch)
    MessageWriter().write_message(record())
    ours = json.loads(stdout.buffer.getvalue())

    assert ours == theirs
    assert isinstance(ours["record"]["custom"]["whole"], float)
    assert isinstance(ours["record"]["custom"]["count"], int)
    assert ours["time_extracted"] == "2024-01-02T03:04:05.678000+00:00"


def test_writer_keeps_records_buffered(monkeypatch):
    stdout = fake_stdout(monkeypatch)
    writer = MessageWriter()

    writer.write_message(record())
    writer.write_message(record())

    assert stdout.buffer.flushes == 0
    assert stdout.buffer.getvalue().count(b"\n") == 2


def test_writer_flushes_state_and_schema(monkeypatch):
    stdout = fake_stdout(monkeypatch)
    writer = MessageWriter()

    writer.write_message(SchemaMessage("tickets", {"properties": {}}, ["_id"]))
    writer.write_message(record())
    writer.write_message(StateMessage({"bookmarks": {}}))

    assert stdout.buffer.flushes == 2
    lines = stdout.buffer.getvalue().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["SCHEMA", "RECORD", "STATE"]


def test_writer_formats_each_extraction_time(monkeypatch):
    stdout = fake_stdout(monkeypatch)
    writer = MessageWriter()
    first = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    second = datetime(2024, 1, 2, 3, 4, 6, 500, tzinfo=timezone.utc)

    for moment in (first, first, second, first):
        message = record()
        message.time_extracted = moment
        writer.write_message(message)

    lines = stdout.buffer.getvalue().splitlines()
    assert [json.loads(line)["time_extracted"] for line in lines] == [
        "2024-01-02T03:04:05+00:00",
        "2024-01-02T03:04:05+00:00",
        "2024-01-02T03:04:06.000500+00:00",
        "2024-01-02T03:04:05+00:00",
    ]
