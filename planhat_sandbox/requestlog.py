"""The log of requests that the sandbox served, for tests and benchmarks."""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RequestLogEntry:
    """One request to the Planhat API routes and the sandbox's response.

    Admin requests under ``/_sandbox/`` are not logged. The token is never
    stored; ``workspace`` is None when the request was not authenticated.
    """

    #: Number of the request in order of arrival, starting at 1; it keeps
    #: growing after a clear. Entries are stored when the response is ready,
    #: so concurrent requests can appear out of sequence order.
    sequence: int
    #: Name of the workspace the token belongs to, or None for a 401.
    workspace: str | None
    method: str
    #: Path without the query string, e.g. ``/tickets``.
    path: str
    #: Query parameters; a parameter given more than once has its values
    #: joined with commas.
    query: dict[str, str]
    status: int
    #: GET: tickets returned. PUT: items sent. None for other requests and for
    #: requests rejected before the body was parsed.
    items: int | None
    #: ``time.monotonic()`` when the request line was read, in seconds.
    monotonic: float
    #: ``time.time()`` when the request line was read, in seconds since the epoch.
    wall_time: float
    #: Time from reading the request line until the response was ready to
    #: send, in seconds; the entry is stored before the response is sent.
    duration: float

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as a JSON-ready dict."""
        return dataclasses.asdict(self)


class RequestLog:
    """Thread-safe, bounded log of served requests.

    When ``max_entries`` is reached, the oldest entries are dropped.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        """Create an empty log that keeps at most ``max_entries`` entries."""
        self._entries: deque[RequestLogEntry] = deque(maxlen=max_entries)
        self._next_sequence = 1
        self._lock = threading.Lock()

    def next_sequence(self) -> int:
        """Reserve the sequence number of a request that just arrived."""
        with self._lock:
            sequence = self._next_sequence
            self._next_sequence += 1
            return sequence

    def append(self, **fields: Any) -> RequestLogEntry:
        """Add an entry; ``fields`` must name every field of ``RequestLogEntry``."""
        entry = RequestLogEntry(**fields)
        with self._lock:
            self._entries.append(entry)
        return entry

    def entries(
        self,
        workspace: str | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
        after: int = 0,
    ) -> list[RequestLogEntry]:
        """Return the entries in order, optionally filtered.

        Args:
            workspace: keep only requests to this workspace.
            method: keep only this HTTP method, e.g. ``"GET"``.
            path: keep only this exact path, e.g. ``"/tickets"``.
            after: keep only entries whose ``sequence`` is greater than this.

        """
        with self._lock:
            snapshot = list(self._entries)
        return [
            entry
            for entry in snapshot
            if entry.sequence > after
            and (workspace is None or entry.workspace == workspace)
            and (method is None or entry.method == method.upper())
            and (path is None or entry.path == path)
        ]

    def clear(self) -> None:
        """Remove every entry; sequence numbers keep growing."""
        with self._lock:
            self._entries.clear()
