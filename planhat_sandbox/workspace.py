"""A Planhat workspace: its tickets, settings and the changes tests make to it."""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

import orjson

from planhat_sandbox.formats import ObjectIdGenerator, format_date
from planhat_sandbox.query import (
    TicketQuery,
    TicketView,
    build_view,
    compile_projection,
    project,
    take_page,
)
from planhat_sandbox.ratelimit import RateDecision, RateLimit, RateLimiter
from planhat_sandbox.seed import (
    TicketFactory,
    default_company_count,
    generate_companies,
    generate_tickets,
    paused_garbage_collection,
    pick_new_status,
)
from planhat_sandbox.store import Company, Ticket, TicketStore
from planhat_sandbox.upsert import (
    ItemErrorHook,
    UpsertResult,
    bulk_upsert,
    check_payload,
)

#: Workspace names appear in admin URLs and logs, so they are kept simple.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: Sorted views kept per workspace; each costs about 16 bytes per ticket.
_VIEW_CACHE_SIZE = 8


class Workspace:
    """One Planhat workspace with its own token, companies and tickets.

    Every method is thread-safe. Ticket dicts returned by ``tickets()`` and
    ``ticket()`` are copies; changing them does not change the workspace.
    """

    def __init__(
        self,
        name: str,
        token: str,
        *,
        tickets: int = 0,
        seed: int = 0,
        companies: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create a workspace seeded with ``tickets`` tickets.

        Args:
            name: Name used in admin URLs and the request log; letters, digits,
                ``_``, ``.`` and ``-``.
            token: Bearer token that selects this workspace.
            tickets: Number of tickets to generate.
            seed: Seed of the random generator; equal seeds give equal data
                and equal sequences of ``*_random`` changes.
            companies: Number of companies; by default 5 to 100, growing with
                ``tickets``.
            clock: Source of the current time in seconds since the epoch,
                used for ``createDate`` and ``updateDate`` of changes.

        """
        if not _NAME.fullmatch(name):
            raise ValueError(
                f"invalid workspace name {name!r}: "
                "use 1 to 64 letters, digits, '_', '.' or '-'"
            )
        if not token or any(character.isspace() for character in token):
            raise ValueError(
                f"invalid token for workspace {name!r}: "
                "it must be non-empty and contain no spaces"
            )
        if tickets < 0:
            raise ValueError(f"tickets must be 0 or more, got {tickets}")

        self.name = name
        self.token = token
        #: When True, PUT and DELETE respond with 403 and change nothing.
        self.read_only = False
        self._clock = clock
        self._last_ms = 0
        self._lock = threading.RLock()
        self._views: OrderedDict[tuple[Any, ...], TicketView] = OrderedDict()
        self._rate_limiter: RateLimiter | None = None

        # Seeded, so equal seeds give equal data; nothing here needs secrecy.
        self._rng = random.Random(seed)  # noqa: S311
        self._ids = ObjectIdGenerator(self._rng.getrandbits(40))
        self._store = TicketStore()
        company_count = (
            default_company_count(tickets) if companies is None else companies
        )
        for company in generate_companies(self._rng, company_count, self._ids):
            self._store.add_company(company)
        self._factory = TicketFactory(self._rng, self._store.companies)
        with paused_garbage_collection():
            self._store.insert_many(generate_tickets(self._factory, tickets, self._ids))
        self._next_sequence = tickets + 1

    def __repr__(self) -> str:
        """Describe the workspace without its token."""
        return f"Workspace(name={self.name!r}, tickets={len(self)})"

    def __len__(self) -> int:
        """Return the number of tickets."""
        with self._lock:
            return len(self._store.tickets)

    # Reading

    @property
    def companies(self) -> list[Company]:
        """Copies of the companies: ``_id``, ``name``, ``externalId``, ``domains``."""
        with self._lock:
            return _deep_copy(self._store.companies)

    def tickets(self) -> list[Ticket]:
        """Return copies of all tickets in the read shape, in insertion order."""
        with self._lock:
            stored = list(self._store.tickets.values())
        return _deep_copy(stored)

    def ticket(self, ticket_id: str) -> Ticket | None:
        """Return a copy of the ticket with this ``_id``, or None."""
        with self._lock:
            stored = self._store.get(ticket_id)
        return None if stored is None else _deep_copy(stored)

    def status_counts(self) -> dict[str, int]:
        """Return the number of tickets per ``status``, skipping tickets without one."""
        with self._lock:
            counts = Counter(
                ticket.get("status") for ticket in self._store.tickets.values()
            )
        return {
            status: count for status, count in counts.items() if isinstance(status, str)
        }

    def stats(self) -> dict[str, Any]:
        """Return counts and settings as a JSON-ready dict, without the token."""
        by_status = self.status_counts()
        with self._lock:
            limit = self._rate_limiter.limit if self._rate_limiter else None
            return {
                "name": self.name,
                "tickets": len(self._store.tickets),
                "by_status": by_status,
                "without_status": len(self._store.tickets) - sum(by_status.values()),
                "companies": len(self._store.companies),
                "read_only": self.read_only,
                "rate_limit": None if limit is None else {
                    "per_minute": limit.per_minute,
                    "per_second": limit.per_second,
                    "send_retry_after": limit.send_retry_after,
                    "window_seconds": limit.window_seconds,
                },
            }  # fmt: skip

    def query(
        self, query: TicketQuery, rng: random.Random | None = None
    ) -> list[Ticket]:
        """Return one page of tickets as ``GET /tickets`` does.

        The returned dicts are the stored tickets themselves (or projections
        of them) to save copying; callers must not change them.
        """
        with self._lock:
            key = (self._store.version, query.view_key())
            view = self._views.get(key)
            if view is None:
                view = build_view(self._store.tickets.values(), query)
                self._views[key] = view
                if len(self._views) > _VIEW_CACHE_SIZE:
                    self._views.popitem(last=False)
            else:
                self._views.move_to_end(key)
        page = take_page(view, query.offset, query.limit, rng or random.Random())  # noqa: S311
        if query.select is None:
            return page
        projection = compile_projection(query.select)
        return [project(ticket, projection) for ticket in page]

    # Writing

    def upsert(
        self, items: Any, *, item_error: ItemErrorHook | None = None
    ) -> UpsertResult:
        """Create or update tickets as ``PUT /tickets`` does with this body.

        Raises:
            BadPayload: for a body that Planhat rejects with 400.

        """
        checked = check_payload(items)
        with self._lock:
            return bulk_upsert(
                self._store,
                checked,
                now_ms=self._now_ms(),
                ids=self._ids,
                read_only=self.read_only,
                item_error=item_error,
            )

    def delete(self, ticket_id: str) -> bool:
        """Delete a ticket; return False if no ticket has this ``_id``.

        Raises:
            PermissionError: if the workspace is read-only.

        """
        with self._lock:
            if self.read_only:
                raise PermissionError(f"workspace {self.name!r} is read-only")
            return self._store.delete(ticket_id)

    def set_read_only(self, read_only: bool = True) -> None:
        """Make PUT and DELETE respond with 403 and change nothing."""
        self.read_only = read_only

    # Changes that tests make behind a sync's back

    def update_random(self, count: int, *, status: str | None = None) -> list[str]:
        """Change the status of up to ``count`` random tickets and return their ids.

        The changed tickets share one new ``updateDate``, as after a bulk
        change, and get a ``history`` entry for the new status.
        """
        with self._lock:
            chosen = self._sample_ids(count)
            self.update_tickets(chosen, status=status)
            return chosen

    def update_tickets(self, ticket_ids: list[str], *, status: str | None = None) -> None:
        """Change the status of the tickets with these ids, as ``update_random`` does.

        Raises:
            KeyError: if no ticket has one of the ids.

        """
        with self._lock:
            now = format_date(self._now_ms())
            for ticket_id in ticket_ids:
                ticket = dict(self._store.tickets[ticket_id])
                new_status = status or pick_new_status(
                    self._rng, ticket.get("source"), ticket.get("status")
                )
                ticket["status"] = new_status
                ticket["history"] = [
                    *(ticket.get("history") or []),
                    {"status": new_status, "time": now},
                ]
                ticket["updateDate"] = now
                self._store.replace(ticket)

    def create_random(self, count: int, *, below_existing_ids: bool = False) -> list[str]:
        """Create ``count`` generated tickets dated now and return their ids.

        With ``below_existing_ids``, each new ``_id`` is smaller than every
        existing one. MongoDB ObjectIds made by another process with a slower
        clock can be, so a reader sorted by ``_id`` may find new tickets before
        its offset.
        """
        if count < 0:
            raise ValueError(f"count must be 0 or more, got {count}")
        with self._lock:
            now_ms = self._now_ms()
            created = []
            for _ in range(count):
                ticket_id = (
                    self._id_below_all()
                    if below_existing_ids
                    else self._ids.generate(now_ms)
                )
                ticket = self._factory.build(
                    self._next_sequence, ticket_id, now_ms, now_ms
                )
                self._next_sequence += 1
                self._store.insert(ticket)
                created.append(ticket["_id"])
            return created

    def delete_random(self, count: int) -> list[str]:
        """Delete up to ``count`` random tickets and return their ``_id`` values."""
        with self._lock:
            chosen = self._sample_ids(count)
            for ticket_id in chosen:
                self._store.delete(ticket_id)
            return chosen

    def _id_below_all(self) -> str:
        lowest = min(self._store.tickets, default=f"{1 << 95:024x}")
        value = int(lowest, 16) - 1
        if value < 0:
            raise ValueError("no _id is left below the smallest existing one")
        return f"{value:024x}"

    def _sample_ids(self, count: int) -> list[str]:
        if count < 0:
            raise ValueError(f"count must be 0 or more, got {count}")
        ids = list(self._store.tickets)
        return self._rng.sample(ids, min(count, len(ids)))

    def _now_ms(self) -> int:
        # Never earlier than a date already handed out, even if the wall clock
        # steps back.
        self._last_ms = max(self._last_ms, int(self._clock() * 1000))
        return self._last_ms

    # Rate limiting

    @property
    def rate_limit(self) -> RateLimit | None:
        """The enforced limits, or None when rate limiting is off (the default)."""
        limiter = self._rate_limiter
        return None if limiter is None else limiter.limit

    def set_rate_limit(
        self,
        per_minute: int | None = 200,
        *,
        per_second: int | None = 150,
        send_retry_after: bool = False,
        window_seconds: float = 60.0,
    ) -> None:
        """Turn on rate limiting with fresh counters (arguments as in ``RateLimit``)."""
        limit = RateLimit(per_minute, per_second, send_retry_after, window_seconds)
        with self._lock:
            self._rate_limiter = RateLimiter(limit)

    def clear_rate_limit(self) -> None:
        """Turn rate limiting off."""
        with self._lock:
            self._rate_limiter = None

    def check_rate_limit(self, now: float) -> RateDecision | None:
        """Count a request at monotonic time ``now`` and return the decision.

        Returns None when rate limiting is off.
        """
        limiter = self._rate_limiter
        return None if limiter is None else limiter.check(now)


def _deep_copy(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))
