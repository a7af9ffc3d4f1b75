"""The target-planhat-tickets entry point and its settings."""

from __future__ import annotations

import copy
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import TargetCapabilities
from singer_sdk.mapper import SameRecordTransform

from planhat_api import ClientSettings, PlanhatClient, settings_schema
from planhat_api.collection import fewer_collections
from planhat_api.progress import (
    DEFAULT_PROGRESS_INTERVAL_SECONDS,
    PROGRESS_INTERVAL_SETTING,
    ProgressLog,
)
from target_planhat_tickets.reader import NumberedSingerReader
from target_planhat_tickets.report import DeadLetterFile, RunReport
from target_planhat_tickets.sinks import MAX_ITEMS_PER_PUT, TicketsSink

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

TARGET_SETTINGS = th.PropertiesList(
    th.Property(
        "same_workspace",
        th.BooleanType(),
        default=False,
        title="Records come from this workspace",
        description=(
            "Set to true only when the records were read from the Planhat workspace "
            "this target writes to, for example tickets enriched and written back. "
            "Then each record's `_id` is sent and matched first, and hard_delete is "
            "allowed. Default false: `_id` is never sent, because an `_id` of another "
            "workspace would match the wrong ticket or none; tickets match by sourceId."
        ),
    ),
    th.Property(
        "hard_delete",
        th.BooleanType(),
        default=False,
        title="Hard delete",
        description=(
            "Delete the ticket of each record whose `_sdc_deleted_at` is set, with "
            "DELETE /tickets/{_id}. Needs same_workspace, because a delete needs the "
            "ticket's Planhat `_id`. A ticket already gone (404) is counted as already "
            "absent. Default false: such records are upserted like the others."
        ),
    ),
    th.Property(
        "skip_invalid_records",
        th.BooleanType(),
        default=False,
        title="Skip invalid records",
        description=(
            "Skip records that fail validation (sourceId, email or company missing, or "
            "a field of the wrong type): each is logged as a warning with its key, "
            "counted, and written to dead_letter_path if set. Default false: an "
            "invalid record fails the run after the valid records of its batch are "
            "sent, so that one run names every problem of the batch, and no STATE is "
            "emitted past it. A record without an email is never sent."
        ),
    ),
    th.Property(
        "max_rejected_records",
        th.IntegerType(minimum=0),
        default=0,
        title="Max rejected records",
        description=(
            "Records the API may reject over the whole run (error entries of the bulk "
            "upsert response, and items it drops without an error) before the run "
            "fails. Each reject is logged with its key and the API's message. Default "
            "0: the first reject fails the run at the end of its PUT request, and no "
            "STATE is emitted past it."
        ),
    ),
    th.Property(
        "dead_letter_path",
        th.StringType(min_length=1),
        title="Dead-letter file",
        description=(
            "Path of a JSON Lines file that receives every invalid or rejected record: "
            "one object per line with stream, key, reason, errors and record. The file "
            "is appended to, and its folder must exist. Leave unset to only log them."
        ),
    ),
    th.Property(
        "dry_run",
        th.BooleanType(),
        default=False,
        title="Dry run",
        description=(
            "Validate and map the records and log what would be sent, without sending "
            "any request. No STATE is emitted, so a later real run loads the same "
            "records."
        ),
    ),
    th.Property(
        "batch_size_rows",
        th.IntegerType(minimum=1),
        default=MAX_ITEMS_PER_PUT,
        title="Batch size (records)",
        description=(
            "Records per batch. A batch goes out in PUT /tickets requests of at most "
            "5,000 items (Planhat's limit), one after another, so a larger batch is "
            "split. STATE is emitted only after every record before it was sent and "
            "acknowledged."
        ),
    ),
    th.Property(
        "load_method",
        th.StringType(),
        allowed_values=["upsert"],
        default="upsert",
        title="Load method",
        description=(
            "Only `upsert`: each ticket is created or updated by its key. The SDK's "
            "`append-only` and `overwrite` do not apply to Planhat, which matches "
            "tickets by key and has no bulk delete."
        ),
    ),
    PROGRESS_INTERVAL_SETTING,
)


@dataclass(frozen=True)
class LoadSettings:
    """The target's own settings, read once from the config."""

    same_workspace: bool = False
    hard_delete: bool = False
    skip_invalid_records: bool = False
    max_rejected_records: int = 0
    dead_letter_path: Path | None = None
    dry_run: bool = False
    progress_interval_seconds: float = DEFAULT_PROGRESS_INTERVAL_SECONDS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LoadSettings:
        """Read the settings, with the defaults of the config schema."""
        path = config.get("dead_letter_path")
        return cls(
            same_workspace=bool(config.get("same_workspace", False)),
            hard_delete=bool(config.get("hard_delete", False)),
            skip_invalid_records=bool(config.get("skip_invalid_records", False)),
            max_rejected_records=int(config.get("max_rejected_records", 0)),
            dead_letter_path=Path(path) if path else None,
            dry_run=bool(config.get("dry_run", False)),
            progress_interval_seconds=float(
                config.get(
                    "progress_interval_seconds", DEFAULT_PROGRESS_INTERVAL_SECONDS
                )
            ),
        )


def load_setting_errors(config: Mapping[str, Any]) -> list[str]:
    """Return the errors of target settings that span fields or touch files."""
    errors = []
    if config.get("hard_delete") and not config.get("same_workspace"):
        errors.append(
            "Setting hard_delete needs same_workspace: deleting a ticket needs its "
            "Planhat _id, which the target sends only when same_workspace is true. "
            "Set same_workspace to true if the records come from this workspace, or "
            "set hard_delete to false.",
        )
    path = config.get("dead_letter_path")
    if path:
        folder = Path(path).parent
        if Path(path).is_dir():
            errors.append(
                f"Setting dead_letter_path {path!r} is a folder. Give the path of a "
                "file, such as output/dead-letters.jsonl.",
            )
        elif not folder.is_dir():
            errors.append(
                f"Setting dead_letter_path {path!r} is in a folder that does not "
                f"exist ({str(folder)!r}). Create the folder or change the path.",
            )
    return errors


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
        #: Counts of every stream, shared by all sinks.
        self.report = RunReport(dry_run=self.load_settings.dry_run)
        #: Dead-letter file of invalid and rejected records; inactive without a path.
        self.dead_letters = DeadLetterFile(self.load_settings.dead_letter_path)
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

    @property
    def client(self) -> PlanhatClient:
        """The HTTP client of every sink, so that one rate limit paces them all."""
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

    def _write_state_if_drained(self) -> None:
        """Emit the latest STATE when no sink contains a record not yet loaded.

        The SDK emits STATE only when it drains every sink: at the end of the
        input, or when records are 5 minutes old. Right after a full batch
        was sent and acknowledged, and no other sink holds records, every
        record before the latest STATE is in Planhat, so that STATE can go
        out at once and a crashed run resumes from it.
        """
        state = self._latest_state
        if not state or state == self._last_written_state:
            return
        # The SDK offers no public view of its sinks. These are the sinks of
        # the current streams and those waiting to drain after a schema change.
        sinks = [*self._sinks_active.values(), *self._sinks_to_clear]
        if any(sink.current_size for sink in sinks):
            return
        self._write_state_message(copy.deepcopy(state))

    @override
    def process_endofpipe(self) -> None:
        # The SDK drains every sink, then emits the last STATE it received.
        try:
            super().process_endofpipe()
        except Exception:
            self.log_summary(failed=True)
            raise
        finally:
            if self._client is not None:
                self._client.close()
        self.log_summary(failed=False)

    @override
    def _write_state_message(self, state: dict[str, Any]) -> None:
        # The SDK's only hook before STATE goes out. A dry run writes nothing,
        # so its STATE would make the next real run skip these records.
        if self.load_settings.dry_run:
            self.logger.info(
                "Dry run: STATE not emitted, so a real run loads these records"
            )
            return
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
        # acknowledged batch, so it stops at once instead; a rerun from the
        # last STATE sends the rest.
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
