"""The tickets stream."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from singer_sdk import Stream
from singer_sdk.helpers._util import utc_now

from planhat_api import (
    ClientSettings,
    PlanhatAPIError,
    PlanhatClient,
    load_readable_ticket_schema,
)
from planhat_api.progress import (
    ProgressLog,
    format_seconds,
    progress_interval,
)
from tap_planhat_tickets.pages import (
    DEFAULT_REQUESTS_IN_FLIGHT,
    TicketPages,
    company_filters,
)
from tap_planhat_tickets.paging import (
    PagingStats,
    Ticket,
    read_all_by_id,
    read_changed_since,
)
from tap_planhat_tickets.prefetch import PageQuery
from tap_planhat_tickets.record_path import (
    exclusive_boolean_properties,
    passes_records_unchanged,
    without_annotations,
)
from tap_planhat_tickets.timestamps import (
    format_timestamp,
    normalise_timestamp,
    parse_bookmark,
    parse_timestamp,
)
from tap_planhat_tickets.writer import MessageWriter

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, Record

UNLISTED_FIELDS = "unlistedFields"
#: Stream state key of the table version of the last full sync.
TABLE_VERSION_KEY = "table_version"
ALWAYS_SELECTED = ("_id", "updateDate")


class TicketsStream(Stream):
    """Planhat tickets from GET /tickets, bookmarked on `updateDate`.

    A full sync reads every ticket sorted by `_id`; an incremental sync reads
    by `updateDate` descending and stops past the bookmark minus the lookback
    window. Neither order matches the bookmark's ascending order, so the
    stream is unsorted. The SDK then keeps the largest `updateDate` seen and
    promotes it to the bookmark only when the sync completes. It caps the
    bookmark at the time the sync started, so the next sync reads again any
    ticket changed during this one.
    """

    name = "tickets"
    primary_keys = ("_id",)
    replication_key = "updateDate"
    is_sorted = False

    def __init__(self, tap: Tap) -> None:
        """Create the stream with the shared ticket schema."""
        super().__init__(tap, schema=load_readable_ticket_schema())
        self._discovered_structure = without_annotations(self.schema)
        self._known_properties = frozenset(self.schema["properties"])
        self._boolean_properties = exclusive_boolean_properties(self.schema)
        self._started_at = datetime.now(timezone.utc)
        self._client: PlanhatClient | None = None
        # Set at the start of each sync by `get_records`.
        self._plain_record_path = False
        writer = tap.message_writer
        self._writer = writer if isinstance(writer, MessageWriter) else None
        # The bytes around the record in a RECORD line, and the fields they encode.
        self._record_affixes = (b"", b"")
        self._affixes_received_at: datetime | None = None
        self._affixes_version: int | None = None
        self._largest_replication_value: str | None = None
        # When the last page arrived: the `time_extracted` of its records.
        self._page_received_at = utc_now()
        # Replaced at the start of each sync by `get_records`.
        self._progress = ProgressLog(
            self.logger, noun="tickets", verb="read", interval_seconds=0
        )

    @property
    def client(self) -> PlanhatClient:
        """The HTTP client, created on first use from the stream's config."""
        if self._client is None:
            self._client = PlanhatClient(
                ClientSettings.from_config(self.config),
                user_agent=f"{self.tap_name}/{self._tap.get_plugin_version()}",
                logger=self.logger,
            )
        return self._client

    @override
    def get_replication_key_signpost(self, context: Context | None) -> str:
        # The SDK's default is a datetime, which it stores as an isoformat
        # string with microseconds and "+00:00": that compares wrongly, as a
        # string, with Planhat's millisecond "Z" timestamps.
        return format_timestamp(self._started_at)

    @override
    def get_records(self, context: Context | None) -> Iterator[Ticket]:
        self._plain_record_path = self._record_path_is_plain()
        self._largest_replication_value = None
        cutoff = self._cutoff(context)
        table_version = self._table_version(context, full_sync=cutoff is None)
        page_size = int(self.config.get("page_size", 10_000))
        stats = PagingStats()
        requests_before = self.client.request_count
        progress = self._start_progress()
        # The settings schema allows null, which means the default. A dry run
        # such as `--test` stops after a few records, so it requests no page
        # ahead.
        in_flight = self.config.get("max_requests_in_flight")
        if self.ABORT_AT_RECORD_COUNT is not None:
            in_flight = 1
        # Every page request of this sync goes through `_fetch_page` and this
        # object, which requests the pages of reads by `_id` ahead.
        self._pages = TicketPages(
            self.client,
            select=self._api_select(),
            max_in_flight=in_flight or DEFAULT_REQUESTS_IN_FLIGHT,
            logger=self.logger,
        )

        try:
            for company_filter in company_filters(self.config.get("company_ids")):
                fetch = functools.partial(self._fetch_page, company_filter)
                if cutoff is None:
                    tickets = read_all_by_id(fetch, page_size, stats)
                else:
                    tickets = read_changed_since(fetch, page_size, cutoff, stats)
                for ticket in tickets:
                    progress.records += 1
                    yield ticket
                self._pages.end_read()
        finally:
            # Also on an error and when the SDK stops reading early: cancel
            # the requests not yet sent.
            self._pages.close()

        if cutoff is None and table_version is not None:
            # Every ticket of this version has been written, so a loader may
            # now drop the rows of older versions: tickets deleted in Planhat.
            self._write_activate_version_message(table_version)
            self.get_context_state(context)[TABLE_VERSION_KEY] = table_version

        self.logger.info(
            "Read %s tickets (%s) in %d requests: %d pages, %d step-backs, "
            "%d passes for long runs of equal updateDate, %d retries, "
            "%d pages requested ahead and not used, %s elapsed",
            format(progress.records, ","),
            "full" if cutoff is None else f"updated since {cutoff}",
            self.client.request_count - requests_before,
            stats.pages,
            stats.step_backs,
            stats.tie_run_passes,
            self.client.retry_count,
            self._pages.discarded_pages,
            format_seconds(progress.elapsed_seconds),
        )

    def _start_progress(self) -> ProgressLog:
        """Start the progress lines of one sync. `_fetch_page` logs them when due."""
        self._progress = ProgressLog(
            self.logger,
            noun="tickets",
            verb="read",
            interval_seconds=progress_interval(self.config),
            client=self.client,
        )
        return self._progress

    @override
    def _write_record_message(self, record: Record) -> None:
        # The SDK's version walks every key of every record twice, to drop
        # deselected properties and to conform types to the schema, and
        # builds a RecordMessage, which the writer turns into a dict to
        # encode. On the plain path (see `_record_path_is_plain`) neither
        # walk changes a record that `_normalise` has prepared, so the writer
        # encodes the record alone between prepared bytes. The walks took
        # about half the tap's CPU time. `time_extracted` is when the
        # record's page arrived, not when the record is written, so one
        # prefix and suffix serve a whole page.
        writer = self._writer
        if writer is None or not self._plain_record_path:
            super()._write_record_message(record)
            return

        received_at = self._page_received_at
        version = self._stream_version
        # Identity tests are the cheapest. An equal but new object only
        # prepares the same bytes again.
        if (
            received_at is not self._affixes_received_at
            or version is not self._affixes_version
        ):
            self._record_affixes = writer.record_line_affixes(
                self.stream_maps[0].stream_alias, version, received_at
            )
            self._affixes_received_at = received_at
            self._affixes_version = version
        prefix, suffix = self._record_affixes
        writer.write_record_line(prefix, record, suffix)
        self.state_manager.is_flushed = False

    @override
    def _process_record(
        self,
        record: Record,
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        # The SDK's version adds the partition's keys to the record and syncs
        # child streams with a copy of every record. This stream has neither
        # partitions nor child streams, so the copy was all it did.
        if partition_context or self.child_streams:
            super()._process_record(record, child_context, partition_context)

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        # The stream is unsorted, so the SDK keeps the largest updateDate seen
        # in the state. A record with an updateDate no larger than one
        # already passed on cannot change it, so only larger ones (and a
        # missing one, for the SDK's warning) are passed on. `_normalise`
        # writes every updateDate in one fixed-width format, so string order
        # is time order.
        value = latest_record.get(self.replication_key or "")
        if context is None and isinstance(value, str):
            largest = self._largest_replication_value
            if largest is not None and value <= largest:
                return
            self._largest_replication_value = value
        super()._increment_stream_state(latest_record, context=context)

    def _record_path_is_plain(self) -> bool:
        """Return True when records may skip the SDK's per-record path.

        That path cannot change a record when nothing is deselected, the
        catalog keeps the discovered schema, and the only stream map passes
        records on unchanged. The tap's own writer must write them.
        """
        problems = []
        if not all(self.mask.values()):
            problems.append("fields deselected by the catalog")
        # Annotations such as `readOnly` do not change how the SDK conforms
        # records, and the SDK's catalog drops some of them.
        if without_annotations(self.effective_schema) != self._discovered_structure:
            problems.append("schema changed by the catalog")
        if not passes_records_unchanged(self.stream_maps):
            problems.append("stream maps or flattening configured")
        if self._writer is None:
            problems.append("another message writer")

        self.logger.info(
            "Records %s the SDK's per-record selection and type conformance walks, "
            "stream maps and message objects (%s)",
            "go through" if problems else "skip",
            ", ".join(problems)
            or "nothing deselected, discovered schema, no stream maps",
        )
        return not problems

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        # The SDK would emit ACTIVATE_VERSION before the records of a
        # FULL_TABLE stream, so a sync that fails halfway would already have
        # sent the loader the message to drop the old rows. `get_records`
        # emits it after the last record of a full sync instead.
        return False

    def _table_version(self, context: Context | None, *, full_sync: bool) -> int | None:
        """Return the table version that this sync's records carry, or None for none.

        With emit_activate_version_messages, a full sync starts a new version:
        the sync's start in whole seconds, like the SDK's versions, so that it
        fits the 32-bit version columns of SQL loaders. An incremental sync
        carries the version of the last full sync, kept in the state, so
        that the next full sync's ACTIVATE_VERSION also drops rows that
        incremental syncs wrote and Planhat deleted since.
        """
        if not self.config.get("emit_activate_version_messages", False):
            self._stream_version = None
            return None
        if full_sync:
            version = int(self._started_at.timestamp())
        else:
            stored = self.get_context_state(context).get(TABLE_VERSION_KEY)
            version = stored if isinstance(stored, int) else None
        # The SDK writes this value into every RECORD message as `version`.
        self._stream_version = version
        return version

    def _cutoff(self, context: Context | None) -> str | None:
        """Return the earliest updateDate to read, or None for a full sync."""
        if self.replication_method != "INCREMENTAL":
            return None

        candidates: list[datetime] = []
        bookmark = self.get_context_state(context).get("replication_key_value")
        if bookmark:
            lookback = timedelta(
                minutes=int(self.config.get("lookback_window_minutes", 10))
            )
            candidates.append(parse_bookmark(str(bookmark), self.logger) - lookback)
        if start_date := self.config.get("start_date"):
            candidates.append(parse_timestamp(str(start_date)))
        return format_timestamp(max(candidates)) if candidates else None

    def _api_select(self) -> str | None:
        """Return the `select` parameter of the catalog's selection, or None for all."""
        deselected = [
            name
            for name in self._known_properties
            if not self.mask.get(("properties", name), True)
        ]
        if not deselected:
            return None
        selected = [
            name
            for name in self.schema["properties"]
            if name != UNLISTED_FIELDS and self.mask.get(("properties", name), True)
        ]
        return ",".join(dict.fromkeys([*ALWAYS_SELECTED, *selected]))

    def _fetch_page(
        self,
        company_filter: str | None,
        sort: str,
        offset: int,
        limit: int,
    ) -> list[Ticket]:
        self._progress.log_if_due()
        page = self._pages.fetch(PageQuery(company_filter, sort, offset, limit))
        self._page_received_at = page.received_at
        if not isinstance(page.data, list):
            msg = (
                f"GET /tickets returned a JSON {type(page.data).__name__}, not the "
                "array of tickets the API sends. Check that api_url points at the "
                "Planhat API."
            )
            raise PlanhatAPIError(msg, status=page.status)
        return [self._normalise(ticket) for ticket in page.data]

    def _normalise(self, ticket: Ticket) -> Ticket:
        """Keep fields the schema does not list, and fix the updateDate format.

        Boolean properties get the SDK's type conformance here, so that
        the plain record path can skip it: a value that is neither a
        boolean, a float nor null becomes `value != 0`, as the SDK makes it.
        """
        # Most tickets have no unlisted field: this check builds no set.
        if not self._known_properties.issuperset(ticket):
            unlisted = ticket.keys() - self._known_properties
            ticket[UNLISTED_FIELDS] = {name: ticket.pop(name) for name in unlisted}
        updated = ticket.get("updateDate")
        if isinstance(updated, str):
            ticket["updateDate"] = normalise_timestamp(updated)
        for name in self._boolean_properties:
            value = ticket.get(name)
            # Nearly every value is a boolean or null: the identity tests
            # settle them faster than isinstance.
            if value is None or value is True or value is False:
                continue
            if not isinstance(value, float):
                ticket[name] = value != 0
        return ticket
