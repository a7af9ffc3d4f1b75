"""Mapping of one record, in the read or the write shape, to an item of PUT /tickets.

Planhat writes and reads some fields under different names: `title` reads
back as `subject`, `description` as `snippet` and `sourceId` as `externalId`.
A record may use either name; the write name wins when both are set.

Fields outside the write model (read-only fields such as `createDate` or
`companyName`, the tap's `unlistedFields`, or any column of a foreign
stream) are never sent. The sink names them once per stream in its log.
Singer metadata fields (`_sdc_*`) are never sent and never named.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ID_FIELD = "_id"
DELETED_AT_FIELD = "_sdc_deleted_at"
SINGER_METADATA_PREFIX = "_sdc_"

#: Fields of the bulk upsert that the target sends, besides `_id`.
WRITE_FIELDS = (
    "sourceId",
    "email",
    "companyId",
    "companyExternalId",
    "domains",
    "source",
    "title",
    "description",
    "url",
    "tags",
    "type",
    "severity",
    "product",
    "timeSpent",
    "status",
    "history",
    "name",
    "agentEmail",
    "custom",
)

#: Read name of each write name; the read name fills a missing write name.
READ_NAMES = {"title": "subject", "description": "snippet", "sourceId": "externalId"}

#: On read, `type` is always this value, and a written type reads back as
#: `subType` (in the vendor's example and in the local sandbox).
READ_TYPE = "ticket"
SUB_TYPE_FIELD = "subType"

_CONSUMED_READ_FIELDS = frozenset({*READ_NAMES.values(), SUB_TYPE_FIELD})
#: Fields that are sent or consumed, without and with `same_workspace`.
_SENT_FIELDS = frozenset({*WRITE_FIELDS, *_CONSUMED_READ_FIELDS})
_SENT_FIELDS_SAME_WORKSPACE = _SENT_FIELDS | {ID_FIELD}
#: Types that `to_json_value` returns unchanged. Checked with `type()`, not
#: `isinstance`, because this runs for every value of every record.
_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


@dataclass(frozen=True)
class MappedRecord:
    """One record mapped to the write model."""

    #: Write-model fields with JSON-ready values; null and missing fields
    #: are left out, so a partial record never clears a stored value.
    item: dict[str, Any]
    #: The record's Planhat `_id`, whether or not it goes into `item`.
    ticket_id: Any
    #: True when `_sdc_deleted_at` is set, which requests a delete.
    deleted: bool
    #: Names of non-null fields that are not sent.
    unsent_fields: frozenset[str]


def map_record(record: dict[str, Any], *, same_workspace: bool) -> MappedRecord:
    """Map a record in either shape to the write model.

    `_id` goes into the item only when `same_workspace` is true, because an
    `_id` from another workspace would match the wrong ticket or none.
    """
    item: dict[str, Any] = {}
    for name in WRITE_FIELDS:
        value = record.get(name)
        if value is None and name in READ_NAMES:
            value = record.get(READ_NAMES[name])
        if value is not None:
            item[name] = to_json_value(value)

    ticket_type = write_type(record)
    if ticket_type is not None:
        item["type"] = to_json_value(ticket_type)

    if "timeSpent" in item:
        item["timeSpent"] = _whole_number_as_int(item["timeSpent"])

    ticket_id = record.get(ID_FIELD)
    if same_workspace and ticket_id is not None:
        item[ID_FIELD] = ticket_id

    return MappedRecord(
        item=item,
        ticket_id=ticket_id,
        deleted=record.get(DELETED_AT_FIELD) is not None,
        unsent_fields=_unsent_fields(record, same_workspace=same_workspace),
    )


def write_type(record: dict[str, Any]) -> Any:
    """Return the `type` to write; a read-shape `subType` replaces the read `type`.

    Without this, writing back a ticket read with `type` "ticket" and
    `subType` "bug" would overwrite its label with "ticket".
    """
    # NOTE: Planhat does not document where a written `type` is stored; the
    # vendor's example and the local sandbox read it back as `subType`.
    ticket_type = record.get("type")
    sub_type = record.get(SUB_TYPE_FIELD)
    # Compared with == rather than looked up in a set, so that a `type` of a
    # wrong type such as a list reaches the type check instead of raising.
    if sub_type is not None and (ticket_type is None or ticket_type == READ_TYPE):
        return sub_type
    return ticket_type


def sent_fields(*, same_workspace: bool) -> frozenset[str]:
    """Return the names of the fields that are sent or consumed by the mapping."""
    return _SENT_FIELDS_SAME_WORKSPACE if same_workspace else _SENT_FIELDS


def _unsent_fields(record: dict[str, Any], *, same_workspace: bool) -> frozenset[str]:
    sent = sent_fields(same_workspace=same_workspace)
    return frozenset(
        name
        for name, value in record.items()
        if value is not None
        and name not in sent
        and not name.startswith(SINGER_METADATA_PREFIX)
    )


def _whole_number_as_int(value: Any) -> Any:
    # A JSON number written as 15.0 reaches the target as a float; the API
    # takes timeSpent only as an integer.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def to_json_value(value: Any) -> Any:
    """Convert SDK-parsed values back to JSON-ready ones, recursively.

    The SDK parses JSON numbers with a fraction or exponent as `Decimal` and
    top-level `date-time` fields as `datetime`. Decimals become floats,
    which the client's JSON encoder writes as numbers. Integers stay
    integers. Datetimes become UTC ISO-8601 with milliseconds, like
    2021-06-24T19:38:16.000Z, the API's format, and a naive datetime is taken
    as UTC.
    """
    if type(value) in _JSON_SCALARS:
        return value
    if isinstance(value, dict):
        return {
            key if type(key) is str else str(key): element
            if type(element) in _JSON_SCALARS
            else to_json_value(element)
            for key, element in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [
            element if type(element) in _JSON_SCALARS else to_json_value(element)
            for element in value
        ]
    if isinstance(value, Decimal):
        # NOTE: a decimal with more than 15 significant digits may lose
        # precision here, because a float is a 64-bit binary number.
        return float(value)
    if isinstance(value, datetime.datetime):
        return format_timestamp(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return value


def format_timestamp(moment: datetime.datetime) -> str:
    """Format as UTC ISO-8601 with milliseconds; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    utc = moment.astimezone(datetime.timezone.utc)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"
