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

from planhat_api import ClientSettings, PlanhatClient, settings_schema
from planhat_api.collection import fewer_collections
from target_planhat_tickets.fingerprints import FingerprintStore
from target_planhat_tickets.reader import NumberedSingerReader
from target_planhat_tickets.report import DeadLetterFile, RunReport
from target_planhat_tickets.sender import BatchSender
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
        "fingerprint_store_path",
        th.StringType(min_length=1),
        title="Fingerprint store",
        description=(
            "Path of a SQLite file that remembers, for each ticket key, a hash of the "
            "JSON that Planhat last acknowledged. Items equal to it are not sent "
            "again and are counted as unchanged since last sent. The file is created "
            "if missing, and its folder must exist. It keeps fingerprints per API "
            "token, never the token itself, and one run at a time may use it. "
            "Tickets edited or deleted in Planhat since are not corrected until "
            "resend_all is set. Leave unset to send every record."
        ),
    ),
    th.Property(
        "resend_all",
        th.BooleanType(),
        default=False,
        title="Resend all",
        description=(
            "With fingerprint_store_path, send every item even when it is unchanged "
            "since last sent, and refresh the stored fingerprints, which corrects "
            "tickets edited or deleted in Planhat since. Default false. Without "
            "fingerprint_store_path every record is sent anyway."
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
    fingerprint_store_path: Path | None = None
    resend_all: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LoadSettings:
        """Read the settings, with the defaults of the config schema."""
        path = config.get("dead_letter_path")
        store_path = config.get("fingerprint_store_path")
        return cls(
            same_workspace=bool(config.get("same_workspace", False)),
            hard_delete=bool(config.get("hard_delete", False)),
            skip_invalid_records=bool(config.get("skip_invalid_records", False)),
            max_rejected_records=int(config.get("max_rejected_records", 0)),
            dead_letter_path=Path(path) if path else None,
            dry_run=bool(config.get("dry_run", False)),
            fingerprint_store_path=Path(store_path) if store_path else None,
            resend_all=bool(config.get("resend_all", False)),
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
    errors.extend(
        _file_path_errors(config, "dead_letter_path", "output/dead-letters.jsonl")
    )
    errors.extend(
        _file_path_errors(
            config, "fingerprint_store_path", "output/fingerprints.sqlite"
        )
    )
    return errors


def _file_path_errors(
    config: Mapping[str, Any], setting: str, example: str
) -> list[str]:
    path = config.get(setting)
    if not path:
        return []
    folder = Path(path).parent
    if Path(path).is_dir():
        return [
            f"Setting {setting} {path!r} is a folder. Give the path of a file, such "
            f"as {example}.",
        ]
    if not folder.is_dir():
        return [
            f"Setting {setting} {path!r} is in a folder that does not exist "
            f"({str(folder)!r}). Create the folder or change the path.",
        ]
    return []


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
            super()._process_record_message(message_dict)
        except Exception:
            self.log_summary(failed=True)
            raise
        self._write_state_if_drained()

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
                "The fingerprint store %s has fingerprints only for other API tokens "
                "(%d), so every item is sent and remembered for this token. Tokens "
                "of one workspace do not share fingerprints.",
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

    def log_summary(self, *, failed: bool) -> None:
        """Log the run's one summary line, once; at ERROR level when the run failed."""
        if self._summary_logged:
            return
        self._summary_logged = True
        line = self.report.summary_line(failed=failed)
        if failed:
            self.logger.error("%s", line)
        else:
            self.logger.info("%s", line)


if __name__ == "__main__":
    TargetPlanhatTickets.cli()
