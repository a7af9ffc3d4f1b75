"""The tap with or without its speed-ups, for comparing their output.

    python -m tests.tap.sdk_reference {tap,messages,reference} --config PATH [...]

`tap` is the tap as shipped. `messages` writes every record as the SDK
does, through its selection and type conformance walks, a RecordMessage and
the tap's writer, and is the tap as shipped otherwise. `reference` undoes
each override of the SDK's per-record path: the SDK's default writer
(simplejson, a flush per message), the SDK's selection and type conformance
walks on every record, the SDK's state update and child-stream step on
every record, no boolean conformance in `_normalise` and Python's default
garbage collection. All three write a STATE message every 100 records
instead of every 10,000, so that small workspaces show interim states too.
"""

from __future__ import annotations

import sys

from singer_sdk import Stream, Tap
from singer_sdk.io_base import SingerWriter

from tap_planhat_tickets.streams import TicketsStream
from tap_planhat_tickets.tap import TapPlanhatTickets

STATE_EVERY = 100


class FrequentStateStream(TicketsStream):
    STATE_MSG_FREQUENCY = STATE_EVERY


class RecordMessageStream(FrequentStateStream):
    _write_record_message = Stream._write_record_message


class ReferenceStream(FrequentStateStream):
    _write_record_message = Stream._write_record_message
    _increment_stream_state = Stream._increment_stream_state
    _process_record = Stream._process_record

    def __init__(self, tap: Tap) -> None:
        super().__init__(tap)
        self._boolean_properties = ()


class FrequentStateTap(TapPlanhatTickets):
    def discover_streams(self) -> list[TicketsStream]:
        return [FrequentStateStream(self)]


class RecordMessageTap(TapPlanhatTickets):
    def discover_streams(self) -> list[TicketsStream]:
        return [RecordMessageStream(self)]


class ReferenceTap(TapPlanhatTickets):
    message_writer_class = SingerWriter
    sync_all = Tap.sync_all

    def discover_streams(self) -> list[TicketsStream]:
        return [ReferenceStream(self)]


if __name__ == "__main__":
    variant = sys.argv.pop(1)
    tap_class = {
        "tap": FrequentStateTap,
        "messages": RecordMessageTap,
        "reference": ReferenceTap,
    }[variant]
    tap_class.cli()
