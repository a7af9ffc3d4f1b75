"""A local Planhat-compatible HTTP server for tests, demos and benchmarks.

It serves ``GET``, ``PUT /tickets`` and ``DELETE /tickets/{_id}`` as the
Planhat API does, per workspace (one bearer token each), with seeded data,
optional rate limiting, a request log and admin routes under ``/_sandbox/``.
Importing the package starts nothing.
"""

from planhat_sandbox.faults import Fault, FaultHook, FaultSpecError
from planhat_sandbox.hooks import Exchange, Reply, SandboxHook
from planhat_sandbox.query import DEFAULT_LIMIT, MAX_LIMIT
from planhat_sandbox.ratelimit import RateLimit
from planhat_sandbox.requestlog import RequestLog, RequestLogEntry
from planhat_sandbox.sandbox import Sandbox
from planhat_sandbox.upsert import MAX_ITEMS, BadPayload, UpsertResult
from planhat_sandbox.workspace import Workspace

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_ITEMS",
    "MAX_LIMIT",
    "BadPayload",
    "Exchange",
    "Fault",
    "FaultHook",
    "FaultSpecError",
    "RateLimit",
    "Reply",
    "RequestLog",
    "RequestLogEntry",
    "Sandbox",
    "SandboxHook",
    "UpsertResult",
    "Workspace",
]
