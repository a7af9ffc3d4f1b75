"""The fault matrix of reliability tests; `sandbox`, `workspace_factory` and `inject` are in tests/conftest.py."""

from __future__ import annotations

from planhat_sandbox import Sandbox, Workspace

#: Every fault of the matrix, shared by the tap and the target tests.
FAULTS = {
    "429 with Retry-After": {"kind": "status", "status": 429, "retry_after": "0"},
    "429 without Retry-After": {"kind": "status", "status": 429},
    "500": {"kind": "status", "status": 500},
    "502": {"kind": "status", "status": 502},
    "503": {"kind": "status", "status": 503},
    "delay past timeout": {"kind": "delay", "seconds": 3},
    "closed mid-response": {"kind": "disconnect"},
    "truncated JSON": {"kind": "truncate"},
}

#: Expected error text of a run whose fault persists through every attempt.
PERSISTENT_MESSAGES = {
    "429 with Retry-After": "failed after 4 attempts; last error: HTTP 429",
    "429 without Retry-After": "failed after 4 attempts; last error: HTTP 429",
    "500": "failed after 4 attempts; last error: HTTP 500",
    "502": "failed after 4 attempts; last error: HTTP 502",
    "503": "failed after 4 attempts; last error: HTTP 503",
    "delay past timeout": "Read timed out. (read timeout=0.5)",
    "closed mid-response": "failed after 4 attempts; last error: ChunkedEncodingError",
    "truncated JSON": "failed after 4 attempts; last error: invalid JSON in a",
}


def tap_config(
    sandbox: Sandbox, workspace: Workspace, **settings: object
) -> dict[str, object]:
    """Tap config for `workspace` with fast retries, a short timeout and no pacing to speak of."""
    return {
        "api_url": sandbox.url,
        "api_token": workspace.token,
        "max_requests_per_minute": 100_000,
        "retry_initial_wait_seconds": 0.01,
        "retry_max_wait_seconds": 2,
        "retry_max_attempts": 4,
        "request_timeout_seconds": 5,
        **settings,
    }


def stamp_run(workspace: Workspace, count: int) -> list[str]:
    """Create `count` tickets in one PUT, so that they share one updateDate; return their ids."""
    company = workspace.companies[0]["_id"]
    start = len(workspace)
    items = [
        {
            "sourceId": f"RUN-{start + index:06d}",
            "email": f"user{start + index}@example.com",
            "companyId": company,
            "title": f"Ticket {start + index}",
        }
        for index in range(count)
    ]
    result = workspace.upsert(items)
    return [key["_id"] for key in result.to_dict()["insertsKeys"]]
