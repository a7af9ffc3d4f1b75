"""The tap with or without its speed-ups, for comparing their output.

    python -m tests.tap.sdk_reference {tap,reference} --config PATH [--catalog PATH]

`tap` is the tap as shipped. `reference` undoes each override of the SDK's
per-record path: the SDK's default writer (simplejson, a flush per message),
the SDK's selection and type conformance walks on every record, the SDK's
state update and child-stream step on every record, no boolean conformance
in `_normalise` and Python's default garbage collection. Both write a STATE
message every 100 records instead of every 10,000, so that small
workspaces show interim states too.
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


class ReferenceStream(FrequentStateStream):
    _generate_record_messages = Stream._generate_record_messages
    _increment_stream_state = Stream._increment_stream_state
    _process_record = Stream._process_record

    def __init__(self, tap: Tap) -> None:
        super().__init__(tap)
        self._boolean_properties = ()


class FrequentStateTap(TapPlanhatTickets):
    def discover_streams(self) -> list[TicketsStream]:
        return [FrequentStateStream(self)]


class ReferenceTap(TapPlanhatTickets):
    message_writer_class = SingerWriter
    sync_all = Tap.sync_all

    def discover_streams(self) -> list[TicketsStream]:
        return [ReferenceStream(self)]


if __name__ == "__main__":
    variant = sys.argv.pop(1)
    tap_class = {"tap": FrequentStateTap, "reference": ReferenceTap}[variant]
    tap_class.cli()
