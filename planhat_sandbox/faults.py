"""Fault and change injection: chosen failures and data changes on chosen requests.

A ``Fault`` names what to do (``kind``) and which API requests it hits. A
``FaultHook`` applies a list of faults through the sandbox's hook seam, so
tests, the command line (``planhat-sandbox serve --fault ...``) and the admin
route ``PUT /_sandbox/faults`` all inject the same faults.

Which requests a fault hits is deterministic. A request matches a fault when
its method, path and workspace match the fault's filters (an unset filter
matches anything) and, if ``requests`` is set, its sequence number is listed.
The fault then hits matching requests number ``first`` to
``first + times - 1``, counted from 1 among the matching requests only. With
``times`` None it hits every matching request from ``first`` on, which makes
a persistent fault.

Kinds:

- ``status``: respond with ``status`` (429, 500, 502, 503, ...) instead of
  handling the request; a 429 sends ``Retry-After: retry_after`` when set.
- ``delay``: wait ``seconds`` before handling the request. The request is
  still handled afterwards, as a slow server would, even when the client has
  timed out and gone.
- ``disconnect``: send the status line, the headers and half of the body,
  then close the connection (a connection closed mid-response).
- ``truncate``: send a complete response whose body is the first half of the
  JSON (a truncated JSON body with a matching ``Content-Length``).
- ``item_error``: reject items of a PUT with an entry in the result array
  ``array`` and ``message``; ``source_ids`` or ``indexes`` choose the items,
  and neither set rejects every item.
- ``change``: after the response to the request is built, ``update``,
  ``create`` or ``delete`` ``count`` tickets of the request's workspace (or
  of ``workspace``). ``pick`` chooses which: ``random`` (seeded by the
  workspace), ``lowest-id``, ``highest-id``, ``oldest`` or ``newest``
  (by ``updateDate``). For ``create``, ``lowest-id`` gives the new tickets
  ids below every existing id. So ``first: 3`` with ``method: GET`` changes
  the data after the third page and before the fourth.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from planhat_sandbox.hooks import Exchange, Reply, SandboxHook
from planhat_sandbox.workspace import Workspace

logger = logging.getLogger("planhat_sandbox.faults")

KINDS = ("status", "delay", "disconnect", "truncate", "item_error", "change")
CHANGE_ACTIONS = ("update", "create", "delete")
PICKS = ("random", "lowest-id", "highest-id", "oldest", "newest")
ERROR_ARRAYS = ("createdErrors", "updatedErrors", "permissionErrors", "validationErrors")

_REASONS = {
    429: "Too many requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class FaultSpecError(ValueError):
    """A fault description that is invalid; the message names the field."""


@dataclass(frozen=True)
class Fault:
    """One fault: what to do and which requests it hits (see the module docstring)."""

    kind: str
    method: str | None = None
    #: Exact request path without the query string, such as ``/tickets``.
    path: str | None = None
    #: Name of the workspace whose requests match; None matches every one.
    workspace: str | None = None
    #: Sequence numbers of the requests that may match (``Exchange.number``).
    requests: frozenset[int] | None = None
    first: int = 1
    times: int | None = 1
    status: int = 503
    #: Value of the ``Retry-After`` header of a ``status`` reply, if any.
    retry_after: str | None = None
    seconds: float = 0.0
    source_ids: frozenset[str] | None = None
    indexes: frozenset[int] | None = None
    array: str = "createdErrors"
    message: str = "rejected by an injected fault"
    action: str = "update"
    count: int = 1
    pick: str = "random"

    def __post_init__(self) -> None:
        """Check the fields that every kind shares and those of its kind.

        Raises:
            FaultSpecError: naming the invalid field and its allowed values.

        """
        if self.kind not in KINDS:
            raise FaultSpecError(
                f"invalid fault kind {self.kind!r}: use one of {', '.join(KINDS)}"
            )
        if self.first < 1:
            raise FaultSpecError(f"first must be 1 or more, got {self.first}")
        if self.times is not None and self.times < 1:
            raise FaultSpecError(
                f"times must be 1 or more, or null for every request, got {self.times}"
            )
        if self.kind == "status" and not 400 <= self.status <= 599:  # noqa: PLR2004
            raise FaultSpecError(f"status must be 400 to 599, got {self.status}")
        if self.seconds < 0:
            raise FaultSpecError(f"seconds must be 0 or more, got {self.seconds}")
        if self.array not in ERROR_ARRAYS:
            raise FaultSpecError(
                f"invalid array {self.array!r}: use one of {', '.join(ERROR_ARRAYS)}"
            )
        if self.action not in CHANGE_ACTIONS:
            raise FaultSpecError(
                f"invalid action {self.action!r}: use one of {', '.join(CHANGE_ACTIONS)}"
            )
        if self.pick not in PICKS:
            raise FaultSpecError(
                f"invalid pick {self.pick!r}: use one of {', '.join(PICKS)}"
            )
        if self.count < 0:
            raise FaultSpecError(f"count must be 0 or more, got {self.count}")

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Fault:
        """Build a fault from a JSON object with the field names of this class.

        Raises:
            FaultSpecError: for an unknown field or a value of the wrong type.

        """
        fields = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(spec) - set(fields))
        if unknown:
            raise FaultSpecError(
                f"unknown fault field {unknown[0]!r}: use {', '.join(fields)}"
            )
        if "kind" not in spec:
            raise FaultSpecError("a fault needs a 'kind'")
        values: dict[str, Any] = {}
        for name, value in spec.items():
            values[name] = _convert(name, value)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Return the fault as a JSON-ready dict: its filters that differ from the default, and its kind's fields."""
        result: dict[str, Any] = {"kind": self.kind}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            own = field.name in _KIND_FIELDS[self.kind]
            if field.name == "kind" or (not own and field.name not in _FILTER_FIELDS):
                continue
            if value is None and (own or field.name != "times"):
                continue
            if not own and value == field.default:
                continue
            result[field.name] = sorted(value) if isinstance(value, frozenset) else value
        return result

    def matches(self, exchange: Exchange) -> bool:
        """Return True if the request passes this fault's filters."""
        if self.method is not None and exchange.method != self.method.upper():
            return False
        if self.path is not None and exchange.path.rstrip("/") != self.path.rstrip("/"):
            return False
        if self.requests is not None and exchange.number not in self.requests:
            return False
        if self.workspace is None:
            return True
        return exchange.workspace is not None and exchange.workspace.name == self.workspace

    def hits(self, match_number: int) -> bool:
        """Return True if the fault hits the matching request with this 1-based number."""
        if match_number < self.first:
            return False
        return self.times is None or match_number < self.first + self.times


_FILTER_FIELDS = frozenset({"method", "path", "workspace", "requests", "first", "times"})
_KIND_FIELDS = {
    "status": ("status", "retry_after"),
    "delay": ("seconds",),
    "disconnect": (),
    "truncate": (),
    "item_error": ("source_ids", "indexes", "array", "message"),
    "change": ("action", "count", "pick"),
}
_INTEGER_FIELDS = frozenset({"first", "status", "count"})
_SET_FIELDS = {"requests": int, "indexes": int, "source_ids": str}


def _convert(name: str, value: Any) -> Any:
    if name in _SET_FIELDS:
        if value is None:
            return None
        element_type = _SET_FIELDS[name]
        if not isinstance(value, list) or not all(
            isinstance(element, element_type) and not isinstance(element, bool)
            for element in value
        ):
            raise FaultSpecError(
                f"{name} must be a list of {element_type.__name__} values, got {value!r}"
            )
        return frozenset(value)
    if name in _INTEGER_FIELDS or name == "times":
        if value is None and name == "times":
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise FaultSpecError(f"{name} must be an integer, got {value!r}")
        return value
    if name == "seconds":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FaultSpecError(f"seconds must be a number, got {value!r}")
        return float(value)
    if name == "retry_after":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise FaultSpecError(f"retry_after must be a number or text, got {value!r}")
        return str(value)
    if value is not None and not isinstance(value, str):
        raise FaultSpecError(f"{name} must be text, got {value!r}")
    return value


def parse_fault_text(text: str) -> Fault:
    """Parse a fault from a JSON object or from ``key=value,key=value`` text.

    In the short form, list values separate their elements with ``+``
    (``requests=3+4``), ``times=every`` means every request, and numbers are
    read as numbers: ``kind=status,status=503,method=GET,first=2,times=2``.

    Raises:
        FaultSpecError: if the text is neither form or describes an invalid fault.

    """
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            spec = json.loads(stripped)
        except json.JSONDecodeError as error:
            raise FaultSpecError(f"fault {text!r} is not valid JSON: {error}") from error
        return Fault.from_dict(spec)

    spec: dict[str, Any] = {}
    for part in stripped.split(","):
        name, equals, value = part.partition("=")
        name = name.strip()
        if not equals or not name:
            raise FaultSpecError(
                f"invalid fault {text!r}: expected key=value pairs separated by "
                "commas, such as kind=status,status=503,method=GET,first=2"
            )
        spec[name] = _short_value(name, value.strip())
    return Fault.from_dict(spec)


def _short_value(name: str, value: str) -> Any:
    if name in _SET_FIELDS:
        elements = [element for element in value.split("+") if element]
        if _SET_FIELDS[name] is int:
            return [_integer_text(name, element) for element in elements]
        return elements
    if name == "times" and value in {"every", "null"}:
        return None
    if name in _INTEGER_FIELDS or name == "times":
        return _integer_text(name, value)
    if name == "seconds":
        try:
            return float(value)
        except ValueError:
            raise FaultSpecError(f"seconds must be a number, got {value!r}") from None
    return value


def _integer_text(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise FaultSpecError(f"{name} must be an integer, got {value!r}") from None


def load_faults(source: Any) -> list[Fault]:
    """Build faults from parsed JSON: a list of fault objects or ``{"faults": [...]}``.

    Raises:
        FaultSpecError: naming the position of the invalid fault.

    """
    entries = source.get("faults") if isinstance(source, dict) else source
    if not isinstance(entries, list):
        raise FaultSpecError(
            'faults must be a JSON list of fault objects or {"faults": [...]}'
        )
    faults = []
    for position, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise FaultSpecError(f"fault {position} must be a JSON object, got {entry!r}")
        try:
            faults.append(Fault.from_dict(entry))
        except FaultSpecError as error:
            raise FaultSpecError(f"fault {position}: {error}") from error
    return faults


def load_fault_file(path: Path) -> list[Fault]:
    """Read faults from a JSON file (see ``load_faults``).

    Raises:
        FaultSpecError: if the file cannot be read or contains invalid faults.

    """
    try:
        source = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise FaultSpecError(f"cannot read fault file {path}: {error}") from error
    except json.JSONDecodeError as error:
        raise FaultSpecError(f"fault file {path} is not valid JSON: {error}") from error
    try:
        return load_faults(source)
    except FaultSpecError as error:
        raise FaultSpecError(f"fault file {path}: {error}") from error


@dataclass(frozen=True)
class AppliedFault:
    """A fault that hit a request, for tests and the admin route."""

    request: int
    method: str
    path: str
    fault: Fault


class FaultHook(SandboxHook):
    """Sandbox hook that applies a list of faults to the requests they hit.

    Assign it to ``Sandbox.hook``. ``applied`` lists every hit in order;
    ``close()`` ends the waits of pending ``delay`` faults early.
    """

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        """Create a hook with these faults, each with its own count of matching requests."""
        self.faults = list(faults)
        self.applied: list[AppliedFault] = []
        self._matched = [0] * len(self.faults)
        self._hits: dict[int, list[Fault]] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def close(self) -> None:
        """End every pending delay at once; later delays do not wait either."""
        self._closed.set()

    def hits_of(self, kind: str) -> list[AppliedFault]:
        """Return the applied faults of one kind."""
        with self._lock:
            return [applied for applied in self.applied if applied.fault.kind == kind]

    def describe(self) -> dict[str, Any]:
        """Return the faults, their matching counts and hits as JSON-ready data."""
        with self._lock:
            return {
                "faults": [
                    {**fault.to_dict(), "matched": matched}
                    for fault, matched in zip(self.faults, self._matched)
                ],
                "applied": [
                    {
                        "request": applied.request,
                        "method": applied.method,
                        "path": applied.path,
                        "kind": applied.fault.kind,
                    }
                    for applied in self.applied
                ],
            }

    def before_handling(self, exchange: Exchange) -> Reply | None:
        """Choose the faults that hit this request and apply status and delay faults."""
        hitting = self._select(exchange)
        for fault in hitting:
            if fault.kind == "delay":
                self._record(exchange, fault)
                self._closed.wait(fault.seconds)
            elif fault.kind == "status":
                self._record(exchange, fault)
                return _status_reply(fault)
        return None

    def before_sending(self, exchange: Exchange, reply: Reply) -> Reply:
        """Apply change, disconnect and truncate faults to the finished response."""
        with self._lock:
            hitting = self._hits.pop(exchange.number, [])
        for fault in hitting:
            if fault.kind == "change":
                self._record(exchange, fault)
                self._change(exchange, fault)
            elif fault.kind == "disconnect":
                self._record(exchange, fault)
                reply.content_length = len(reply.body)
                reply.body = reply.body[: len(reply.body) // 2]
                reply.close = True
            elif fault.kind == "truncate":
                self._record(exchange, fault)
                reply.body = reply.body[: len(reply.body) // 2]
                reply.content_length = None
        return reply

    def upsert_item_error(
        self, exchange: Exchange, index: int, item: dict[str, Any]
    ) -> tuple[str, str] | None:
        """Reject a PUT item that an ``item_error`` fault hitting this request chooses."""
        with self._lock:
            hitting = list(self._hits.get(exchange.number, []))
        for fault in hitting:
            if fault.kind != "item_error" or not _chooses_item(fault, index, item):
                continue
            self._record(exchange, fault)
            return fault.array, fault.message
        return None

    def _select(self, exchange: Exchange) -> list[Fault]:
        hitting = []
        with self._lock:
            for position, fault in enumerate(self.faults):
                if not fault.matches(exchange):
                    continue
                self._matched[position] += 1
                if fault.hits(self._matched[position]):
                    hitting.append(fault)
            # Every fault that acts later, in before_sending or per item, is
            # remembered by request number until the response goes out.
            if hitting:
                self._hits[exchange.number] = hitting
        return hitting

    def _record(self, exchange: Exchange, fault: Fault) -> None:
        with self._lock:
            self.applied.append(
                AppliedFault(exchange.number, exchange.method, exchange.path, fault)
            )
        logger.info(
            "fault %s hit request %d %s %s",
            fault.kind,
            exchange.number,
            exchange.method,
            exchange.path,
        )

    def _change(self, exchange: Exchange, fault: Fault) -> None:
        workspace = exchange.workspace
        if workspace is None or (
            fault.workspace is not None and workspace.name != fault.workspace
        ):
            logger.warning(
                "change fault on request %d skipped: the request has no matching workspace",
                exchange.number,
            )
            return
        apply_change(workspace, fault.action, fault.count, fault.pick)


def apply_change(workspace: Workspace, action: str, count: int, pick: str = "random") -> list[str]:
    """Update, create or delete ``count`` tickets of ``workspace``; return their ids.

    ``pick`` chooses the tickets as described in the module docstring.

    Raises:
        FaultSpecError: for an unknown action or pick.

    """
    if action not in CHANGE_ACTIONS:
        raise FaultSpecError(f"invalid action {action!r}: use one of {', '.join(CHANGE_ACTIONS)}")
    if pick not in PICKS:
        raise FaultSpecError(f"invalid pick {pick!r}: use one of {', '.join(PICKS)}")

    if action == "create":
        return workspace.create_random(count, below_existing_ids=pick == "lowest-id")
    if pick == "random":
        if action == "update":
            return workspace.update_random(count)
        return workspace.delete_random(count)

    chosen = _pick_ids(workspace, count, pick)
    if action == "update":
        workspace.update_tickets(chosen)
    else:
        for ticket_id in chosen:
            workspace.delete(ticket_id)
    return chosen


def _pick_ids(workspace: Workspace, count: int, pick: str) -> list[str]:
    tickets = workspace.tickets()
    if pick in {"lowest-id", "highest-id"}:
        ordered = sorted(ticket["_id"] for ticket in tickets)
    else:
        ordered = [
            ticket["_id"]
            for ticket in sorted(
                tickets, key=lambda ticket: (ticket.get("updateDate") or "", ticket["_id"])
            )
        ]
    if pick in {"highest-id", "newest"}:
        ordered.reverse()
    return ordered[:count]


def _chooses_item(fault: Fault, index: int, item: dict[str, Any]) -> bool:
    if fault.source_ids is None and fault.indexes is None:
        return True
    if fault.indexes is not None and index in fault.indexes:
        return True
    return fault.source_ids is not None and item.get("sourceId") in fault.source_ids


def _status_reply(fault: Fault) -> Reply:
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = fault.retry_after
    reason = _REASONS.get(fault.status, "Injected fault")
    if fault.status == 429:  # noqa: PLR2004
        # The sandbox's own 429 body is plain text, so the injected one is too.
        return Reply(
            status=429,
            body=reason.encode(),
            headers=headers,
            content_type="text/plain; charset=utf-8",
        )
    body = orjson.dumps({"error": reason, "message": "injected fault"})
    return Reply(status=fault.status, body=body, headers=headers)
