"""Routes of the Planhat API: GET, PUT and DELETE on /tickets."""

from __future__ import annotations

import random
import re
from typing import Any

import orjson

from planhat_sandbox.hooks import Exchange, Reply
from planhat_sandbox.query import QueryError, parse_query
from planhat_sandbox.ratelimit import RateDecision
from planhat_sandbox.state import SandboxState
from planhat_sandbox.upsert import BadPayload
from planhat_sandbox.workspace import Workspace

_TICKET_PATH = re.compile(r"/tickets/([^/]+)/?")
_OBJECT_ID = re.compile(r"[0-9a-f]{24}")

UNAUTHORIZED_MESSAGE = (
    "Missing or unknown API token. Send 'Authorization: Bearer <token>' and check that "
    "the API URL is your workspace's regional host."
)


def json_reply(status: int, body: Any, **fields: Any) -> Reply:
    """Build a reply with a JSON body."""
    return Reply(status=status, body=orjson.dumps(body), **fields)


def error_reply(status: int, error: str, message: str, **fields: Any) -> Reply:
    """Build a JSON error reply ``{"error": ..., "message": ...}``."""
    return json_reply(status, {"error": error, "message": message}, **fields)


def authenticate(state: SandboxState, authorization: str | None) -> Workspace | None:
    """Return the workspace that an ``Authorization`` header selects, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return state.workspace_for_token(token)


def unauthorized_reply() -> Reply:
    """Build the 401 reply for a missing or unknown token."""
    return error_reply(401, "Unauthorized", UNAUTHORIZED_MESSAGE)


def rate_limit_headers(
    decision: RateDecision, send_retry_after: bool
) -> dict[str, str]:
    """Return the rate-limit headers for one request of a rate-limited workspace."""
    headers = {
        "X-Rate-Limit-Limit": str(decision.limit),
        "X-Rate-Limit-Remaining": str(decision.remaining),
    }
    if send_retry_after and decision.retry_after is not None:
        headers["Retry-After"] = str(decision.retry_after)
    return headers


def too_many_requests_reply(headers: dict[str, str]) -> Reply:
    """Build the 429 reply; the body is plain text, not JSON."""
    # NOTE: Planhat documents "429 Too many requests" but not the body's
    # format; plain text makes sure clients do not rely on a JSON body.
    return Reply(
        status=429,
        body=b"Too many requests",
        headers=headers,
        content_type="text/plain; charset=utf-8",
    )


def handle_api(state: SandboxState, exchange: Exchange, workspace: Workspace) -> Reply:
    """Handle an authenticated request to a Planhat API path and return the reply."""
    path = exchange.path
    method = exchange.method
    if path in ("/tickets", "/tickets/"):
        if method == "GET":
            return _list_tickets(exchange, workspace)
        if method == "PUT":
            return _upsert_tickets(state, exchange, workspace)
        return _method_not_allowed(method, path, "GET, PUT")

    match = _TICKET_PATH.fullmatch(path)
    if match:
        if method == "DELETE":
            return _delete_ticket(workspace, match.group(1))
        # NOTE: Planhat documents no GET, PUT or POST on one ticket for this
        # endpoint, so the sandbox rejects them.
        return _method_not_allowed(method, path, "DELETE")
    return error_reply(404, "Not Found", f"no route for {method} {path}")


def _list_tickets(exchange: Exchange, workspace: Workspace) -> Reply:
    try:
        query = parse_query(exchange.parameters)
    except QueryError as error:
        return error_reply(400, "Bad Request", str(error))
    # Tie order only needs to differ between requests, not to be unpredictable.
    page = workspace.query(query, random.Random())  # noqa: S311
    return json_reply(200, page, items=len(page))


def _upsert_tickets(
    state: SandboxState, exchange: Exchange, workspace: Workspace
) -> Reply:
    content_type = exchange.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        return error_reply(
            400,
            "Bad Request",
            f"Content-Type must be application/json, got {content_type or 'none'!r}",
        )
    try:
        payload = orjson.loads(exchange.body)
    except orjson.JSONDecodeError as error:
        return error_reply(
            400, "Bad Request", f"request body is not valid JSON: {error}"
        )
    items = len(payload) if isinstance(payload, list) else None

    hook = state.hook

    def item_error(index: int, item: dict[str, Any]) -> tuple[str, str] | None:
        return hook.upsert_item_error(exchange, index, item)

    try:
        result = workspace.upsert(payload, item_error=item_error)
    except BadPayload as error:
        return error_reply(400, "Bad Request", str(error), items=items)
    return json_reply(result.status, result.to_dict(), items=items)


def _delete_ticket(workspace: Workspace, ticket_id: str) -> Reply:
    if not _OBJECT_ID.fullmatch(ticket_id):
        return error_reply(
            400,
            "Bad Request",
            f"invalid _id {ticket_id!r}: expected 24 lowercase hex digits",
        )
    try:
        deleted = workspace.delete(ticket_id)
    except PermissionError:
        return error_reply(
            403, "Forbidden", "the API token has no permission to delete tickets"
        )
    if not deleted:
        return error_reply(
            404, "Not Found", f"no ticket with _id {ticket_id} in this workspace"
        )
    return json_reply(200, {"n": 1, "ok": 1, "deletedCount": 1})


def _method_not_allowed(method: str, path: str, allowed: str) -> Reply:
    return error_reply(
        405,
        "Method Not Allowed",
        f"{method} is not supported on {path}; use {allowed}",
        headers={"Allow": allowed},
    )
