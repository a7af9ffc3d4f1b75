"""A shortcut through `map_record` and `find_problems` for records that are valid.

Most records of a load carry text in the string fields, lists of text in
`tags` and `domains`, and plain JSON in `history` and `custom`. For such a
record, `map_valid_record` builds the item in one pass over a plan of the
write fields, with one `type()` test per value, in place of the generic
conversion of every value and the separate checks of every field. It gives
up and returns None as soon as a value has another type, the record is a
delete, or a check could report a problem. The caller then takes the full
path, which builds the same item or names the problems.

For every record where it returns an item, that item equals
`map_record(record, ...).item`, key order included, so request bodies stay
byte for byte the same, and `find_problems` finds nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from target_planhat_tickets.mapping import (
    DELETED_AT_FIELD,
    ID_FIELD,
    READ_NAMES,
    SINGER_METADATA_PREFIX,
    WRITE_FIELDS,
    sent_fields,
    write_type,
)
from target_planhat_tickets.validation import (
    INT64_MIN,
    STRING_ARRAY_FIELDS,
    STRING_FIELDS,
    UINT64_MAX,
    is_object_id,
)

# Kinds of write fields, by the type that a valid value has.
_TEXT = "text"
_TEXT_LIST = "text list"
_HISTORY = "history"
_CUSTOM = "custom"
_WHOLE_NUMBER = "whole number"

_KIND_OF_FIELD = {
    **dict.fromkeys(STRING_FIELDS, _TEXT),
    **dict.fromkeys(STRING_ARRAY_FIELDS, _TEXT_LIST),
    "history": _HISTORY,
    "custom": _CUSTOM,
    "timeSpent": _WHOLE_NUMBER,
}
#: (write name, read name or None, kind) of each write field, in the order
#: in which `map_record` fills the item.
_FIELD_PLAN = tuple(
    (name, READ_NAMES.get(name), _KIND_OF_FIELD[name]) for name in WRITE_FIELDS
)
#: Types of values inside `history` and `custom` that are sent unchanged.
_KEPT_TYPES = frozenset({str, float, bool, type(None)})
#: Returned by `_plain_element` for a value that only the full path handles.
_NEEDS_FULL_PATH = object()


def map_valid_record(record: dict[str, Any], *, same_workspace: bool) -> dict | None:
    """Return the item of a valid record that is not a delete, or None.

    None means that the record needs the full path: `map_record` and
    `find_problems`. The item is a new dict, and its lists and objects are
    new too, as `to_json_value` makes them.
    """
    if record.get(DELETED_AT_FIELD) is not None:
        return None

    item = _take_write_fields(record)
    if item is None:
        return None

    ticket_type = write_type(record)
    if ticket_type is not None:
        if type(ticket_type) is not str:
            return None
        item["type"] = ticket_type

    ticket_id = record.get(ID_FIELD)
    if same_workspace and ticket_id is not None:
        if not is_object_id(ticket_id):
            return None
        item[ID_FIELD] = ticket_id
    elif not _is_filled(item.get("sourceId")):
        return None

    if not _is_filled(item.get("email")) or not _names_company(item):
        return None
    return item


class UnsentFieldCollector:
    """The names that `map_record` lists in `unsent_fields`, over many records.

    A name that was collected, is sent, or is Singer metadata is not looked
    at again, which spares most of the per-value work for records that
    share their fields.
    """

    def __init__(self, names: set[str], *, same_workspace: bool) -> None:
        """Collect into `names`. `same_workspace` is as for `map_record`."""
        self.names = names
        self._passed_over = set(sent_fields(same_workspace=same_workspace))

    def add(self, record: dict[str, Any]) -> None:
        """Add the unsent names of `record`."""
        for name in record.keys() - self._passed_over:
            if name.startswith(SINGER_METADATA_PREFIX):
                self._passed_over.add(name)
            elif record[name] is not None:
                self.names.add(name)
                self._passed_over.add(name)


def _take_write_fields(record: dict[str, Any]) -> dict[str, Any] | None:
    item: dict[str, Any] = {}
    get = record.get
    for name, read_name, kind in _FIELD_PLAN:
        value = get(name)
        if value is None and read_name is not None:
            value = get(read_name)
        if value is None:
            continue

        if kind is _TEXT:
            if type(value) is not str:
                return None
        elif kind is _TEXT_LIST:
            if type(value) is not list or not _all_text(value):
                return None
            value = list(value)
        elif kind is _WHOLE_NUMBER:
            if type(value) is not int or not INT64_MIN <= value <= UINT64_MAX:
                return None
        elif kind is _HISTORY:
            value = _plain_history(value)
            if value is None:
                return None
        else:
            value = _plain_object(value) if type(value) is dict else None
            if value is None:
                return None
        item[name] = value
    return item


def _plain_history(value: Any) -> list[dict[str, Any]] | None:
    if type(value) is not list:
        return None
    entries = []
    for entry in value:
        converted = _plain_object(entry) if type(entry) is dict else None
        if converted is None:
            return None
        entries.append(converted)
    return entries


def _plain_object(value: dict[Any, Any]) -> dict[str, Any] | None:
    """Copy a JSON object as `to_json_value` does, or return None.

    None means that the full path is needed: for an integer outside the
    64-bit range, which `find_problems` names, and for any type that a JSON
    parser does not give.
    """
    converted = {}
    for key, element in value.items():
        if type(key) is not str:
            return None
        element = _plain_element(element)
        if element is _NEEDS_FULL_PATH:
            return None
        converted[key] = element
    return converted


def _plain_array(value: list[Any]) -> list[Any] | None:
    converted = []
    for element in value:
        element = _plain_element(element)
        if element is _NEEDS_FULL_PATH:
            return None
        converted.append(element)
    return converted


def _plain_element(element: Any) -> Any:
    element_type = type(element)
    if element_type in _KEPT_TYPES:
        return element
    if element_type is int:
        return element if INT64_MIN <= element <= UINT64_MAX else _NEEDS_FULL_PATH
    if element_type is Decimal:
        return float(element)
    if element_type is dict:
        converted = _plain_object(element)
    elif element_type is list:
        converted = _plain_array(element)
    else:
        return _NEEDS_FULL_PATH
    return _NEEDS_FULL_PATH if converted is None else converted


def _all_text(values: list[Any]) -> bool:
    # A loop, because all() over a generator costs several times more for
    # the short lists of tags that records carry.
    for value in values:  # noqa: SIM110
        if type(value) is not str:
            return False
    return True


def _is_filled(text: str | None) -> bool:
    # Every value in the item is a str here, so this is `not _is_blank`.
    return text is not None and bool(text.strip())


def _names_company(item: dict[str, Any]) -> bool:
    if _is_filled(item.get("companyId")) or _is_filled(item.get("companyExternalId")):
        return True
    return any(domain.strip() for domain in item.get("domains") or ())
