"""PUT /tickets: the bulk upsert rules of the Planhat API."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from planhat_sandbox.formats import (
    ObjectIdGenerator,
    epoch_days,
    format_date,
    time_bucket,
)
from planhat_sandbox.store import Company, Ticket, TicketStore

#: Largest number of items in one request, as documented by Planhat.
MAX_ITEMS = 5_000

#: Write names that read back under another name. ``type`` is stored in
#: ``subType`` because a read ``type`` is always "ticket"; Planhat does not
#: document where the written type goes, and its example reads back
#: ``subType: "ticket"`` for a ticket written with ``type: "ticket"``.
READ_NAMES = {
    "title": "subject",
    "description": "snippet",
    "sourceId": "externalId",
    "type": "subType",
}
#: Properties the server sets; written values are ignored.
SERVER_PROPERTIES = frozenset({"_id", "createDate", "updateDate", "companyName"})

_OBJECT_ID = re.compile(r"[0-9a-f]{24}")
_STRING_FIELDS = (
    "sourceId", "email", "companyId", "companyExternalId", "source", "title",
    "description", "url", "type", "severity", "product", "status",
)  # fmt: skip
_STRING_LIST_FIELDS = ("tags", "domains")

#: Callback that may reject one item with an error: it returns the name of a
#: result array (e.g. ``"updatedErrors"``) and a message, or None.
ItemErrorHook = Callable[[int, dict[str, Any]], "tuple[str, str] | None"]


class BadPayload(ValueError):
    """Request body that Planhat rejects as a whole with 400."""


@dataclass
class UpsertResult:
    """Outcome of one bulk upsert, serialised with the Planhat API's names."""

    created: int = 0
    created_errors: list[dict[str, Any]] = field(default_factory=list)
    inserts_keys: list[dict[str, Any]] = field(default_factory=list)
    updated: int = 0
    updated_errors: list[dict[str, Any]] = field(default_factory=list)
    updates_keys: list[dict[str, Any]] = field(default_factory=list)
    nonupdates: int = 0
    modified: list[str] = field(default_factory=list)
    upserted_ids: list[str] = field(default_factory=list)
    permission_errors: list[dict[str, Any]] = field(default_factory=list)
    validation_errors: list[dict[str, Any]] = field(default_factory=list)
    #: Whether the workspace is read-only; the status is then 403 even when
    #: no item was left to reject.
    forbidden: bool = False

    @property
    def status(self) -> int:
        """Return the HTTP status: 403 if read-only, 206 for other errors, else 200."""
        if self.forbidden or self.permission_errors:
            return 403
        if self.created_errors or self.updated_errors or self.validation_errors:
            return 206
        return 200

    def to_dict(self) -> dict[str, Any]:
        """Return the response body with Planhat's property names."""
        return {
            "created": self.created,
            "createdErrors": self.created_errors,
            "insertsKeys": self.inserts_keys,
            "updated": self.updated,
            "updatedErrors": self.updated_errors,
            "updatesKeys": self.updates_keys,
            "nonupdates": self.nonupdates,
            "modified": self.modified,
            "upsertedIds": self.upserted_ids,
            "permissionErrors": self.permission_errors,
            "validationErrors": self.validation_errors,
        }

    def error_list(self, name: str) -> list[dict[str, Any]]:
        """Return the error array named ``name``, e.g. ``"createdErrors"``."""
        lists = {
            "createdErrors": self.created_errors,
            "updatedErrors": self.updated_errors,
            "permissionErrors": self.permission_errors,
            "validationErrors": self.validation_errors,
        }
        if name not in lists:
            raise ValueError(
                f"unknown error array {name!r}; expected one of {sorted(lists)}"
            )
        return lists[name]


def check_payload(payload: Any) -> list[dict[str, Any]]:
    """Return the items of a PUT body after the checks that Planhat enforces with 400.

    Raises:
        BadPayload: if the body is not an array, has more than 5,000 items, has
            an item that is not an object or has neither ``_id`` nor
            ``sourceId``, or has two items with the same key. The key of an
            item is its ``_id`` when present, else its ``sourceId``.

    """
    # NOTE: Planhat may drop items without email before these checks. The
    # sandbox checks every item, which is the stricter of the two choices.
    if not isinstance(payload, list):
        raise BadPayload(
            f"request body must be a JSON array of tickets, got {_json_type(payload)}"
        )
    if len(payload) > MAX_ITEMS:
        raise BadPayload(
            f"too many items: {len(payload)}; send at most {MAX_ITEMS} per request"
        )

    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(payload):
        if not isinstance(item, dict):
            raise BadPayload(
                f"item {index} must be a JSON object, got {_json_type(item)}"
            )
        key = item_key(item)
        if key is None:
            raise BadPayload(
                f"item {index} has neither _id nor sourceId; every item needs a key"
            )
        marker = (key[0], repr(key[1]))
        if marker in seen:
            raise BadPayload(
                f"item {index} repeats {key[0]} {key[1]!r}; keys must be unique"
            )
        seen.add(marker)
    return payload


def item_key(item: dict[str, Any]) -> tuple[str, Any] | None:
    """Return an item's key: ``("_id", value)``, ``("sourceId", value)`` or None."""
    for name in ("_id", "sourceId"):
        value = item.get(name)
        if value is not None and value != "":
            return (name, value)
    return None


def has_email(item: dict[str, Any]) -> bool:
    """Return whether an item has an email; Planhat drops items without one silently."""
    email = item.get("email")
    return email is not None and email != ""


def bulk_upsert(
    store: TicketStore,
    items: list[dict[str, Any]],
    *,
    now_ms: int,
    ids: ObjectIdGenerator,
    read_only: bool = False,
    item_error: ItemErrorHook | None = None,
) -> UpsertResult:
    """Create or update tickets from checked items (see ``check_payload``).

    Items without ``email`` are dropped without a trace. In a read-only
    workspace every other item goes into ``permissionErrors``. Otherwise an
    item matches by ``_id``, then by ``sourceId`` against ``externalId``; a
    match is updated and anything else is created. All tickets that one
    request touches get the same ``updateDate``.
    """
    result = UpsertResult(forbidden=read_only)
    for index, item in enumerate(items):
        if not has_email(item):
            continue
        key_name, key_value = item_key(item) or ("sourceId", None)

        if read_only:
            result.permission_errors.append(
                _error(
                    key_name,
                    key_value,
                    "the API token has no permission to write tickets",
                )
            )
            continue
        problem = _validate(item)
        if problem is not None:
            result.validation_errors.append(_error(key_name, key_value, problem))
            continue
        if item_error is not None:
            injected = item_error(index, item)
            if injected is not None:
                result.error_list(injected[0]).append(
                    _error(key_name, key_value, injected[1])
                )
                continue

        if key_name == "_id":
            existing = store.get(key_value)
            if existing is None:
                message = f"no ticket with _id {key_value} in this workspace"
                result.updated_errors.append(_error("_id", key_value, message))
                continue
        else:
            existing = store.find_by_external_id(key_value)

        if existing is None:
            _create(store, item, now_ms, ids, result)
        else:
            _update(store, existing, item, now_ms, result)
    return result


def _create(
    store: TicketStore,
    item: dict[str, Any],
    now_ms: int,
    ids: ObjectIdGenerator,
    result: UpsertResult,
) -> None:
    source_id = item["sourceId"]
    company, problem = _resolve_company(store, item)
    if company is None:
        result.created_errors.append(_error("sourceId", source_id, problem))
        return

    now = format_date(now_ms)
    ticket: Ticket = {"_id": ids.generate(now_ms), "type": "ticket"}
    _apply_fields(ticket, item)
    ticket.update(
        {
            "createDate": now,
            "updateDate": now,
            "date": ticket.get("date", now),
            "days": epoch_days(now_ms),
            "timeBucket": time_bucket(now_ms),
            "companyId": company["_id"],
            "companyName": company["name"],
            "inDate": now,
        }
    )
    for name, default in _CREATE_DEFAULTS:
        ticket.setdefault(
            name, list(default) if isinstance(default, tuple) else default
        )
    store.insert(ticket)

    result.created += 1
    result.inserts_keys.append({"_id": ticket["_id"], "sourceId": source_id})
    result.upserted_ids.append(ticket["_id"])


#: Read-shape properties that a created ticket has even when not written;
#: values follow the vendor's example ticket. Tuples become new lists.
_CREATE_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("endusers", ()), ("custom", {}), ("starred", False), ("pinned", False),
    ("activityTags", ()), ("emailTemplateIds", ()), ("isOpen", False), ("tags", ()),
    ("waitsToBeFiltered", True), ("archived", False), ("users", ()), ("sender", ()),
)  # fmt: skip


def _update(
    store: TicketStore,
    existing: Ticket,
    item: dict[str, Any],
    now_ms: int,
    result: UpsertResult,
) -> None:
    key_name, key_value = item_key(item) or ("_id", existing["_id"])
    ticket = dict(existing)
    _apply_fields(ticket, item)

    if any(item.get(name) for name in ("companyId", "companyExternalId", "domains")):
        company, problem = _resolve_company(store, item)
        if company is None:
            result.updated_errors.append(_error(key_name, key_value, problem))
            return
        ticket["companyId"] = company["_id"]
        ticket["companyName"] = company["name"]

    changed = ticket != existing
    # Planhat sets updateDate on every update call, even one that changes nothing.
    ticket["updateDate"] = format_date(now_ms)
    store.replace(ticket)

    result.updates_keys.append(
        {"_id": ticket["_id"], "sourceId": ticket.get("externalId")}
    )
    if changed:
        result.updated += 1
        result.modified.append(ticket["_id"])
    else:
        result.nonupdates += 1


def _apply_fields(ticket: Ticket, item: dict[str, Any]) -> None:
    for name, value in item.items():
        if name in SERVER_PROPERTIES:
            continue
        if name == "custom":
            if value is not None:
                ticket["custom"] = {**(ticket.get("custom") or {}), **value}
            continue
        ticket[READ_NAMES.get(name, name)] = value


def _resolve_company(
    store: TicketStore, item: dict[str, Any]
) -> tuple[Company | None, str]:
    """Find an item's company and return it with the message to use if it is None.

    The first given of companyId, companyExternalId and domains decides.
    """
    company_id = item.get("companyId")
    if company_id:
        company = store.company_by_id(company_id)
        return company, f"no company with companyId {company_id} in this workspace"
    external_id = item.get("companyExternalId")
    if external_id:
        company = store.company_by_external_id(external_id)
        return (
            company,
            f"no company with externalId {external_id!r} (companyExternalId)",
        )
    domains = item.get("domains")
    if domains:
        company = store.company_by_domains(domains)
        return company, f"no company has any of the domains {domains}"
    return (
        None,
        "creating a ticket needs companyId, companyExternalId "
        "or a non-empty domains array",
    )


def _validate(item: dict[str, Any]) -> str | None:
    """Return a message for the first property with a wrong JSON type, or None."""
    ticket_id = item.get("_id")
    if (
        ticket_id is not None
        and ticket_id != ""
        and not (isinstance(ticket_id, str) and _OBJECT_ID.fullmatch(ticket_id))
    ):
        return f"_id must be a 24-character lowercase hex ObjectId, got {ticket_id!r}"

    for name in _STRING_FIELDS:
        value = item.get(name)
        if value is not None and not isinstance(value, str):
            return f"{name} must be a string, got {_json_type(value)}"

    for name in _STRING_LIST_FIELDS:
        value = item.get(name)
        if value is not None and not (
            isinstance(value, list)
            and all(isinstance(element, str) for element in value)
        ):
            return f"{name} must be an array of strings"

    history = item.get("history")
    if history is not None and not (
        isinstance(history, list) and all(isinstance(entry, dict) for entry in history)
    ):
        return (
            'history must be an array of objects such as {"status": ..., "time": ...}'
        )

    time_spent = item.get("timeSpent")
    if time_spent is not None and (
        isinstance(time_spent, bool) or not isinstance(time_spent, int)
    ):
        return f"timeSpent must be an integer number of minutes, got {time_spent!r}"

    custom = item.get("custom")
    if custom is not None and not isinstance(custom, dict):
        return f"custom must be an object, got {_json_type(custom)}"

    return None


def _error(key_name: str, key_value: Any, message: str) -> dict[str, Any]:
    return {key_name: key_value, "message": message}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
