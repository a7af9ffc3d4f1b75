"""Fixtures for reliability tests: one sandbox per module, fresh workspaces and faults."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from planhat_sandbox import Fault, FaultHook, Sandbox, Workspace

_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def workspace_factory(sandbox: Sandbox) -> Iterator[Callable[..., Workspace]]:
    """Create workspaces with unique names and tokens; remove them after the test."""
    created: list[str] = []

    def make(tickets: int = 0, seed: int = 1, **options: object) -> Workspace:
        number = next(_numbers)
        workspace = sandbox.add_workspace(
            f"rel{number}", token=f"rel-token-{number}", tickets=tickets, seed=seed, **options
        )
        created.append(workspace.name)
        return workspace

    yield make
    for name in created:
        sandbox.remove_workspace(name)


@pytest.fixture
def inject(sandbox: Sandbox) -> Iterator[Callable[..., FaultHook]]:
    """Install faults on the sandbox; the hook is removed, and its delays ended, after the test."""
    hooks: list[FaultHook] = []

    def install(*faults: Fault | dict) -> FaultHook:
        hook = FaultHook(f if isinstance(f, Fault) else Fault.from_dict(f) for f in faults)
        hooks.append(hook)
        sandbox.hook = hook
        return hook

    yield install
    for hook in hooks:
        hook.close()
    sandbox.hook = None


def tap_config(sandbox: Sandbox, workspace: Workspace, **settings: object) -> dict[str, object]:
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
