"""The requests of one batch: PUT /tickets in chunks, then DELETE /tickets/{_id}.

`TicketUploader.send_batch` runs on the target's sender thread, one batch at
a time over all streams, so no two requests are ever in flight together. It
updates the run's counts, logs every reject, writes rejected items to the
dead-letter file and, with a fingerprint store, skips the items that
Planhat acknowledged unchanged before and remembers those it acknowledges.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from planhat_api import PlanhatAPIError
from target_planhat_tickets.fingerprints import Selection
from target_planhat_tickets.response import (
    ItemKey,
    UnexpectedResponseError,
    UpsertOutcome,
    describe_failures,
    describe_key,
    parse_upsert_response,
)

if TYPE_CHECKING:
    from target_planhat_tickets.batch import BatchPlan, RecordProblems
    from target_planhat_tickets.report import StreamCounts
    from target_planhat_tickets.settings import LoadSettings
    from target_planhat_tickets.target import TargetPlanhatTickets

#: Planhat's limit on the items of one bulk upsert request.
MAX_ITEMS_PER_PUT = 5_000
#: Records listed by name in one error message; the log names every one.
MAX_LISTED = 20


class TicketLoadError(Exception):
    """Records of a batch were not loaded, and the settings do not tolerate it."""


class TicketUploader:
    """Send the planned requests of one stream's batches and count their results."""

    def __init__(
        self,
        target: TargetPlanhatTickets,
        stream_name: str,
        logger: logging.Logger,
    ) -> None:
        """Create the uploader of one stream, sharing the target's client and report."""
        self._target = target
        self.stream_name = stream_name
        self.logger = logger

    @property
    def _settings(self) -> LoadSettings:
        return self._target.load_settings

    @property
    def _counts(self) -> StreamCounts:
        return self._target.report.stream(self.stream_name)

    def send_batch(
        self,
        plan: BatchPlan,
        blocking_invalid: list[RecordProblems],
        deleted_source_ids: Collection[str] = (),
    ) -> None:
        """Send the upserts, then the deletes unless the batch already failed.

        `deleted_source_ids` are the sourceIds of the records to delete,
        whose fingerprints are removed with those of their `_id`.

        Raises:
            TicketLoadError: when `blocking_invalid` is not empty, or when the
                run's rejects exceed `max_rejected_records`.
            PlanhatAPIError: when a request fails.

        """
        rejected = self._send_upserts(plan)
        failed = bool(blocking_invalid) or self.over_tolerance()
        if failed and plan.deletes:
            self.logger.error(
                "Stream %s: %d deletes of this batch were not sent, because the "
                "batch failed",
                self.stream_name,
                len(plan.deletes),
            )
        elif not failed:
            self._send_deletes(plan, deleted_source_ids)

        if failed:
            raise TicketLoadError(self.failure_message(blocking_invalid, rejected))

    def over_tolerance(self) -> bool:
        """Return whether the run's rejects exceed `max_rejected_records`."""
        return self._target.report.rejected_total > self._settings.max_rejected_records

    def _send_upserts(self, plan: BatchPlan) -> list[str]:
        """Send the items in PUTs of at most 5,000 and return the failed ones.

        Each failed item is described as "key: message".
        """
        selection = self._select_changed(plan)
        entries = list(selection.items.items())
        rejected: list[str] = []
        for start in range(0, len(entries), MAX_ITEMS_PER_PUT):
            chunk = dict(entries[start : start + MAX_ITEMS_PER_PUT])
            outcome = self._put(chunk)
            rejected.extend(self._record_outcome(outcome, chunk))
            self._remember_acknowledged(outcome, chunk, selection)

            remaining = len(entries) - start - len(chunk)
            if self.over_tolerance() and remaining:
                self.logger.error(
                    "Stream %s: %d items of this batch were not sent, because the API "
                    "rejected more records than max_rejected_records allows",
                    self.stream_name,
                    remaining,
                )
                break
        return rejected

    def _select_changed(self, plan: BatchPlan) -> Selection:
        """Return the items to send: all, or with a store only the changed ones."""
        store = self._target.fingerprints
        if store is None:
            return Selection(items=plan.upserts)
        try:
            selection = store.select_changed(
                plan.upserts, resend_all=self._settings.resend_all
            )
        except orjson.JSONEncodeError as exc:
            raise TicketLoadError(
                self._describe_unencodable(plan.upserts, exc)
            ) from exc

        self._counts.unchanged_since_sent += selection.unchanged
        if selection.unchanged:
            self.logger.info(
                "Stream %s: %d of %d items are unchanged since last sent, so they "
                "are not sent again",
                self.stream_name,
                selection.unchanged,
                len(plan.upserts),
            )
        return selection

    def _put(self, chunk: dict[ItemKey, dict[str, Any]]) -> UpsertOutcome:
        # The client paces and retries each request; bulk upserts are
        # idempotent, so a retried PUT cannot create a ticket twice.
        try:
            response = self._target.client.request(
                "PUT", "/tickets", body=list(chunk.values())
            )
        except orjson.JSONEncodeError as exc:
            raise TicketLoadError(self._describe_unencodable(chunk, exc)) from exc
        try:
            return parse_upsert_response(response.data, list(chunk))
        except UnexpectedResponseError as exc:
            raise PlanhatAPIError(str(exc), status=response.status) from exc

    def _record_outcome(
        self,
        outcome: UpsertOutcome,
        chunk: dict[ItemKey, dict[str, Any]],
    ) -> list[str]:
        counts = self._counts
        counts.created += outcome.created
        counts.updated += outcome.updated
        counts.unchanged += outcome.unchanged
        counts.rejected += len(outcome.rejects)
        counts.dropped_silently += outcome.lost
        self.logger.info(
            "Stream %s: PUT /tickets with %d items: created %d, updated %d, "
            "unchanged %d, rejected %d, dropped silently %d",
            self.stream_name,
            len(chunk),
            outcome.created,
            outcome.updated,
            outcome.unchanged,
            len(outcome.rejects),
            outcome.lost,
        )
        if outcome.surplus:
            self.logger.warning(
                "Stream %s: the response counts %d more items than were sent; the "
                "API's response format may have changed",
                self.stream_name,
                outcome.surplus,
            )

        failures = describe_failures(outcome, len(chunk))
        for failure in failures:
            self._report_failure(failure.key, failure.log_text, chunk)
        return [failure.listed for failure in failures]

    def _remember_acknowledged(
        self,
        outcome: UpsertOutcome,
        chunk: dict[ItemKey, dict[str, Any]],
        selection: Selection,
    ) -> None:
        store = self._target.fingerprints
        if store is None:
            return
        failed = [reject.key for reject in outcome.rejects] + list(outcome.lost_keys)
        # A failure that names no item of the chunk, or counts that do not add
        # up, leave unknown which items Planhat stored, so none is remembered
        # and the next run sends them again.
        if outcome.lost_unnamed or outcome.surplus or not set(failed) <= set(chunk):
            self.logger.warning(
                "Stream %s: the response does not show which of the %d items Planhat "
                "stored, so their fingerprints are not remembered",
                self.stream_name,
                len(chunk),
            )
            return
        failed_keys = set(failed)
        store.remember(
            {
                key: selection.fingerprints[key]
                for key in chunk
                if key not in failed_keys
            }
        )

    def _report_failure(
        self,
        key: ItemKey | None,
        log_text: str,
        chunk: dict[ItemKey, dict[str, Any]],
    ) -> None:
        tolerated = not self.over_tolerance()
        self.logger.log(
            logging.WARNING if tolerated else logging.ERROR,
            "Stream %s: %s",
            self.stream_name,
            log_text,
        )
        item = chunk.get(key) if key is not None else None
        if item is not None:
            self._target.dead_letters.write(
                stream=self.stream_name,
                key=describe_key(key),
                reason="rejected",
                errors=[log_text],
                record=item,
            )

    def _describe_unencodable(
        self,
        chunk: dict[ItemKey, dict[str, Any]],
        error: orjson.JSONEncodeError,
    ) -> str:
        # Runs only after the whole batch failed to encode, so the normal
        # path pays nothing for finding the culprits one by one.
        culprits = []
        for key, item in chunk.items():
            try:
                orjson.dumps(item)
            except orjson.JSONEncodeError:
                culprits.append(describe_key(key))
        return (
            f"Stream {self.stream_name!r}: {', '.join(culprits)} cannot be sent as "
            f"JSON ({error}), usually text holding a lone UTF-16 surrogate such as "
            "\\ud800. Fix the value in the source, or remove the field with a stream "
            "map. Nothing of this batch was sent."
        )

    def _send_deletes(
        self, plan: BatchPlan, deleted_source_ids: Collection[str]
    ) -> None:
        store = self._target.fingerprints
        if store is not None and plan.deletes:
            # The fingerprints go before the deletes, so a run that dies
            # between the two sends the ticket again rather than skip it.
            source_keys = [("sourceId", source_id) for source_id in deleted_source_ids]
            store.forget([*plan.deletes, *source_keys])

        counts = self._counts
        absent_before = counts.already_absent
        for ticket_id in plan.deletes.values():
            # NOTE: the API returns 404 for an unknown _id and also for a wrong
            # path, so a batch of only deletes cannot tell the two apart.
            response = self._target.client.request(
                "DELETE",
                f"/tickets/{quote(ticket_id, safe='')}",
                accept_statuses=frozenset({404}),
            )
            if response.status == 404:
                counts.already_absent += 1
                self.logger.info(
                    "Stream %s: ticket _id %r was already absent (404)",
                    self.stream_name,
                    ticket_id,
                )
            else:
                counts.deleted += 1
        if plan.deletes:
            absent = counts.already_absent - absent_before
            self.logger.info(
                "Stream %s: DELETE /tickets/{_id} for %d tickets: deleted %d, "
                "already absent %d",
                self.stream_name,
                len(plan.deletes),
                len(plan.deletes) - absent,
                absent,
            )

    def failure_message(
        self, invalid: list[RecordProblems], rejected: list[str]
    ) -> str:
        """Build the error of a failed batch: what was not loaded, and the fix."""
        parts = [f"Stream '{self.stream_name}':"]
        fixes = []
        if invalid:
            listed = [
                f"{record.label} ({'; '.join(record.problems)})" for record in invalid
            ]
            parts.append(
                f"{len(invalid)} invalid records were not sent: {listing(listed)}."
            )
            fixes.append(
                "Fix the invalid records (stream maps can rename or fill fields), "
                "or set skip_invalid_records to true to skip them",
            )
        if self.over_tolerance():
            total = self._target.report.rejected_total
            limit = self._settings.max_rejected_records
            parts.append(
                f"The API rejected or dropped {total} records in this run, more than "
                f"max_rejected_records ({limit}) allows; in this batch: "
                f"{listing(rejected)}.",
            )
            fixes.append(
                "fix the records the API rejected, or raise max_rejected_records to "
                "tolerate rejects",
            )
        advice = "; ".join(fixes)
        parts.append(f"{advice[0].upper()}{advice[1:]}.")
        parts.append("No STATE was emitted for this batch or any later one.")
        return " ".join(parts)


def listing(entries: list[str]) -> str:
    """Join up to `MAX_LISTED` entries with "; ", and append how many were left out."""
    listed = "; ".join(entries[:MAX_LISTED])
    if len(entries) > MAX_LISTED:
        listed += f"; and {len(entries) - MAX_LISTED} more, each logged above"
    return listed
