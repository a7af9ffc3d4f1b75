"""Fixtures shared by the tap and reliability tests: a sandbox per module, fresh workspaces."""

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
            f"ws{number}",
            token=f"ws-token-{number}",
            tickets=tickets,
            seed=seed,
            **options,
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
        hook = FaultHook(
            f if isinstance(f, Fault) else Fault.from_dict(f) for f in faults
        )
        hooks.append(hook)
        sandbox.hook = hook
        return hook

    yield install
    for hook in hooks:
        hook.close()
    sandbox.hook = None
