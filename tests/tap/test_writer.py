"""The tap's message writer: msgspec output, RECORD lines in chunks, flushed at STATE."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib import RecordMessage, SchemaMessage, StateMessage

from tap_planhat_tickets.writer import CHUNK_BYTES, MessageWriter


class CountingBuffer(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0
        self.writes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()

    def write(self, data: Any) -> int:
        self.writes += 1
        return super().write(data)


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
    writer = MessageWriter()
    writer.write_message(record())
    writer.flush()
    ours = json.loads(stdout.buffer.getvalue())

    assert ours == theirs
    assert isinstance(ours["record"]["custom"]["whole"], float)
    assert isinstance(ours["record"]["custom"]["count"], int)
    assert ours["time_extracted"] == "2024-01-02T03:04:05.678000+00:00"


def test_writer_collects_records(monkeypatch):
    stdout = fake_stdout(monkeypatch)
    writer = MessageWriter()

    writer.write_message(record())
    writer.write_message(record())

    assert stdout.buffer.writes == 0
    assert stdout.buffer.flushes == 0
    writer.flush()
    assert stdout.buffer.writes == 1
    assert stdout.buffer.getvalue().count(b"\n") == 2


def test_writer_writes_full_chunks(monkeypatch):
    stdout = fake_stdout(monkeypatch)
    writer = MessageWriter()
    line_bytes = len(writer.format_message(record()))
    lines_per_chunk = -(-CHUNK_BYTES // line_bytes)

    for _ in range(lines_per_chunk - 1):
        writer.write_message(record())
    assert stdout.buffer.writes == 0
    writer.write_message(record())

    assert stdout.buffer.writes == 1
    assert stdout.buffer.flushes == 0
    assert stdout.buffer.getvalue().count(b"\n") == lines_per_chunk


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
    writer.flush()

    lines = stdout.buffer.getvalue().splitlines()
    assert [json.loads(line)["time_extracted"] for line in lines] == [
        "2024-01-02T03:04:05+00:00",
        "2024-01-02T03:04:05+00:00",
        "2024-01-02T03:04:06.000500+00:00",
        "2024-01-02T03:04:05+00:00",
    ]


def edge_records() -> list[dict[str, Any]]:
    return [
        record().record,
        {},
        {"beyond64Bits": 123456789012345678901234567890, "negativeZero": -0.0},
        {"text": '\u2028 \\ " \n \t \x00 שלום', "nested": [[], {}, [None]]},
        {"moment": datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)},
    ]


@pytest.mark.parametrize(
    ("stream", "version", "time_extracted"),
    [
        ("tickets", None, datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)),
        ("tickets", 1717171717, datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
        ("tickets", 0, None),
        ('odd "stream", "record":{}', None, None),
        (
            "tïckets",
            None,
            datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        ),
    ],
)
def test_record_line_matches_message(monkeypatch, stream, version, time_extracted):
    stdout = fake_stdout(monkeypatch)
    writer = MessageWriter()
    for data in edge_records():
        message = RecordMessage(
            stream=stream, record=data, version=version, time_extracted=time_extracted
        )
        writer.write_message(message)
    writer.flush()
    expected = stdout.buffer.getvalue()

    stdout = fake_stdout(monkeypatch)
    writer = MessageWriter()
    prefix, suffix = writer.record_line_affixes(stream, version, time_extracted)
    for data in edge_records():
        writer.write_record_line(prefix, data, suffix)
    writer.flush()

    assert stdout.buffer.getvalue() == expected
    assert len(expected.splitlines()) == len(edge_records())


def test_record_lines_precede_state(monkeypatch):
    stdout = fake_stdout(monkeypatch)
    writer = MessageWriter()
    prefix, suffix = writer.record_line_affixes("tickets", None, None)

    writer.write_record_line(prefix, {"n": 1}, suffix)
    writer.write_record_line(prefix, {"n": 2}, suffix)
    assert stdout.buffer.writes == 0
    writer.write_message(StateMessage({"bookmarks": {}}))

    assert stdout.buffer.flushes == 1
    lines = stdout.buffer.getvalue().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["RECORD", "RECORD", "STATE"]


def test_record_lines_written_in_chunks(monkeypatch):
    stdout = fake_stdout(monkeypatch)
    writer = MessageWriter()
    prefix, suffix = writer.record_line_affixes("tickets", None, None)
    data = {"_id": "a" * 24, "subject": "x" * 2_000}
    count = CHUNK_BYTES // 2_000 + 10

    for _ in range(count):
        writer.write_record_line(prefix, data, suffix)

    assert stdout.buffer.writes == 1
    assert stdout.buffer.flushes == 0
    chunk = stdout.buffer.getvalue()
    assert len(chunk) >= CHUNK_BYTES
    assert chunk.endswith(b"\n")
    assert all(json.loads(line)["record"] == data for line in chunk.splitlines())
    writer.flush()
    assert stdout.buffer.getvalue().count(b"\n") == count


def test_record_line_rejects_naive_time():
    with pytest.raises(ValueError, match="time_extracted"):
        MessageWriter().record_line_affixes("tickets", None, datetime(2024, 1, 2))


class Unprintable:
    def __str__(self) -> str:
        msg = "no text for this value"
        raise ValueError(msg)


def test_failed_record_line_leaves_nothing(monkeypatch):
    stdout = fake_stdout(monkeypatch)
    writer = MessageWriter()
    prefix, suffix = writer.record_line_affixes("tickets", None, None)

    writer.write_record_line(prefix, {"n": 1}, suffix)
    with pytest.raises(ValueError, match="no text"):
        writer.write_record_line(prefix, {"n": 2, "bad": Unprintable()}, suffix)
    writer.write_record_line(prefix, {"n": 3}, suffix)
    writer.flush()

    lines = stdout.buffer.getvalue().splitlines()
    assert [json.loads(line)["record"] for line in lines] == [{"n": 1}, {"n": 3}]


EXIT_WITHOUT_FLUSH = """
import sys
from tap_planhat_tickets.writer import MessageWriter
writer = MessageWriter()
prefix, suffix = writer.record_line_affixes("tickets", None, None)
writer.write_record_line(prefix, {"n": 1}, suffix)
if sys.argv[1] == "fail":
    raise RuntimeError("the sync failed")
"""


@pytest.mark.parametrize("ending", ["exit", "fail"])
def test_collected_lines_written_at_exit(ending):
    completed = subprocess.run(
        [sys.executable, "-c", EXIT_WITHOUT_FLUSH, ending],
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == (0 if ending == "exit" else 1)
    assert (
        completed.stdout == b'{"type":"RECORD","stream":"tickets","record":{"n":1}}\n'
    )
