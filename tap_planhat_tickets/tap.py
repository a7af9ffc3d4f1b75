"""The tap-planhat-tickets entry point and its settings."""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Any

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from planhat_api import ClientSettings, settings_schema
from planhat_api.allocation import unmap_large_buffers
from planhat_api.collection import fewer_collections
from planhat_api.progress import PROGRESS_INTERVAL_SETTING
from tap_planhat_tickets.pages import DEFAULT_REQUESTS_IN_FLIGHT
from tap_planhat_tickets.streams import TicketsStream
from tap_planhat_tickets.timestamps import parse_timestamp
from tap_planhat_tickets.writer import MessageWriter

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

#: The API's largest page.
MAX_PAGE_SIZE = 10_000
#: Planhat documents bursts of up to 50 parallel requests.
MAX_REQUESTS_IN_FLIGHT = 50

TAP_SETTINGS = th.PropertiesList(
    th.Property(
        "start_date",
        th.DateTimeType(),
        title="Start date",
        description=(
            "Earliest updateDate to read on the first run, as ISO-8601 (UTC when no "
            "offset is given). Leave unset to read every ticket. Later runs start "
            "from the bookmark instead."
        ),
    ),
    th.Property(
        "company_ids",
        th.ArrayType(th.StringType(min_length=1)),
        title="Company ids",
        description=(
            "Read only the tickets of these Planhat company ids. A long list is split "
            "over several requests. Leave unset for every company."
        ),
    ),
    th.Property(
        "page_size",
        th.IntegerType(minimum=1, maximum=MAX_PAGE_SIZE),
        default=MAX_PAGE_SIZE,
        title="Page size",
        description=(
            "Tickets per GET request, 1 to 10,000. The API's rate limit counts "
            "requests, not tickets, so the largest page reads fastest; lower it only "
            "when pages time out."
        ),
    ),
    th.Property(
        "max_requests_in_flight",
        th.IntegerType(minimum=1, maximum=MAX_REQUESTS_IN_FLIGHT),
        default=DEFAULT_REQUESTS_IN_FLIGHT,
        title="Max requests in flight",
        description=(
            "Page requests of a full sync that may be in flight at once, 1 to 50: "
            "the tap requests the next pages while it writes the current one. 1 "
            "sends one request after another. Each one adds up to one raw page to "
            "memory, about 19 MB at 10,000 tickets. Every request still counts "
            "against max_requests_per_minute, and a full sync sends up to this "
            "many minus 1 requests past its last page, even when all tickets fit "
            "on one page: set 1 for small, frequent full syncs."
        ),
    ),
    th.Property(
        "lookback_window_minutes",
        th.IntegerType(minimum=0),
        default=10,
        title="Lookback window (minutes)",
        description=(
            "Incremental runs re-read tickets updated up to this many minutes before "
            "the bookmark, to cover clock skew between this machine and Planhat."
        ),
    ),
    PROGRESS_INTERVAL_SETTING,
)


#: The SDK's setting of its ACTIVATE_VERSION capability. Singer SDK 0.54 defines
#: it and reads it in every stream, but adds it to no plugin's settings, so the
#: tap adds it with the other built-in settings.
EMIT_ACTIVATE_VERSION_SETTING = th.PropertiesList(
    th.Property(
        "emit_activate_version_messages",
        th.BooleanType(),
        default=False,
        title="Emit ACTIVATE_VERSION messages",
        description=(
            "Make every full sync (a run without bookmark and without start_date, "
            "such as Meltano's --full-refresh) emit an ACTIVATE_VERSION message "
            "after its last record, so that loaders that support it drop the rows "
            "of tickets deleted in Planhat. Incremental runs carry the version of "
            "the last full sync and emit none. With company_ids set, rows of other "
            "companies are dropped too. Default false."
        ),
    ),
).to_dict()


class TapPlanhatTickets(Tap):
    """Read Planhat tickets with full and incremental syncs."""

    name = "tap-planhat-tickets"
    package_name = "planhat-tickets-connectors"
    config_jsonschema = settings_schema(TAP_SETTINGS)
    message_writer_class = MessageWriter

    @classmethod
    @override
    def append_builtin_config(cls, config_jsonschema: dict[str, Any]) -> None:
        super().append_builtin_config(config_jsonschema)
        for name, spec in EMIT_ACTIVATE_VERSION_SETTING["properties"].items():
            config_jsonschema["properties"].setdefault(name, spec)

    @override
    def discover_streams(self) -> list[TicketsStream]:
        return [TicketsStream(self)]

    @override
    def sync_all(self) -> None:
        # Page bodies arrive on several threads when pages are requested
        # ahead; see `unmap_large_buffers` for why they are mapped apart.
        unmap_large_buffers()
        # Each page parses into about 120,000 objects at 10,000 tickets a
        # page, and Python's default threshold collects many times per page.
        with fewer_collections():
            super().sync_all()

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # The SDK checks each setting against its JSON schema; this adds the
        # checks that span settings or parse values (api_url against region,
        # plain http:// only on loopback), so a bad config fails before any
        # request. The SDK offers no public hook for that.
        errors = super()._validate_config(raise_errors=raise_errors)
        if raise_errors:
            ClientSettings.from_config(self.config)
            _validate_start_date(self.config.get("start_date"))
        return errors

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # The SDK writes the state and exits with status 0 on SIGINT and
        # SIGTERM, so an orchestrator would record the cut-short sync as
        # complete. The state keeps the previous bookmark, so a rerun reads
        # everything again. The exit status now reports that the sync did not
        # finish.
        try:
            super()._handle_termination(signum, frame)
        except SystemExit as exit_request:
            if exit_request.code not in (0, None):
                raise
            status = 128 + signum
            self.logger.error(
                "Stopped by %s before the sync completed; the bookmark did not move. "
                "Exit status %d.",
                signal.Signals(signum).name,
                status,
            )
            raise SystemExit(status) from None


def _validate_start_date(start_date: object) -> None:
    if start_date is None:
        return
    try:
        parse_timestamp(str(start_date))
    except ValueError:
        msg = (
            f"Setting start_date {start_date!r} is not an ISO-8601 date or "
            "date-time. Use a value such as 2024-01-31 or 2024-01-31T08:00:00Z."
        )
        raise ConfigValidationError("Invalid start_date", errors=[msg]) from None


if __name__ == "__main__":
    TapPlanhatTickets.cli()
