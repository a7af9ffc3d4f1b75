"""The sink: batches of records planned here and sent by the target's sender thread."""

from __future__ import annotations

import json
import logging
import sys
from functools import cached_property
from typing import TYPE_CHECKING, Any

from singer_sdk.helpers.conform import DatetimeErrorTreatmentEnum
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator

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
from target_planhat_tickets.mapping import DELETED_AT_FIELD, map_record
from target_planhat_tickets.response import describe_key
from target_planhat_tickets.timestamps import TimestampPlan
from target_planhat_tickets.upload import (
    MAX_ITEMS_PER_PUT,
    MAX_LISTED,
    TicketLoadError,
    TicketUploader,
)
from target_planhat_tickets.validation import StreamSchemaValidator

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from target_planhat_tickets.report import StreamCounts
    from target_planhat_tickets.settings import LoadSettings
    from target_planhat_tickets.target import TargetPlanhatTickets

__all__ = ["MAX_ITEMS_PER_PUT", "TicketLoadError", "TicketsSink"]


class TicketsSink(BatchSink):
    """Load the records of any stream as Planhat tickets.

    Each drained batch is mapped to the write model, validated and merged by
    key here, on the main thread. The target's sender thread then sends it
    in PUT requests of at most 5,000 items, one after another, while the
    next batch is read. A failed batch raises `TicketLoadError` or
    `PlanhatAPIError` on the main thread, from the next batch or record, or
    at the end of the input. The SDK then ends the run, and no STATE covers
    the failed batch.
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
        self._uploader = TicketUploader(target, stream_name, self.logger)

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
        sender = self._target.sender

        # Planning runs while the previous batch's requests are in flight.
        plan = plan_batch(
            records,
            same_workspace=settings.same_workspace,
            hard_delete=settings.hard_delete,
            first_ordinal=counts.batched + 1,
        )
        counts.batched += len(records)
        deleted_source_ids = self._deleted_source_ids(records, plan)

        # Logs, dead letters and errors of this batch follow the outcome of
        # the previous one, as when batches were sent one by one.
        sender.wait()
        self._log_plan(plan)
        self._handle_invalid(plan.invalid)
        blocking_invalid = [] if settings.skip_invalid_records else plan.invalid

        if settings.dry_run:
            self._log_dry_run(plan)
            if blocking_invalid:
                msg = self._uploader.failure_message(blocking_invalid, [])
                raise TicketLoadError(msg)
            return

        received = self._target.report.received_by_stream()

        def send() -> None:
            try:
                self._uploader.send_batch(plan, blocking_invalid, deleted_source_ids)
            except BaseException:
                self._target.report.received_before_failure = received
                raise

        sender.submit(send)
        if blocking_invalid:
            # The batch fails once its valid records are sent, so the run
            # stops here, as it would have without the sender thread.
            sender.wait()

    def _deleted_source_ids(
        self, records: list[dict[str, Any]], plan: BatchPlan
    ) -> list[str]:
        """Return the sourceIds of the records that `plan` deletes.

        Needed only to remove their fingerprints, so only with a store.
        """
        if self._target.fingerprints is None or not plan.deletes:
            return []
        deleted_ids = set(plan.deletes.values())
        source_ids = []
        for record in records:
            if record.get(DELETED_AT_FIELD) is None:
                continue
            mapped = map_record(record, same_workspace=True)
            source_id = mapped.item.get("sourceId")
            if str(mapped.ticket_id) in deleted_ids and source_id is not None:
                source_ids.append(str(source_id))
        return source_ids

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
        keys = [describe_key(key) for key in list(plan.upserts)[:MAX_LISTED]]
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
