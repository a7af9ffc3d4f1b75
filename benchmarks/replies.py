"""A sandbox hook that replays prepared responses, so the server costs little.

The benchmarks measure the connectors, not the sandbox. The sandbox builds a
page of 10,000 tickets in about 30 ms and a bulk upsert of 5,000 in about
100 ms on a 2-core machine, and the connector waits for each response. This
hook serves each response computed once again, as stored bytes:

- GET /tickets: keyed by workspace and query string. Runs of equal sort
  values then come back in the same order on every request, which is one
  of the orders the real sandbox may return.
- PUT /tickets: keyed by workspace and a digest of the request body, so a
  repeated batch gets the response the sandbox gave the first time.

A request whose response is not stored yet is handled by the sandbox as
usual, and its response is stored. Call `clear()` after changing a
workspace's tickets, because stored pages would no longer match.
"""

from __future__ import annotations

import hashlib
import threading

from planhat_sandbox import Exchange, Reply, SandboxHook

_Key = tuple[str, str, str, str | bytes]


class PreparedReplies(SandboxHook):
    """Replay the stored response of every GET and PUT /tickets seen before."""

    def __init__(self) -> None:
        """Start with no stored responses; storing is on."""
        self._replies: dict[_Key, Reply] = {}
        self._lock = threading.Lock()
        #: False serves every request fresh and stores nothing.
        self.enabled = True
        #: Requests served from the store.
        self.hits = 0
        #: Requests the sandbox handled, with replay on.
        self.misses = 0

    def clear(self) -> None:
        """Forget every stored response and reset the counters."""
        with self._lock:
            self._replies.clear()
            self.hits = 0
            self.misses = 0

    def stored_bytes(self) -> int:
        """Return the size of the stored response bodies, in bytes."""
        with self._lock:
            return sum(len(reply.body) for reply in self._replies.values())

    def before_handling(self, exchange: Exchange) -> Reply | None:
        """Return the stored response of this request, or None to handle it."""
        key = _key(exchange)
        if key is None or not self.enabled:
            return None
        with self._lock:
            reply = self._replies.get(key)
            if reply is None:
                self.misses += 1
                return None
            self.hits += 1
        # A copy, because the handler sets headers on the reply it sends.
        return Reply(
            status=reply.status,
            body=reply.body,
            headers=dict(reply.headers),
            content_type=reply.content_type,
            items=reply.items,
        )

    def before_sending(self, exchange: Exchange, reply: Reply) -> Reply:
        """Store a successful response that the sandbox computed."""
        key = _key(exchange)
        if key is None or not self.enabled or not 200 <= reply.status < 300:
            return reply
        with self._lock:
            self._replies.setdefault(key, reply)
        return reply


def _key(exchange: Exchange) -> _Key | None:
    if exchange.workspace is None or exchange.path != "/tickets":
        return None
    workspace = exchange.workspace.name
    if exchange.method == "GET":
        query = "&".join(
            f"{name}={value}" for name, value in sorted(exchange.query.items())
        )
        return (workspace, "GET", exchange.path, query)
    if exchange.method == "PUT":
        digest = hashlib.blake2b(exchange.body, digest_size=32).digest()
        return (workspace, "PUT", exchange.path, digest)
    return None
