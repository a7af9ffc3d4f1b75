"""The tap's Singer message writer: the SDK's msgspec writer, flushed per STATE."""

from __future__ import annotations

import sys
from datetime import datetime

from singer_sdk.contrib.msgspec import MsgSpecWriter, serialize_jsonl
from singer_sdk.singerlib import Message, RecordMessage

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override


class MessageWriter(MsgSpecWriter):
    """Write messages with msgspec, and flush after every message but RECORD.

    The SDK's default writer encodes with simplejson: about 50 µs for a
    RECORD of 2.3 KB on the benchmark machine, against about 10 µs with
    msgspec. The SDK's msgspec writer also flushes standard output after
    every message, one write system call each. This writer leaves RECORD
    messages in the output buffer, which goes out whenever it fills, so
    tickets of about 2 KB take a third of the system calls. Every other
    message, STATE included, is flushed at once, so a target receives each
    STATE together with every RECORD written before it. Records after the
    last STATE of a run that dies before its end may be lost, which does no
    harm: no STATE covers them, so the next run reads them again.
    """

    def __init__(self) -> None:
        """Create the writer."""
        super().__init__()
        # The last `time_extracted` and its text, which the records of a page share.
        self._extracted_at: datetime | None = None
        self._extracted_at_text = ""

    @override
    def serialize_message(self, message: Message) -> bytearray:
        if isinstance(message, RecordMessage) and message.time_extracted is not None:
            # msgspec writes an aware datetime with "Z" and the SDK's default
            # writer with "+00:00". This keeps the default writer's form.
            if message.time_extracted != self._extracted_at:
                self._extracted_at = message.time_extracted
                self._extracted_at_text = message.time_extracted.isoformat(sep="T")
            data = message.to_dict()
            data["time_extracted"] = self._extracted_at_text
            return serialize_jsonl(data)
        return super().serialize_message(message)

    @override
    def write_message(self, message: Message) -> None:
        out = sys.stdout.buffer
        out.write(self.format_message(message))
        if not isinstance(message, RecordMessage):
            out.flush()
