"""An in-memory stand-in for GET /tickets, for fast unit tests of the paging.

It sorts like MongoDB: equal sort values come back in a new random order on
every request. `on_request` lets a test change the data between requests.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

Ticket = dict[str, Any]


class FakeTicketsAPI:
    """Tickets in memory, served a page at a time."""

    def __init__(self, tickets: list[Ticket], *, seed: int = 0) -> None:
        self.tickets = list(tickets)
        self.requests: list[tuple[str, int, int]] = []
        self.on_request: Callable[[int], None] | None = None
        self._random = random.Random(seed)

    def fetch(self, sort: str, offset: int, limit: int) -> list[Ticket]:
        self.requests.append((sort, offset, limit))
        if self.on_request:
            self.on_request(len(self.requests))

        key = sort.lstrip("-")
        shuffled = list(self.tickets)
        self._random.shuffle(shuffled)
        ordered = sorted(shuffled, key=lambda t: t.get(key) or "", reverse=sort.startswith("-"))
        return [dict(t) for t in ordered[offset : offset + limit]]


def make_tickets(count: int, *, first_id: int = 0, stamps: Callable[[int], str] | None = None) -> list[Ticket]:
    """Make tickets with increasing ids; `stamps(i)` gives the updateDate of ticket i."""
    stamps = stamps or (lambda i: f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}.000Z")
    return [{"_id": f"{first_id + i:024x}", "updateDate": stamps(i)} for i in range(count)]
