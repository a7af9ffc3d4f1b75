"""GET /tickets: query parameters, filters, MongoDB-like sorting, paging, projection."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from planhat_sandbox.store import Ticket

#: Page size when the request has no ``limit``.
DEFAULT_LIMIT = 500
#: Largest page; a larger ``limit`` is lowered to this value without an error.
MAX_LIMIT = 10_000

_INTEGER = re.compile(r"[0-9]+")
#: Parameters whose repeated values are joined with commas, like one
#: comma-separated value. Any other parameter given twice is rejected.
_LIST_PARAMETERS = frozenset({"companyId", "select"})
_KNOWN_PARAMETERS = frozenset(
    {"limit", "offset", "sort", "select", "companyId", "status", "email", "search"}
)


class QueryError(ValueError):
    """Invalid query parameter; the server responds with 400 and this message."""


@dataclass(frozen=True)
class TicketQuery:
    """Parsed query parameters of ``GET /tickets``."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    #: Property path to sort on (dots reach into objects), without the ``-``.
    sort: str | None = None
    descending: bool = False
    #: Properties to return; ``_id`` is always returned. None returns all.
    select: tuple[str, ...] | None = None
    company_ids: frozenset[str] | None = None
    status: str | None = None
    email: str | None = None
    #: Case-insensitive substring of ``snippet``.
    search: str | None = None

    def view_key(self) -> tuple[Any, ...]:
        """Return the parts of the query that select and order the tickets."""
        return (
            self.sort,
            self.descending,
            self.company_ids,
            self.status,
            self.email,
            self.search,
        )


def parse_query(parameters: Mapping[str, Sequence[str]]) -> TicketQuery:
    """Parse the query parameters of ``GET /tickets``.

    Unknown parameters are ignored, as Planhat does not document an error for
    them. An empty filter value (``status=``) means no filter.

    Raises:
        QueryError: if ``limit`` or ``offset`` is not a non-negative integer,
            ``limit`` is 0, ``sort`` is only ``-``, or a parameter other than
            ``companyId`` and ``select`` is given more than once.

    """
    values: dict[str, str] = {}
    for name, raw_values in parameters.items():
        if name not in _KNOWN_PARAMETERS:
            continue
        if len(raw_values) > 1 and name not in _LIST_PARAMETERS:
            count = len(raw_values)
            message = f"query parameter {name!r} is given {count} times; send it once"
            raise QueryError(message)
        values[name] = ",".join(raw_values)

    limit = _parse_integer("limit", values.get("limit"), DEFAULT_LIMIT)
    if limit == 0:
        # NOTE: Planhat's response to limit=0 is unknown (MongoDB reads limit 0
        # as "no limit"), so the sandbox rejects it.
        raise QueryError("invalid limit '0': limit must be between 1 and 10000")
    offset = _parse_integer("offset", values.get("offset"), 0)

    sort_text = values.get("sort") or None
    descending = False
    if sort_text is not None and sort_text.startswith("-"):
        descending = True
        sort_text = sort_text[1:]
        if not sort_text:
            raise QueryError(
                "invalid sort '-': give a property name, e.g. sort=-updateDate"
            )

    return TicketQuery(
        limit=min(limit, MAX_LIMIT),
        offset=offset,
        sort=sort_text,
        descending=descending,
        select=_split_list(values.get("select")),
        company_ids=frozenset(ids)
        if (ids := _split_list(values.get("companyId")))
        else None,
        status=values.get("status") or None,
        email=values.get("email") or None,
        search=values.get("search") or None,
    )


def _parse_integer(name: str, text: str | None, default: int) -> int:
    if text is None:
        return default
    if not _INTEGER.fullmatch(text):
        raise QueryError(
            f"invalid {name} {text!r}: {name} must be a non-negative integer"
        )
    return int(text)


def _split_list(text: str | None) -> tuple[str, ...] | None:
    if not text:
        return None
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    return names or None


@dataclass(frozen=True)
class TicketView:
    """Tickets that match a query's filters, in the query's order.

    ``keys`` contains the sort key of each ticket, or is None for natural order.
    """

    tickets: list[Ticket]
    keys: list[tuple[Any, ...]] | None


def build_view(tickets: Iterable[Ticket], query: TicketQuery) -> TicketView:
    """Filter and sort ``tickets``, given in natural order, as ``query`` requests."""
    matches = _compile_filter(query)
    selected = (
        [ticket for ticket in tickets if matches(ticket)] if matches else list(tickets)
    )
    if query.sort is None:
        return TicketView(selected, None)

    path = query.sort.split(".")
    descending = query.descending
    keys = [sort_key(_lookup(ticket, path), descending) for ticket in selected]
    order = sorted(range(len(selected)), key=keys.__getitem__, reverse=descending)
    return TicketView([selected[i] for i in order], [keys[i] for i in order])


def _compile_filter(query: TicketQuery) -> Callable[[Ticket], bool] | None:
    checks: list[Callable[[Ticket], bool]] = []
    if query.company_ids is not None:
        company_ids = query.company_ids
        checks.append(lambda ticket: ticket.get("companyId") in company_ids)
    if query.status is not None:
        status = query.status
        checks.append(lambda ticket: ticket.get("status") == status)
    if query.email is not None:
        email = query.email
        checks.append(lambda ticket: ticket.get("email") == email)
    if query.search is not None:
        pattern = re.compile(re.escape(query.search), re.IGNORECASE)
        # Seeded tickets share description strings, so each distinct one is
        # searched once.
        found_in: dict[str, bool] = {}

        def snippet_contains(ticket: Ticket) -> bool:
            snippet = ticket.get("snippet")
            if not isinstance(snippet, str):
                return False
            found = found_in.get(snippet)
            if found is None:
                found = pattern.search(snippet) is not None
                found_in[snippet] = found
            return found

        checks.append(snippet_contains)
    if not checks:
        return None
    return lambda ticket: all(check(ticket) for check in checks)


def _lookup(ticket: Ticket, path: list[str]) -> Any:
    value: Any = ticket
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def sort_key(value: Any, descending: bool = False) -> tuple[Any, ...]:
    """Return a key that orders JSON values as MongoDB orders BSON types.

    Missing and null are equal and sort before numbers, then strings, objects,
    arrays and booleans. Strings compare by code point, which is MongoDB's
    byte order of UTF-8 without a collation. An array sorts by its smallest
    element ascending and its largest descending; an empty array sorts before
    null.
    """
    if value is None:
        return (2, 0)
    if isinstance(value, bool):
        return (9, value)
    if isinstance(value, (int, float)):
        return (3, value)
    if isinstance(value, str):
        return (4, value)
    if isinstance(value, dict):
        # NOTE: MongoDB compares objects field by field; comparing their JSON
        # text is close enough for fields that tickets contain.
        return (5, orjson.dumps(value))
    if isinstance(value, list):
        if not value:
            return (1, 0)
        element_keys = [sort_key(element, descending) for element in value]
        return max(element_keys) if descending else min(element_keys)
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def take_page(
    view: TicketView, offset: int, limit: int, rng: random.Random
) -> list[Ticket]:
    """Return one page of ``view``, reordering tickets with equal sort keys at random.

    MongoDB returns documents with equal sort values in no guaranteed order,
    and the order can differ between two requests. Each call therefore
    shuffles every run of equal keys that reaches into the page, including
    runs that cross the page's edges, so a run split over two pages can repeat
    or skip tickets as it can on Planhat. Only those runs are shuffled, which
    keeps the cost near the page size.
    """
    tickets = view.tickets
    total = len(tickets)
    start = offset
    end = min(total, offset + limit)
    if start >= end:
        return []

    keys = view.keys
    if keys is None:
        return tickets[start:end]

    # Widen the window to whole runs of equal keys.
    low = start
    while low > 0 and keys[low - 1] == keys[start]:
        low -= 1
    high = end
    while high < total and keys[high] == keys[end - 1]:
        high += 1

    window: list[Ticket] = []
    run_start = low
    for index in range(low + 1, high + 1):
        if index == high or keys[index] != keys[run_start]:
            run = tickets[run_start:index]
            if len(run) > 1:
                rng.shuffle(run)
            window.extend(run)
            run_start = index
    return window[start - low : end - low]


Projection = dict[str, Any]


def compile_projection(select: Sequence[str]) -> Projection:
    """Build a projection from property paths; ``_id`` is always included.

    ``custom.Logins`` keeps only that key of ``custom``, as a MongoDB
    projection does. A path under a property that is selected whole is
    ignored.
    """
    projection: Projection = {"_id": True}
    for name in select:
        node = projection
        parts = name.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if child is True:
                break
            node = child
        else:
            node[parts[-1]] = True
    return projection


def project(document: dict[str, Any], projection: Projection) -> dict[str, Any]:
    """Return the selected properties of ``document``, in the document's order."""
    projected: dict[str, Any] = {}
    for name, value in document.items():
        rule = projection.get(name)
        if rule is True:
            projected[name] = value
        elif rule is not None and isinstance(value, dict):
            projected[name] = project(value, rule)
    return projected
