"""Parsing of the PUT /tickets response into counts, rejects and silent losses.

The response is an object: `{created, createdErrors[], insertsKeys[], updated,
updatedErrors[], updatesKeys[], nonupdates, modified[], upsertedIds[],
permissionErrors[]}`, and newer API versions add `validationErrors[]`.
Planhat does not document the shape of one error entry, so an entry may be
an object or a string. This module looks for the key it names in both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: An item's upsert key: ("sourceId", value) or ("_id", value).
ItemKey = tuple[str, str]

ERROR_ARRAYS = (
    "createdErrors",
    "updatedErrors",
    "permissionErrors",
    "validationErrors",
)
KEY_LISTS = ("insertsKeys", "updatesKeys")
_MESSAGE_FIELDS = ("message", "error", "msg", "reason", "description")
_NESTED_ITEM_FIELDS = ("item", "data", "ticket")


class UnexpectedResponseError(ValueError):
    """A PUT /tickets response body that is not the bulk upsert result object."""


@dataclass(frozen=True)
class Reject:
    """One error entry of the response."""

    #: The key the entry names, or None when it names none.
    key: ItemKey | None
    message: str
    #: Name of the error array, such as "createdErrors".
    array: str


@dataclass
class UpsertOutcome:
    """The result of one bulk upsert, as far as its response shows it."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)
    #: Sent keys that the counts leave out and no error, created key or
    #: updated key names. The API dropped them without an error.
    lost_keys: list[ItemKey] = field(default_factory=list)
    #: Items the counts leave out that no key list identifies.
    lost_unnamed: int = 0
    #: Items the counts report beyond those sent; a sign of an API change.
    surplus: int = 0

    @property
    def lost(self) -> int:
        """Return the number of items dropped without an error."""
        return len(self.lost_keys) + self.lost_unnamed


@dataclass(frozen=True)
class Failure:
    """One item, or a group of unnamed items, that a bulk upsert did not load."""

    key: ItemKey | None
    #: Sentence for the log, such as "the API rejected sourceId 'A': ...".
    log_text: str
    #: Short form for the list in the run's error message.
    listed: str


def describe_failures(outcome: UpsertOutcome, sent: int) -> list[Failure]:
    """Describe the rejects and silent losses of one upsert of `sent` items."""
    failures = []
    for reject in outcome.rejects:
        label = describe_key(reject.key)
        detail = f"{reject.message} ({reject.array})"
        failures.append(
            Failure(
                reject.key, f"the API rejected {label}: {detail}", f"{label}: {detail}"
            )
        )
    for key in outcome.lost_keys:
        label = describe_key(key)
        failures.append(
            Failure(
                key,
                f"the API dropped {label} without an error",
                f"{label}: dropped without an error",
            )
        )
    if outcome.lost_unnamed:
        lost = outcome.lost_unnamed
        failures.append(
            Failure(
                None,
                f"the API dropped {lost} items without an error: its response "
                f"accounts for {sent - lost} of the {sent} items sent, and names none "
                "of the others",
                f"{lost} items the API did not name: dropped without an error",
            ),
        )
    return failures


def describe_key(key: ItemKey | None) -> str:
    """Name an item key in messages, such as "sourceId 'ZD-12'"."""
    if key is None:
        return "an item the API did not name"
    return f"{key[0]} {key[1]!r}"


def parse_upsert_response(data: Any, sent_keys: Sequence[ItemKey]) -> UpsertOutcome:
    """Parse a bulk upsert response for the items sent with `sent_keys`, in order.

    Raises:
        UnexpectedResponseError: if `data` is not a JSON object.

    """
    if not isinstance(data, dict):
        msg = (
            f"PUT /tickets returned a JSON {_json_type(data)}, not the bulk upsert "
            "result object. Check that api_url points at the Planhat API."
        )
        raise UnexpectedResponseError(msg)

    outcome = UpsertOutcome(
        created=_count(data, "created"),
        updated=_count(data, "updated"),
        unchanged=_count(data, "nonupdates"),
    )
    outcome.rejects = _rejects(data, sent_keys)
    _find_lost(outcome, data, sent_keys)
    return outcome


def _count(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return value


def _rejects(data: dict[str, Any], sent_keys: Sequence[ItemKey]) -> list[Reject]:
    sent = set(sent_keys)
    rejects: list[Reject] = []
    named: set[ItemKey] = set()
    for array in ERROR_ARRAYS:
        entries = data.get(array)
        if not isinstance(entries, list):
            continue
        for entry in entries:
            reject = _reject_from_entry(entry, array, sent)
            # An item named in two arrays is still one rejected item.
            if reject.key is not None and reject.key in named:
                continue
            if reject.key is not None:
                named.add(reject.key)
            rejects.append(reject)
    return rejects


def _reject_from_entry(entry: Any, array: str, sent: set[ItemKey]) -> Reject:
    if isinstance(entry, dict):
        return Reject(_key_in_object(entry, sent), _message_of(entry), array)
    if isinstance(entry, str):
        return Reject(_key_in_text(entry, sent), entry, array)
    return Reject(None, json.dumps(entry, default=str), array)


def _key_in_object(entry: dict[str, Any], sent: set[ItemKey]) -> ItemKey | None:
    candidates = list(_keys_of(entry))
    for name in _NESTED_ITEM_FIELDS:
        nested = entry.get(name)
        if isinstance(nested, dict):
            candidates.extend(_keys_of(nested))
    for key in candidates:
        if key in sent:
            return key
    return candidates[0] if candidates else None


def _keys_of(entry: dict[str, Any]) -> Iterable[ItemKey]:
    """Yield the keys an object names; `externalId` is the read name of `sourceId`."""
    for name, key_name in (
        ("_id", "_id"),
        ("sourceId", "sourceId"),
        ("externalId", "sourceId"),
    ):
        value = entry.get(name)
        if isinstance(value, str) and value:
            yield (key_name, value)


def _key_in_text(text: str, sent: set[ItemKey]) -> ItemKey | None:
    """Return the sent key whose value occurs in `text` as a whole token.

    Longer values are tried first, so that "ZD-12" wins over "ZD-1".
    """
    for key in sorted(sent, key=lambda candidate: len(candidate[1]), reverse=True):
        pattern = rf"(?<![\w-]){re.escape(key[1])}(?![\w-])"
        if re.search(pattern, text):
            return key
    return None


def _message_of(entry: dict[str, Any]) -> str:
    for name in _MESSAGE_FIELDS:
        value = entry.get(name)
        if isinstance(value, str) and value:
            return value
    return json.dumps(entry, default=str, sort_keys=True)


def _find_lost(
    outcome: UpsertOutcome, data: dict[str, Any], sent_keys: Sequence[ItemKey]
) -> None:
    accounted = (
        outcome.created + outcome.updated + outcome.unchanged + len(outcome.rejects)
    )
    missing = len(sent_keys) - accounted
    if missing < 0:
        outcome.surplus = -missing
        return
    if missing == 0:
        return

    acknowledged = {reject.key for reject in outcome.rejects if reject.key is not None}
    for name in KEY_LISTS:
        entries = data.get(name)
        if isinstance(entries, list):
            for entry in entries:
                if isinstance(entry, dict):
                    acknowledged.update(_keys_of(entry))
    unacknowledged = [key for key in sent_keys if key not in acknowledged]
    # Name the lost items only when the key lists agree with the counts;
    # otherwise any guess could blame the wrong tickets.
    if len(unacknowledged) == missing:
        outcome.lost_keys = unacknowledged
    else:
        outcome.lost_unnamed = missing


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    return type(value).__name__
