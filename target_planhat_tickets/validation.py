"""Checks of a mapped record before anything is sent for it.

The API drops an item without `email` silently and rejects a whole request
with HTTP 400 when one item lacks a key, so both are caught here. Wrong JSON
types are caught too, so that the message can name the field and the fix
instead of the API's error entry.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import jsonschema
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks.core import BaseJSONSchemaValidator

from target_planhat_tickets.mapping import ID_FIELD, MappedRecord

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

#: Planhat ids are MongoDB ObjectIds: 24 lowercase hexadecimal characters.
_OBJECT_ID = re.compile(r"[0-9a-f]{24}")

#: Fields of the item whose value must be a string.
STRING_FIELDS = (
    "sourceId",
    "email",
    "companyId",
    "companyExternalId",
    "source",
    "title",
    "description",
    "url",
    "type",
    "severity",
    "product",
    "status",
    "name",
    "agentEmail",
)
#: Fields of the item whose value must be an array of strings.
STRING_ARRAY_FIELDS = ("tags", "domains")
_COMPANY_FIELDS = "companyId, companyExternalId or a non-empty domains array"
# orjson, the client's JSON encoder, raises on integers outside this range.
INT64_MIN = -(2**63)
UINT64_MAX = 2**64 - 1


def find_problems(mapped: MappedRecord, *, same_workspace: bool) -> list[str]:
    """Return the problems of a mapped record, one sentence each; empty if valid."""
    if mapped.deleted:
        return _delete_problems(mapped)

    item = mapped.item
    problems = _key_problems(item, same_workspace=same_workspace)
    if _is_blank(item.get("email")):
        problems.append("email is missing or empty, and Planhat drops such tickets")
    if not _has_company(item):
        problems.append(f"the company is missing: set {_COMPANY_FIELDS}")
    problems.extend(_type_problems(item))
    return problems


def _delete_problems(mapped: MappedRecord) -> list[str]:
    ticket_id = mapped.ticket_id
    if _is_blank(ticket_id):
        return ["_id is missing, and deleting a ticket needs its Planhat _id"]
    if not is_object_id(ticket_id):
        return [f"_id {ticket_id!r} is not a Planhat id (24 hexadecimal characters)"]
    return []


def _key_problems(item: dict[str, Any], *, same_workspace: bool) -> list[str]:
    if ID_FIELD in item:
        if not is_object_id(item[ID_FIELD]):
            return [
                f"_id {item[ID_FIELD]!r} is not a Planhat id "
                "(24 hexadecimal characters)"
            ]
        return []
    if not _is_blank(item.get("sourceId")):
        return []
    if same_workspace:
        return ["sourceId (or externalId) and _id are both missing or empty"]
    return ["sourceId (or externalId) is missing or empty"]


def _has_company(item: dict[str, Any]) -> bool:
    if not _is_blank(item.get("companyId")) or not _is_blank(
        item.get("companyExternalId")
    ):
        return True
    domains = item.get("domains")
    return isinstance(domains, list) and any(
        not _is_blank(domain) for domain in domains
    )


def _type_problems(item: dict[str, Any]) -> list[str]:
    problems = [
        f"{name} must be a string, got {_describe(item[name])}"
        for name in STRING_FIELDS
        if name in item and not isinstance(item[name], str)
    ]
    problems.extend(
        f"{name} must be an array of strings, got {_describe(item[name])}"
        for name in STRING_ARRAY_FIELDS
        if name in item and not _is_string_array(item[name])
    )
    history = item.get("history")
    if history is not None and not (
        isinstance(history, list) and all(isinstance(entry, dict) for entry in history)
    ):
        problems.append(
            f"history must be an array of objects such as "
            f'{{"status": "open", "time": "..."}}, got {_describe(history)}'
        )
    time_spent = item.get("timeSpent")
    if time_spent is not None and (
        isinstance(time_spent, bool) or not isinstance(time_spent, int)
    ):
        problems.append(
            f"timeSpent must be a whole number of minutes, got {_describe(time_spent)}"
        )
    custom = item.get("custom")
    if custom is not None and not isinstance(custom, dict):
        problems.append(f"custom must be an object, got {_describe(custom)}")
    problems.extend(
        f"{name} contains the integer {number}, outside the 64-bit range that the JSON "
        "encoder writes; send it as a string instead"
        for name, value in item.items()
        for number in _oversized_integers(value)
    )
    return problems


def _oversized_integers(value: Any) -> list[int]:
    found: list[int] = []
    _collect_oversized_integers(value, found)
    return found


def _collect_oversized_integers(value: Any, found: list[int]) -> None:
    # This runs for every value of every record, so strings, the most
    # common values, are passed over first.
    if type(value) is str:
        return
    if isinstance(value, dict):
        for element in value.values():
            _collect_oversized_integers(element, found)
    elif isinstance(value, list):
        for element in value:
            _collect_oversized_integers(element, found)
    elif isinstance(value, int) and not INT64_MIN <= value <= UINT64_MAX:
        found.append(value)


def _is_blank(value: Any) -> bool:
    # A value of a wrong type is not blank: the type checks name it instead.
    return value is None or (isinstance(value, str) and not value.strip())


def is_object_id(value: Any) -> bool:
    """Return whether `value` is a Planhat id: 24 lowercase hexadecimal characters."""
    return isinstance(value, str) and _OBJECT_ID.fullmatch(value) is not None


def _is_string_array(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(element, str) for element in value
    )


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = f"{text[:57]}..."
    return f"{text} ({type(value).__name__})"


class StreamSchemaValidator(BaseJSONSchemaValidator):
    """The SDK's check of a record against its stream's SCHEMA, with a clearer message.

    The SDK's own message names neither the stream, the record nor the field.
    """

    def __init__(
        self,
        inner: BaseJSONSchemaValidator,
        stream_name: str,
        describe: Callable[[dict[str, Any]], str],
    ) -> None:
        """Wrap `inner`; `describe` names a record in messages."""
        super().__init__(inner.schema)
        self._inner = inner
        self._stream_name = stream_name
        self._describe = describe

    @override
    def validate(self, record: dict[str, Any]) -> None:
        try:
            self._inner.validate(record)
        except InvalidRecord as exc:
            msg = (
                f"Stream '{self._stream_name}': record {self._describe(record)} does "
                f"not match the stream's SCHEMA message: {_field_of(exc)}"
                f"{exc.error_message}. Fix the tap's schema or the stream map that "
                "builds this field. Stream map expressions other than str(), int(), "
                "float() and bool() are typed as strings, so a map that builds a list "
                "or an object needs validate_records set to false; the target still "
                "checks the types of the fields it sends."
            )
            raise InvalidRecord(msg, record) from exc


def _field_of(error: InvalidRecord) -> str:
    cause = error.__cause__
    if isinstance(cause, jsonschema.ValidationError) and cause.absolute_path:
        return f"field {'.'.join(str(part) for part in cause.absolute_path)}: "
    return ""
