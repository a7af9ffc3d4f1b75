"""The sink: batches of records sent as PUT /tickets and DELETE /tickets/{_id}."""

from __future__ import annotations

import json
import logging
import sys
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson
from singer_sdk.helpers.conform import DatetimeErrorTreatmentEnum
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator

from planhat_api import PlanhatAPIError
from target_planhat_tickets.batch import (
    BatchPlan,
    RecordProblems,
    describe_record,
    plan_batch,
)
from target_planhat_tickets.compiled_validation import (
    CompiledSchemaValidator,
    compile_check,
)
from target_planhat_tickets.mapping import map_record
from target_planhat_tickets.response import (
    ItemKey,
    UnexpectedResponseError,
    UpsertOutcome,
    describe_failures,
    describe_key,
    parse_upsert_response,
)
from target_planhat_tickets.timestamps import TimestampPlan
from target_planhat_tickets.validation import StreamSchemaValidator

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from target_planhat_tickets.report import StreamCounts
    from target_planhat_tickets.target import LoadSettings, TargetPlanhatTickets

#: Planhat's limit on the items of one bulk upsert request.
MAX_ITEMS_PER_PUT = 5_000
#: Records listed by name in one error message; the log names every one.
_MAX_LISTED = 20


class TicketLoadError(Exception):
    """Records of a batch were not loaded, and the settings do not tolerate it."""


class TicketsSink(BatchSink):
    """Load the records of any stream as Planhat tickets.

    Each drained batch is mapped to the write model, validated, merged by
    key, and sent in PUT requests of at most 5,000 items, one after another.
    The sink raises `TicketLoadError` when the batch has invalid records
    that may not be skipped, or when the run's API rejects exceed
    `max_rejected_records`. The SDK then ends the run before it emits STATE.
    """

    # The SDK's default is 10,000 records; one PUT takes at most 5,000.
    MAX_SIZE_DEFAULT = MAX_ITEMS_PER_PUT

    def __init__(
        self,
        target: TargetPlanhatTickets,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: list[str] | None,
    ) -> None:
        """Create the sink of one stream, sharing the target's client and report."""
        super().__init__(target, stream_name, schema, key_properties)
        self._target = target
        self._named_unsent_fields: set[str] = set()
        self._timestamp_plans: dict[int, TimestampPlan] = {}

    @property
    @override
    def include_sdc_metadata_properties(self) -> bool:
        # Without record metadata the SDK removes `_sdc_deleted_at` from each
        # record before `process_record`, and hard deletes need that field.
        return self._wants_record_metadata

    @cached_property
    def _wants_record_metadata(self) -> bool:
        # The SDK reads this for every record, and the config does not change.
        return bool(
            self.config.get("add_record_metadata", False)
            or self.config.get("hard_delete", False),
        )

    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        validator = super().get_validator()
        if validator is None:
            return None
        check = compile_check(
            self.schema, validate_formats=self.validate_field_string_format
        )
        if check is not None:
            validator = CompiledSchemaValidator(validator, check)
        return StreamSchemaValidator(
            validator, self.stream_name, self._describe_incoming
        )

    @override
    def _parse_timestamps_in_record(
        self,
        record: dict[str, Any],
        schema: dict[str, Any],
        treatment: DatetimeErrorTreatmentEnum,
    ) -> None:
        # The SDK's version looks up the type of every property of every
        # record. The lookups depend on the schema only, so the plan makes
        # them once, and parses the date-like values with the SDK's parsers.
        # A value that does not parse goes to the SDK's version, which logs
        # and repairs it or raises, by the treatment. The warning for a
        # field without a schema is the SDK's, once per field.
        plan = self._timestamp_plan(schema)
        if not plan.allows_unknown and not record.keys() <= plan.properties:
            for key in record:
                if key not in plan.properties:
                    self._warn_field_without_schema(key, record[key])
        if plan.parse_all_or_none(record):
            return
        present = {key: record[key] for key in plan.datelike if key in record}
        super()._parse_timestamps_in_record(present, plan.datelike_schema, treatment)
        record.update(present)

    def _timestamp_plan(self, schema: dict[str, Any]) -> TimestampPlan:
        plan = self._timestamp_plans.get(id(schema))
        if plan is None or plan.schema is not schema:
            plan = TimestampPlan.of(schema)
            self._timestamp_plans[id(schema)] = plan
        return plan

    def _warn_field_without_schema(self, key: str, value: Any) -> None:
        if value is not None and key not in self._warned_missing_fields:
            self.logger.warning("No schema for record field '%s'", key)
            self._warned_missing_fields.add(key)

    def _describe_incoming(self, record: dict[str, Any]) -> str:
        # Called before `process_record` counts the record, hence the + 1.
        mapped = map_record(record, same_workspace=False)
        return describe_record(mapped, self._counts.received + 1)

    @property
    def _settings(self) -> LoadSettings:
        return self._target.load_settings

    @property
    def _counts(self) -> StreamCounts:
        return self._target.report.stream(self.stream_name)

    @override
    def _singer_validate_message(self, record: dict[str, Any]) -> None:
        # The SDK's check of the key properties, without its generator per
        # record. For a missing key, the SDK's version raises its own error.
        for key in self._key_properties:
            if key not in record:
                super()._singer_validate_message(record)

    @cached_property
    def _received_counts(self) -> StreamCounts:
        # `_counts` looks the stream up for every call, and the report keeps
        # one StreamCounts object per stream for the whole run.
        return self._counts

    @override
    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        self._received_counts.received += 1
        super().process_record(record, context)

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        self._target.log_progress_if_due()
        records: list[dict[str, Any]] = context.get("records", [])
        settings = self._settings
        counts = self._counts
        plan = plan_batch(
            records,
            same_workspace=settings.same_workspace,
            hard_delete=settings.hard_delete,
            first_ordinal=counts.batched + 1,
        )
        counts.batched += len(records)
        self._log_plan(plan)
        self._handle_invalid(plan.invalid)
        blocking_invalid = [] if settings.skip_invalid_records else plan.invalid

        if settings.dry_run:
            self._log_dry_run(plan)
            rejected: list[str] = []
        else:
            rejected = self._send_upserts(plan)
            if blocking_invalid or self._over_tolerance():
                if plan.deletes:
                    self.logger.error(
                        "Stream %s: %d deletes of this batch were not sent, because "
                        "the batch failed",
                        self.stream_name,
                        len(plan.deletes),
                    )
            else:
                self._send_deletes(plan)

        if blocking_invalid or self._over_tolerance():
            msg = self._failure_message(blocking_invalid, rejected)
            raise TicketLoadError(msg)

    def _log_plan(self, plan: BatchPlan) -> None:
        stream = self.stream_name
        new_unsent = plan.unsent_fields - self._named_unsent_fields
        if new_unsent:
            self._named_unsent_fields |= new_unsent
            self.logger.info(
                "Stream %s: fields outside the Planhat write model are not sent: %s",
                stream,
                ", ".join(sorted(new_unsent)),
            )
        if plan.duplicates:
            self.tally_duplicate_merged(plan.duplicates)
            self._counts.duplicates_merged += plan.duplicates
            self.logger.info(
                "Stream %s: merged %d records into earlier records with the same key "
                "in this batch; later field values win",
                stream,
                plan.duplicates,
            )
        if plan.deletes_upserted:
            self.logger.warning(
                "Stream %s: %d records carry _sdc_deleted_at, but hard_delete is off, "
                "so they were upserted like the others",
                stream,
                plan.deletes_upserted,
            )

    def _handle_invalid(self, invalid: list[RecordProblems]) -> None:
        if not invalid:
            return
        skip = self._settings.skip_invalid_records
        level = logging.WARNING if skip else logging.ERROR
        action = "skipped invalid record" if skip else "invalid record, not sent:"
        for record in invalid:
            self.logger.log(
                level,
                "Stream %s: %s %s: %s",
                self.stream_name,
                action,
                record.label,
                "; ".join(record.problems),
            )
            self._target.dead_letters.write(
                stream=self.stream_name,
                key=record.label,
                reason="invalid",
                errors=record.problems,
                record=record.record,
            )
        self._counts.invalid += len(invalid)

    def _log_dry_run(self, plan: BatchPlan) -> None:
        items = list(plan.upserts.values())
        requests = -(-len(items) // MAX_ITEMS_PER_PUT)
        keys = [describe_key(key) for key in list(plan.upserts)[:_MAX_LISTED]]
        self.logger.info(
            "Stream %s: dry run: would send %d items in %d PUT /tickets requests "
            "and %d DELETE /tickets/{_id} requests; first keys: %s",
            self.stream_name,
            len(items),
            requests,
            len(plan.deletes),
            ", ".join(keys) or "none",
        )
        for item in items:
            self.logger.debug(
                "Stream %s: dry run item: %s", self.stream_name, json.dumps(item)
            )
        self._counts.would_upsert += len(items)
        self._counts.would_delete += len(plan.deletes)

    def _send_upserts(self, plan: BatchPlan) -> list[str]:
        """Send the items in PUTs of at most 5,000 and return the failed ones.

        Each failed item is described as "key: message".
        """
        entries = list(plan.upserts.items())
        rejected: list[str] = []
        for start in range(0, len(entries), MAX_ITEMS_PER_PUT):
            chunk = dict(entries[start : start + MAX_ITEMS_PER_PUT])
            outcome = self._put(chunk)
            rejected.extend(self._record_outcome(outcome, chunk))

            remaining = len(entries) - start - len(chunk)
            if self._over_tolerance() and remaining:
                self.logger.error(
                    "Stream %s: %d items of this batch were not sent, because the API "
                    "rejected more records than max_rejected_records allows",
                    self.stream_name,
                    remaining,
                )
                break
        return rejected

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

    def _report_failure(
        self,
        key: ItemKey | None,
        log_text: str,
        chunk: dict[ItemKey, dict[str, Any]],
    ) -> None:
        tolerated = not self._over_tolerance()
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

    def _send_deletes(self, plan: BatchPlan) -> None:
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

    def _over_tolerance(self) -> bool:
        return self._target.report.rejected_total > self._settings.max_rejected_records

    def _failure_message(
        self, invalid: list[RecordProblems], rejected: list[str]
    ) -> str:
        parts = [f"Stream '{self.stream_name}':"]
        fixes = []
        if invalid:
            listed = [
                f"{record.label} ({'; '.join(record.problems)})" for record in invalid
            ]
            parts.append(
                f"{len(invalid)} invalid records were not sent: {_listing(listed)}."
            )
            fixes.append(
                "Fix the invalid records (stream maps can rename or fill fields), "
                "or set skip_invalid_records to true to skip them",
            )
        if self._over_tolerance():
            total = self._target.report.rejected_total
            limit = self._settings.max_rejected_records
            parts.append(
                f"The API rejected or dropped {total} records in this run, more than "
                f"max_rejected_records ({limit}) allows; in this batch: "
                f"{_listing(rejected)}.",
            )
            fixes.append(
                "fix the records the API rejected, or raise max_rejected_records to "
                "tolerate rejects",
            )
        advice = "; ".join(fixes)
        parts.append(f"{advice[0].upper()}{advice[1:]}.")
        parts.append("No STATE was emitted for this batch or any later one.")
        return " ".join(parts)


def _listing(entries: list[str]) -> str:
    listed = "; ".join(entries[:_MAX_LISTED])
    if len(entries) > _MAX_LISTED:
        listed += f"; and {len(entries) - _MAX_LISTED} more, each logged above"
    return listed
