"""Tap test helpers; the `sandbox` and `workspace_factory` fixtures are in tests/conftest.py."""

from __future__ import annotations

from planhat_sandbox import Sandbox, Workspace


def tap_config(sandbox: Sandbox, workspace: Workspace, **settings: object) -> dict[str, object]:
    """Config that points the tap at `workspace`, with fast retries."""
    return {
        "api_url": sandbox.url,
        "api_token": workspace.token,
        "retry_initial_wait_seconds": 0.01,
        "retry_max_wait_seconds": 5,
        **settings,
    }
