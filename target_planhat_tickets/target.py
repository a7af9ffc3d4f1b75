"""The target-planhat-tickets entry point: STATE, the sender thread and the store."""

from __future__ import annotations

import copy
import signal
import sys
from types import FrameType
from typing import IO, Any

from singer_sdk import Target
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import TargetCapabilities
from singer_sdk.mapper import SameRecordTransform

from planhat_api import ClientSettings, PlanhatClient, settings_schema
from planhat_api.collection import fewer_collections
from planhat_api.progress import ProgressLog
from target_planhat_tickets.fingerprints import FingerprintStore
from target_planhat_tickets.reader import NumberedSingerReader
from target_planhat_tickets.report import DeadLetterFile, RunReport
from target_planhat_tickets.sender import BatchSender
from target_planhat_tickets.settings import (
    TARGET_SETTINGS,
    LoadSettings,
    load_setting_errors,
)
from target_planhat_tickets.sinks import TicketsSink

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override


class TargetPlanhatTickets(Target):
    """Load tickets into Planhat with bulk upserts, from any stream, in either shape."""

    name = "target-planhat-tickets"
    package_name = "planhat-tickets-connectors"
    config_jsonschema = settings_schema(TARGET_SETTINGS)
    default_sink_class = TicketsSink
    message_reader_class = NumberedSingerReader
    capabilities = [*Target.capabilities, TargetCapabilities.HARD_DELETE]  # noqa: RUF012

    def __init__(self, **kwargs: Any) -> None:
        """Create the target; takes the keyword arguments of the SDK's `Target`."""
        super().__init__(**kwargs)
        # Planhat's documentation requests that bulk requests run one after
        # another, so sinks drain in turn instead of in the SDK's threads.
        self.max_parallelism = 1
        self.load_settings = LoadSettings.from_config(self.config)
        #: Fingerprints of what Planhat acknowledged; None without a path.
        self.fingerprints = self._open_fingerprint_store()
        #: Counts of every stream, shared by all sinks.
        self.report = RunReport(
            dry_run=self.load_settings.dry_run,
            fingerprints=self.fingerprints is not None,
        )
        #: Dead-letter file of invalid and rejected records; inactive without a path.
        self.dead_letters = DeadLetterFile(self.load_settings.dead_letter_path)
        #: The one thread that sends requests, one batch at a time.
        self.sender = BatchSender(self._emit_state)
        self._client: PlanhatClient | None = None
        #: Progress lines of the run, checked once per batch.
        self.progress = ProgressLog(
            self.logger,
            noun="records",
            verb="received",
            interval_seconds=self.load_settings.progress_interval_seconds,
            detail=self.report.describe_upserted,
        )
        self._summary_logged = False
        self._last_written_state: dict[str, Any] | None = None
        self._state_handed_over: dict[str, Any] | None = None

    @property
    def client(self) -> PlanhatClient:
        """The HTTP client of every sink, so that one rate limit paces them all.

        Only the sender thread uses it, one request at a time.
        """
        if self._client is None:
            self._client = PlanhatClient(
                ClientSettings.from_config(self.config),
                user_agent=f"{self.name}/{self.get_plugin_version()}",
                logger=self.logger,
            )
            self.progress.client = self._client
        return self._client

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # The SDK checks each setting against its JSON schema. This adds the
        # checks that span settings or touch files, so that a bad config
        # fails before any request. The SDK offers no public hook for that.
        errors = super()._validate_config(raise_errors=raise_errors)
        if not raise_errors:
            return errors

        problems = []
        try:
            ClientSettings.from_config(self.config)
        except ConfigValidationError as exc:
            problems.extend(exc.errors or [str(exc)])
        problems.extend(load_setting_errors(self.config))
        if problems:
            raise ConfigValidationError("Invalid target settings", errors=problems)
        return errors

    @override
    def listen(self, file_input: IO[str] | None = None) -> None:
        # A batch holds 5,000 records of a few dozen objects each, and
        # Python's default threshold collects every few records.
        with fewer_collections():
            super().listen(file_input)

    @override
    def _process_record_message(self, message_dict: dict[str, Any]) -> None:
        # Records are where a run fails: the SDK's schema validation, and the
        # drain of a full sink. The summary must come out before the
        # exception ends the run, and the SDK offers no public hook for it.
        try:
            if not self._process_unmapped_record(message_dict):
                super()._process_record_message(message_dict)
        except Exception:
            self.log_summary(failed=True)
            raise
        self._write_state_if_drained()

    def _process_unmapped_record(self, message_dict: dict[str, Any]) -> bool:
        """Process a RECORD of a stream without stream maps, as the SDK would.

        The SDK copies each record and passes the copy through the stream's
        map. Without stream maps and flattening, that map returns the record
        unchanged, and nothing else reads the message's record afterwards,
        so this skips both steps. The other steps are the SDK's, in its
        order (singer-sdk 0.54). Returns False, having done nothing, for a
        record that the SDK's version must process.
        """
        record = message_dict.get("record")
        stream_maps = self.mapper.stream_maps.get(message_dict.get("stream"))
        if type(record) is not dict or stream_maps is None or len(stream_maps) != 1:
            return False
        stream_map = stream_maps[0]
        if type(stream_map) is not SameRecordTransform or stream_map.flattening_enabled:
            return False
        sink = self._sinks_active.get(stream_map.stream_alias)
        if not isinstance(sink, TicketsSink):
            return False

        context = sink._get_context(record)
        if sink.include_sdc_metadata_properties:
            sink._add_sdc_metadata_to_record(record, message_dict, context)
        else:
            sink._remove_sdc_metadata_from_record(record)
        sink._validate_and_parse(record)
        record = sink.preprocess_record(record, context)
        sink._singer_validate_message(record)

        sink.tally_record_read()
        sink.process_record(record, context)
        sink.record_counter_metric.increment()
        sink._after_process_record(context)
        if sink.is_full:
            self.logger.info(
                "Target sink for '%s' is full. Current size is '%s'. Draining...",
                sink.stream_name,
                sink.current_size,
            )
            self.drain_one(sink)
        self._handle_max_record_age()
        return True

    def _open_fingerprint_store(self) -> FingerprintStore | None:
        path = self.load_settings.fingerprint_store_path
        if path is None:
            return None
        if self.load_settings.dry_run:
            self.logger.info(
                "Dry run: the fingerprint store %s is neither read nor written",
                str(path),
            )
            return None

        client_settings = ClientSettings.from_config(self.config)
        store = FingerprintStore.open(
            path,
            api_url=client_settings.base_url,
            api_token=client_settings.api_token,
        )
        if self.load_settings.resend_all:
            self.logger.info(
                "resend_all is set: every item is sent, and the fingerprint store %s "
                "is refreshed",
                str(path),
            )
        elif store.other_workspaces and not store.known_workspace:
            self.logger.warning(
                "The fingerprint store %s has fingerprints only for other pairs of "
                "API token and api_url (%d), so every item is sent and remembered "
                "for this pair. A new token, or another spelling of the same URL "
                "such as localhost for 127.0.0.1, starts afresh.",
                str(path),
                store.other_workspaces,
            )
        return store

    @override
    def _process_state_message(self, message_dict: dict[str, Any]) -> None:
        # A STATE that arrives when every sink is empty covers only records
        # already handed to the sender, so it can go out once they are sent,
        # instead of waiting for the next batch to drain.
        super()._process_state_message(message_dict)
        self._write_state_if_drained()

    def _write_state_if_drained(self) -> None:
        """Hand the latest STATE to the sender when no sink contains unsent records.

        The SDK emits STATE only when it drains every sink: at the end of the
        input, or when records are 5 minutes old. When no sink contains records,
        every record before the latest STATE was given to the sender, so the
        STATE can go out as soon as the batch in flight is acknowledged, and
        a crashed run resumes from it. Also raises the error of a batch that
        failed, so that the run stops before it reads further.
        """
        failure = self.sender.failure
        if failure is not None:
            self.log_summary(failed=True)
            raise failure
        state = self._latest_state
        # The SDK stores each new STATE as a new object, so identity shows
        # whether this one was handed over, without comparing the contents.
        if not state or state is self._state_handed_over:
            return
        # The SDK offers no public view of its sinks. These are the sinks of
        # the current streams and those waiting to drain after a schema change.
        sinks = [*self._sinks_active.values(), *self._sinks_to_clear]
        if any(sink.current_size for sink in sinks):
            return
        self._state_handed_over = state
        self._write_state_message(copy.deepcopy(state))

    @override
    def process_endofpipe(self) -> None:
        # The SDK drains every sink and hands over the last STATE it
        # received, which goes out once the last batch is acknowledged.
        try:
            super().process_endofpipe()
            self.sender.wait()
        except Exception:
            self.log_summary(failed=True)
            raise
        finally:
            self._close_resources()
        self.log_summary(failed=False)

    def _close_resources(self) -> None:
        # A stop by signal can get here with a batch in flight, whose thread
        # would then find its client or store closed. The process exits
        # anyway, so they stay open for it.
        if self.sender.busy:
            return
        if self._client is not None:
            self._client.close()
        if self.fingerprints is not None:
            self.fingerprints.close()

    @override
    def _write_state_message(self, state: dict[str, Any]) -> None:
        # The SDK's only hook before STATE goes out, called once all sinks
        # were drained. A dry run writes nothing, so its STATE would make
        # the next real run skip these records.
        if self.load_settings.dry_run:
            self.logger.info(
                "Dry run: STATE not emitted, so a real run loads these records"
            )
            return
        self.sender.emit_state_when_sent(state)

    def _emit_state(self, state: dict[str, Any]) -> None:
        """Write `state` unless it equals the last STATE written; run by the sender."""
        if state == self._last_written_state:
            return
        super()._write_state_message(state)
        self._last_written_state = copy.deepcopy(state)

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # On SIGINT and SIGTERM the SDK drains every sink from inside the
        # signal handler, which can interrupt a PUT in progress, then emits
        # the last STATE it received and exits with status 0: a STATE past
        # records Planhat never stored. This target emits STATE after each
        # acknowledged batch, so it stops at once instead. It neither waits
        # for the batch in flight nor emits its STATE, and a rerun from the
        # last STATE sends the rest.
        self.sender.stop()
        status = 128 + signum
        self.logger.error(
            "Stopped by %s; STATE covers only the batches Planhat acknowledged, "
            "so rerun from the last STATE emitted. Exit status %d.",
            signal.Signals(signum).name,
            status,
        )
        self.log_summary(failed=True)
        raise SystemExit(status)

    def log_progress_if_due(self) -> None:
        """Log a progress line with the records received so far, if one is due."""
        self.progress.records = self.report.received_total
        self.progress.log_if_due()

    def log_summary(self, *, failed: bool) -> None:
        """Log the run's one summary line, once; at ERROR level when the run failed."""
        if self._summary_logged:
            return
        self._summary_logged = True
        line = f"{self.report.summary_line(failed=failed)}; {self.progress.totals()}"
        if failed:
            self.logger.error("%s", line)
        else:
            self.logger.info("%s", line)


if __name__ == "__main__":
    TargetPlanhatTickets.cli()
