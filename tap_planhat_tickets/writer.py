"""The tap's Singer message writer: msgspec, RECORD lines in large chunks."""

from __future__ import annotations

import sys
import weakref
from datetime import datetime
from typing import Any

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder, serialize_jsonl
from singer_sdk.singerlib import Message, RecordMessage

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

#: Size in bytes at which collected RECORD lines go to standard output in one
#: write. Standard output's own buffer of 8 KiB took one write system call
#: for about every four tickets of 2 KB. On the benchmark machine, glibc
#: mapped and unmapped a buffer of 1 MiB for every chunk in a process
#: without large pages: about 130,000 page faults and 0.4 s of system time
#: for 200,000 tickets. Chunks of 256 KiB added no page faults.
CHUNK_BYTES = 1 << 18

#: The record field of a RECORD line whose record is empty, as
#: `serialize_message` writes it. These bytes cannot occur inside the stream
#: name's JSON string, because there every quote follows a backslash.
_EMPTY_RECORD = b',"record":{}'


class MessageWriter(MsgSpecWriter):
    """Write messages with msgspec, collecting RECORD lines into large writes.

    The SDK's default writer encodes with simplejson: about 50 µs for a
    RECORD of 2.3 KB on the benchmark machine, against about 10 µs with
    msgspec. The SDK's msgspec writer also flushes standard output after
    every message, one write system call each. This writer collects RECORD
    lines and writes them in chunks of `CHUNK_BYTES`. Every other message,
    STATE included, goes out at once together with the lines collected
    before it, so a target receives each STATE after every RECORD written
    before it. Lines still collected when the process exits (after a failed
    sync, for example) are written then, as a buffered standard output would
    write them.

    `write_record_line` writes a RECORD line without a RecordMessage: the
    bytes are those that `write_message` writes for the same message.
    """

    def __init__(self) -> None:
        """Create the writer."""
        super().__init__()
        # The last `time_extracted` and its text, which the records of a page share.
        self._extracted_at: datetime | None = None
        self._extracted_at_text = ""
        self._pending = bytearray()
        weakref.finalize(self, _write_out, self._pending)

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
        self._pending += self.format_message(message)
        if not isinstance(message, RecordMessage):
            self.flush()
        elif len(self._pending) >= CHUNK_BYTES:
            _write_out(self._pending)

    def record_line_affixes(
        self,
        stream: str,
        version: int | None,
        time_extracted: datetime | None,
    ) -> tuple[bytes, bytes]:
        """Return the bytes before and after the record in a RECORD line.

        They are cut from the line that `serialize_message` writes for a
        RecordMessage with these fields and an empty record, so a line built
        from them is the line `write_message` writes.

        Raises:
            ValueError: if `time_extracted` has no time zone, as RecordMessage does.
        """
        message = RecordMessage(
            stream=stream, record={}, version=version, time_extracted=time_extracted
        )
        line = bytes(self.serialize_message(message))
        split = line.index(_EMPTY_RECORD) + len(_EMPTY_RECORD) - len(b"{}")
        return line[:split], line[split + len(b"{}") :]

    def write_record_line(
        self, prefix: bytes, record: dict[str, Any], suffix: bytes
    ) -> None:
        """Write a RECORD line from the affixes of `record_line_affixes`."""
        pending = self._pending
        start = len(pending)
        try:
            pending += prefix
            # An offset of -1 appends to the buffer.
            encoder.encode_into(record, pending, -1)
            pending += suffix
        except BaseException:
            # No part of a line that failed to encode may reach the output.
            del pending[start:]
            raise
        if len(pending) >= CHUNK_BYTES:
            _write_out(pending)

    def flush(self) -> None:
        """Write the collected lines and flush standard output."""
        _write_out(self._pending)
        sys.stdout.buffer.flush()


def _write_out(pending: bytearray) -> None:
    """Write `pending` to standard output and empty it."""
    if pending:
        sys.stdout.buffer.write(pending)
        pending.clear()
