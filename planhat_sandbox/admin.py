"""Admin routes under /_sandbox/ that let tests and demos drive a running server.

They need no token and exist only in the sandbox; no Planhat path starts
with ``/_sandbox/``. Bodies and responses are JSON objects.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from planhat_sandbox.api import error_reply, json_reply
from planhat_sandbox.faults import FaultHook, FaultSpecError, load_faults
from planhat_sandbox.hooks import Reply, SandboxHook
from planhat_sandbox.state import SandboxState
from planhat_sandbox.workspace import Workspace

PREFIX = "/_sandbox/"

_WORKSPACE_PATH = re.compile(r"/_sandbox/workspaces/([^/]+)(?:/([a-z-]+))?")


class AdminError(Exception):
    """Invalid admin request; carries the HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        """Create an error that becomes a response with ``status`` and ``message``."""
        super().__init__(message)
        self.status = status
        self.message = message


def handle_admin(
    state: SandboxState,
    method: str,
    path: str,
    parameters: dict[str, list[str]],
    body: bytes,
) -> Reply:
    """Handle one admin request and return the reply."""
    try:
        return _route(state, method, path.rstrip("/"), parameters, body)
    except AdminError as error:
        return error_reply(
            error.status, _REASONS.get(error.status, "Error"), error.message
        )


_REASONS = {
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
}


def _route(
    state: SandboxState,
    method: str,
    path: str,
    parameters: dict[str, list[str]],
    body: bytes,
) -> Reply:
    if path == "/_sandbox/health":
        _allow(method, "GET")
        return json_reply(200, {"status": "ok", "workspaces": len(state.workspaces())})

    if path == "/_sandbox/workspaces":
        if method == "GET":
            return json_reply(
                200,
                {"workspaces": [workspace.stats() for workspace in state.workspaces()]},
            )
        _allow(method, "POST")
        return _create_workspace(state, _json_object(body))

    if path == "/_sandbox/requests":
        if method == "DELETE":
            state.request_log.clear()
            return json_reply(200, {"cleared": True})
        _allow(method, "GET")
        return _read_requests(state, parameters)

    if path == "/_sandbox/faults":
        return _faults(state, method, body)

    match = _WORKSPACE_PATH.fullmatch(path)
    if match:
        workspace = _find_workspace(state, match.group(1))
        action = match.group(2)
        if action is None:
            _allow(method, "DELETE")
            state.remove_workspace(workspace.name)
            return json_reply(200, {"deleted": workspace.name})
        handler = _WORKSPACE_ACTIONS.get((method, action))
        if handler is None:
            methods = sorted(
                known_method
                for known_method, known in _WORKSPACE_ACTIONS
                if known == action
            )
            if not methods:
                raise AdminError(404, f"no admin route {path}")
            raise AdminError(
                405, f"{method} is not supported on {path}; use {', '.join(methods)}"
            )
        return handler(workspace, _json_object(body))

    raise AdminError(
        404,
        f"no admin route {path}; see the planhat_sandbox.admin module for the routes",
    )


def _create_workspace(state: SandboxState, body: dict[str, Any]) -> Reply:
    name = body.get("name")
    token = body.get("token")
    if not isinstance(name, str) or not isinstance(token, str):
        raise AdminError(
            400, "creating a workspace needs string fields 'name' and 'token'"
        )
    options = {
        "tickets": _integer(body, "tickets", 0),
        "seed": _integer(body, "seed", 0, minimum=None),
    }
    if body.get("companies") is not None:
        options["companies"] = _integer(body, "companies", 0, minimum=1)
    try:
        workspace = state.create_workspace(name, token=token, **options)
    except ValueError as error:
        status = 409 if "already" in str(error) else 400
        raise AdminError(status, str(error)) from error
    return json_reply(201, workspace.stats())


def _faults(state: SandboxState, method: str, body: bytes) -> Reply:
    """Read, replace or remove the injected faults; see planhat_sandbox.faults."""
    if method == "PUT":
        try:
            faults = load_faults(_json_value(body))
        except FaultSpecError as error:
            raise AdminError(400, str(error)) from error
        _close_fault_hook(state)
        hook = FaultHook(faults)
        state.hook = hook
        return json_reply(200, hook.describe())
    if method == "DELETE":
        _close_fault_hook(state)
        state.hook = SandboxHook()
        return json_reply(200, {"faults": [], "applied": []})
    _allow(method, "GET")
    if isinstance(state.hook, FaultHook):
        return json_reply(200, state.hook.describe())
    return json_reply(200, {"faults": [], "applied": []})


def _close_fault_hook(state: SandboxState) -> None:
    # Ends the waits of delay faults, so their requests finish.
    if isinstance(state.hook, FaultHook):
        state.hook.close()


def _read_requests(state: SandboxState, parameters: dict[str, list[str]]) -> Reply:
    def last(name: str) -> str | None:
        values = parameters.get(name)
        return values[-1] if values else None

    after_text = last("after") or "0"
    if not after_text.isdigit():
        raise AdminError(
            400, f"invalid after {after_text!r}: expected a request sequence number"
        )
    entries = state.request_log.entries(
        last("workspace"),
        method=last("method"),
        path=last("path"),
        after=int(after_text),
    )
    return json_reply(200, {"requests": [entry.to_dict() for entry in entries]})


def _stats(workspace: Workspace, body: dict[str, Any]) -> Reply:
    return json_reply(200, workspace.stats())


def _companies(workspace: Workspace, body: dict[str, Any]) -> Reply:
    return json_reply(200, {"companies": workspace.companies})


def _update_random(workspace: Workspace, body: dict[str, Any]) -> Reply:
    status = body.get("status")
    if status is not None and not isinstance(status, str):
        raise AdminError(400, "status must be a string or null")
    return json_reply(
        200, {"ids": workspace.update_random(_integer(body, "count"), status=status)}
    )


def _create_random(workspace: Workspace, body: dict[str, Any]) -> Reply:
    return json_reply(200, {"ids": workspace.create_random(_integer(body, "count"))})


def _delete_random(workspace: Workspace, body: dict[str, Any]) -> Reply:
    return json_reply(200, {"ids": workspace.delete_random(_integer(body, "count"))})


def _set_rate_limit(workspace: Workspace, body: dict[str, Any]) -> Reply:
    send_retry_after = body.get("send_retry_after", False)
    if not isinstance(send_retry_after, bool):
        raise AdminError(400, "send_retry_after must be true or false")
    window = body.get("window_seconds", 60.0)
    if isinstance(window, bool) or not isinstance(window, (int, float)):
        raise AdminError(400, "window_seconds must be a number")
    try:
        workspace.set_rate_limit(
            _optional_integer(body, "per_minute", 200),
            per_second=_optional_integer(body, "per_second", 150),
            send_retry_after=send_retry_after,
            window_seconds=float(window),
        )
    except ValueError as error:
        raise AdminError(400, str(error)) from error
    return json_reply(200, workspace.stats())


def _clear_rate_limit(workspace: Workspace, body: dict[str, Any]) -> Reply:
    workspace.clear_rate_limit()
    return json_reply(200, workspace.stats())


def _set_read_only(workspace: Workspace, body: dict[str, Any]) -> Reply:
    read_only = body.get("read_only", True)
    if not isinstance(read_only, bool):
        raise AdminError(400, "read_only must be true or false")
    workspace.set_read_only(read_only)
    return json_reply(200, workspace.stats())


_WORKSPACE_ACTIONS: dict[
    tuple[str, str], Callable[[Workspace, dict[str, Any]], Reply]
] = {
    ("GET", "stats"): _stats,
    ("GET", "companies"): _companies,
    ("POST", "update-random"): _update_random,
    ("POST", "create-random"): _create_random,
    ("POST", "delete-random"): _delete_random,
    ("PUT", "rate-limit"): _set_rate_limit,
    ("DELETE", "rate-limit"): _clear_rate_limit,
    ("PUT", "read-only"): _set_read_only,
}


def _allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise AdminError(405, f"{method} is not supported here; use {allowed}")


def _find_workspace(state: SandboxState, name: str) -> Workspace:
    try:
        return state.workspace(name)
    except KeyError:
        raise AdminError(404, f"no workspace named {name!r}") from None


def _json_value(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise AdminError(400, f"request body is not valid JSON: {error}") from error


def _json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise AdminError(400, f"request body is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise AdminError(400, "request body must be a JSON object")
    return value


def _integer(
    body: dict[str, Any],
    name: str,
    default: int | None = None,
    *,
    minimum: int | None = 0,
) -> int:
    value = body.get(name, default)
    if value is None:
        raise AdminError(400, f"missing integer field {name!r}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise AdminError(400, f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise AdminError(400, f"{name} must be at least {minimum}, got {value}")
    return value


def _optional_integer(body: dict[str, Any], name: str, default: int) -> int | None:
    if name in body and body[name] is None:
        return None
    return _integer(body, name, default, minimum=1)
