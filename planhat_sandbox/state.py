"""Workspaces, request log and hook that one sandbox server shares between threads."""

from __future__ import annotations

import threading
from typing import Any

from planhat_sandbox.hooks import SandboxHook
from planhat_sandbox.requestlog import RequestLog
from planhat_sandbox.workspace import Workspace


class SandboxState:
    """Registry of workspaces by name and by token, plus the request log and hook."""

    def __init__(
        self, *, hook: SandboxHook | None = None, max_log_entries: int = 100_000
    ) -> None:
        """Create a state without workspaces."""
        self.request_log = RequestLog(max_log_entries)
        #: Hook called around every API request; replace it to inject faults.
        self.hook = hook or SandboxHook()
        self._workspaces: dict[str, Workspace] = {}
        self._by_token: dict[str, Workspace] = {}
        self._lock = threading.Lock()

    def create_workspace(self, name: str, *, token: str, **options: Any) -> Workspace:
        """Create and register a workspace; ``options`` go to ``Workspace``.

        Raises:
            ValueError: if the name or the token is invalid or already in use.

        """
        with self._lock:
            self._check_free(name, token)
        # Seeding can take seconds, so it runs without the lock.
        workspace = Workspace(name, token, **options)
        with self._lock:
            self._check_free(name, token)
            self._workspaces[name] = workspace
            self._by_token[token] = workspace
        return workspace

    def remove_workspace(self, name: str) -> Workspace:
        """Remove a workspace; its token stops working.

        Raises:
            KeyError: if no workspace has this name.

        """
        with self._lock:
            workspace = self._workspaces.pop(name)
            del self._by_token[workspace.token]
            return workspace

    def workspace(self, name: str) -> Workspace:
        """Return the workspace with this name.

        Raises:
            KeyError: if no workspace has this name.

        """
        with self._lock:
            return self._workspaces[name]

    def workspaces(self) -> list[Workspace]:
        """Return all workspaces in creation order."""
        with self._lock:
            return list(self._workspaces.values())

    def workspace_for_token(self, token: str) -> Workspace | None:
        """Return the workspace that this bearer token selects, or None."""
        with self._lock:
            return self._by_token.get(token)

    def _check_free(self, name: str, token: str) -> None:
        if name in self._workspaces:
            raise ValueError(f"workspace {name!r} already exists; choose another name")
        if token in self._by_token:
            raise ValueError(
                f"the token of workspace {name!r} is already used by another workspace"
            )
