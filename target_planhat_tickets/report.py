"""Counts per stream, the run's summary line and the dead-letter file."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from target_planhat_tickets.mapping import to_json_value


@dataclass
class StreamCounts:
    """Records of one stream by what happened to them, over the whole run."""

    received: int = 0
    #: Records that reached a batch, used to number records in messages.
    batched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Items not sent, because Planhat acknowledged the same JSON before.
    unchanged_since_sent: int = 0
    invalid: int = 0
    rejected: int = 0
    #: Items that the API's counts leave out while no error names them.
    dropped_silently: int = 0
    deleted: int = 0
    already_absent: int = 0
    duplicates_merged: int = 0
    #: Dry run: items and deletes that a real run would send.
    would_upsert: int = 0
    would_delete: int = 0


class RunReport:
    """Counts of every stream of one run, and the summary line built from them.

    The sender thread updates the counts of requests while the main thread
    updates those of records; no count is updated by both.
    """

    def __init__(self, *, dry_run: bool, fingerprints: bool = False) -> None:
        """Create an empty report; `dry_run` and `fingerprints` change what it lists.

        With `fingerprints`, the summary counts the items that a fingerprint
        store kept from being sent again.
        """
        self.dry_run = dry_run
        self.fingerprints = fingerprints
        self.streams: dict[str, StreamCounts] = {}
        #: Records received per stream when the batch that failed was handed
        #: to the sender; None while no batch failed.
        self.received_before_failure: dict[str, int] | None = None

    def stream(self, name: str) -> StreamCounts:
        """Return the counts of stream `name`, created on first use."""
        return self.streams.setdefault(name, StreamCounts())

    def received_by_stream(self) -> dict[str, int]:
        """Return the records received so far, by stream."""
        return {name: counts.received for name, counts in self.streams.items()}

    @property
    def rejected_total(self) -> int:
        """Return the records the API rejected or dropped in this run, all streams."""
        return sum(c.rejected + c.dropped_silently for c in self.streams.values())

    @property
    def received_total(self) -> int:
        """Return the records received in this run, all streams."""
        return sum(c.received for c in self.streams.values())

    def describe_upserted(self) -> str:
        """Describe the items the API acknowledged so far, in all streams."""
        if self.dry_run:
            would_upsert = sum(c.would_upsert for c in self.streams.values())
            return f"{would_upsert:,} would be upserted (dry run)"
        upserted = sum(
            c.created + c.updated + c.unchanged for c in self.streams.values()
        )
        return f"{upserted:,} upserted"

    def summary_line(self, *, failed: bool) -> str:
        """Build the one-line summary of the run, with each stream's counts."""
        if failed:
            prefix = "Summary of the failed run"
        elif self.dry_run:
            prefix = "Summary of the dry run (nothing was sent)"
        else:
            prefix = "Summary"
        if not self.streams:
            return f"{prefix}: no records received"
        parts = [
            f"stream '{name}': {self._describe(name, counts)}"
            for name, counts in self.streams.items()
            if self.received_before_failure is None
            or name in self.received_before_failure
        ]
        return f"{prefix}: {'; '.join(parts)}"

    def _received(self, name: str, counts: StreamCounts) -> int:
        # The main thread reads on while a batch is in flight. Records read
        # after a failed batch was handed over were never sent or checked.
        # The summary of a failed run therefore leaves them out, and the
        # streams that began after it, as if reading stopped at that batch.
        if self.received_before_failure is None:
            return counts.received
        return self.received_before_failure[name]

    def _describe(self, name: str, counts: StreamCounts) -> str:
        received = self._received(name, counts)
        if self.dry_run:
            fields = [
                ("received", received),
                ("would upsert", counts.would_upsert),
                ("would delete", counts.would_delete),
                ("skipped as invalid", counts.invalid),
                ("duplicates merged", counts.duplicates_merged),
            ]
        else:
            fields = [
                ("received", received),
                ("created", counts.created),
                ("updated", counts.updated),
                ("unchanged", counts.unchanged),
            ]
            if self.fingerprints:
                fields.append(
                    ("unchanged since last sent", counts.unchanged_since_sent)
                )
            fields += [
                ("skipped as invalid", counts.invalid),
                ("rejected by the API", counts.rejected),
                ("dropped silently by the API", counts.dropped_silently),
                ("deleted", counts.deleted),
                ("already absent", counts.already_absent),
                ("duplicates merged", counts.duplicates_merged),
            ]
        return ", ".join(f"{label} {value}" for label, value in fields)


class DeadLetterFile:
    """JSON Lines file of the records that were not loaded; never truncated.

    Each line is an object with `stream`, `key` (the record's name in the
    log), `reason` ("invalid" or "rejected"), `errors` (a list of messages)
    and `record`. For an invalid record, `record` is the input record. For a
    rejected one, it is the item sent.
    """

    def __init__(self, path: Path | None) -> None:
        """Create a writer; with `path` None, writing does nothing."""
        self.path = path
        self.lines_written = 0
        # Invalid records are written from the main thread and rejected ones
        # from the sender thread. A long line can take several writes, so the
        # lock keeps lines whole.
        self._lock = threading.Lock()

    def write(
        self,
        *,
        stream: str,
        key: str,
        reason: str,
        errors: list[str],
        record: dict[str, Any],
    ) -> None:
        """Append one record, flushed at once so that a crash loses none."""
        if self.path is None:
            return
        line = {
            "stream": stream,
            "key": key,
            "reason": reason,
            "errors": errors,
            "record": to_json_value(record),
        }
        text = json.dumps(line, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            with self.path.open("a", encoding="utf-8") as file:
                file.write(text)
            self.lines_written += 1
