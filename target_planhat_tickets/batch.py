"""Planning of one batch: map, validate and merge records into what to send.

Records with the same key in one batch become one item, because the API
rejects a request that repeats a key with HTTP 400. Merging keeps the meaning of
sending them one after another. Fields of later records replace those of
earlier ones, and `custom` values merge by field name. A delete drops earlier
upserts of its key, and a later upsert cancels an earlier delete.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from target_planhat_tickets.fast_mapping import UnsentFieldCollector, map_valid_record
from target_planhat_tickets.mapping import ID_FIELD, MappedRecord, map_record
from target_planhat_tickets.response import ItemKey
from target_planhat_tickets.validation import find_problems


@dataclass(frozen=True)
class RecordProblems:
    """A record that fails validation, with its problems; it is never sent."""

    #: Name of the record in messages, such as "sourceId 'ZD-12'".
    label: str
    problems: list[str]
    record: dict[str, Any]


@dataclass
class BatchPlan:
    """The requests of one batch, and the records it leaves out."""

    #: Items of PUT /tickets by key, in the order their keys first appeared.
    upserts: dict[ItemKey, dict[str, Any]] = field(default_factory=dict)
    #: Planhat `_id` of each ticket to delete, by key.
    deletes: dict[ItemKey, str] = field(default_factory=dict)
    invalid: list[RecordProblems] = field(default_factory=list)
    #: Records merged into an earlier record of the same key.
    duplicates: int = 0
    #: Records marked deleted that are upserted because hard deletes are off.
    deletes_upserted: int = 0
    #: Names of fields that the records carry and the target does not send.
    unsent_fields: set[str] = field(default_factory=set)


def plan_batch(
    records: Sequence[dict[str, Any]],
    *,
    same_workspace: bool,
    hard_delete: bool,
    first_ordinal: int = 1,
) -> BatchPlan:
    """Map, validate and merge `records`; `first_ordinal` numbers them in messages."""
    plan = BatchPlan()
    unsent = UnsentFieldCollector(plan.unsent_fields, same_workspace=same_workspace)
    for ordinal, record in enumerate(records, start=first_ordinal):
        # Most records are valid as they come and take the shortcut, which
        # gives the same item. The others take the full path below.
        item = map_valid_record(record, same_workspace=same_workspace)
        if item is not None:
            unsent.add(record)
            _add_upsert(plan, _item_key(item), item)
            continue

        mapped = map_record(record, same_workspace=same_workspace)
        plan.unsent_fields.update(mapped.unsent_fields)
        if mapped.deleted and not hard_delete:
            mapped = dataclasses.replace(mapped, deleted=False)
            plan.deletes_upserted += 1

        problems = find_problems(mapped, same_workspace=same_workspace)
        if problems:
            plan.invalid.append(
                RecordProblems(describe_record(mapped, ordinal), problems, record)
            )
            continue
        _add(plan, mapped)
    return plan


def _add(plan: BatchPlan, mapped: MappedRecord) -> None:
    key = upsert_key(mapped)
    if mapped.deleted:
        if key in plan.upserts or key in plan.deletes:
            plan.duplicates += 1
        plan.upserts.pop(key, None)
        plan.deletes[key] = str(mapped.ticket_id)
        return
    _add_upsert(plan, key, mapped.item)


def _add_upsert(plan: BatchPlan, key: ItemKey, item: dict[str, Any]) -> None:
    if key in plan.upserts or key in plan.deletes:
        plan.duplicates += 1
    plan.deletes.pop(key, None)
    earlier = plan.upserts.get(key)
    plan.upserts[key] = item if earlier is None else merge_items(earlier, item)


def upsert_key(mapped: MappedRecord) -> ItemKey:
    """Return the key the API matches a valid record by.

    The key is `_id` when the item carries it or the record is a delete, else
    `sourceId`.
    """
    if mapped.deleted:
        return (ID_FIELD, str(mapped.ticket_id))
    return _item_key(mapped.item)


def _item_key(item: dict[str, Any]) -> ItemKey:
    if ID_FIELD in item:
        return (ID_FIELD, str(item[ID_FIELD]))
    return ("sourceId", str(item["sourceId"]))


def merge_items(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """Merge two items of one key as if sent in order.

    Fields of `later` win, and `custom` values merge by field name.
    """
    merged = {**earlier, **later}
    if isinstance(earlier.get("custom"), dict) and isinstance(
        later.get("custom"), dict
    ):
        merged["custom"] = {**earlier["custom"], **later["custom"]}
    return merged


def describe_record(mapped: MappedRecord, ordinal: int) -> str:
    """Name a record in messages by its sourceId, else its `_id`, else its position."""
    source_id = mapped.item.get("sourceId")
    if source_id is not None and str(source_id).strip():
        return f"sourceId {source_id!r}"
    if mapped.ticket_id is not None and str(mapped.ticket_id).strip():
        return f"_id {mapped.ticket_id!r}"
    return f"record {ordinal} (no sourceId)"
