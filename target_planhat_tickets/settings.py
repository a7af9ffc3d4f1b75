"""The settings of target-planhat-tickets, and the checks that span settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from singer_sdk import typing as th

from planhat_api.progress import (
    DEFAULT_PROGRESS_INTERVAL_SECONDS,
    PROGRESS_INTERVAL_SETTING,
    progress_interval,
)
from target_planhat_tickets.upload import MAX_ITEMS_PER_PUT

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
    fingerprint_store_path: Path | None = None
    resend_all: bool = False
    progress_interval_seconds: float = DEFAULT_PROGRESS_INTERVAL_SECONDS

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
            progress_interval_seconds=progress_interval(config),
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
