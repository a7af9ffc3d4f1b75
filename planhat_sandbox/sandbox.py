"""Sandbox: a Planhat-compatible server on 127.0.0.1 running in a background thread."""

from __future__ import annotations

import threading
from types import TracebackType

from planhat_sandbox.hooks import SandboxHook
from planhat_sandbox.requestlog import RequestLog, RequestLogEntry
from planhat_sandbox.server import LOOPBACK, SandboxHTTPServer, check_loopback
from planhat_sandbox.state import SandboxState
from planhat_sandbox.workspace import Workspace


class Sandbox:
    """A local Planhat API for tests, demos and benchmarks.

    Use it as a context manager, or call ``start()`` and ``close()``::

        with Sandbox() as sandbox:
            sandbox.add_workspace("a", token="token-a", tickets=1000, seed=1)
            response = requests.get(
                f"{sandbox.url}/tickets", headers={"Authorization": "Bearer token-a"}
            )

    Workspaces can be added before or after the server starts.
    """

    def __init__(
        self,
        host: str = LOOPBACK,
        port: int = 0,
        *,
        hook: SandboxHook | None = None,
        max_log_entries: int = 100_000,
    ) -> None:
        """Prepare a sandbox; nothing is bound until ``start()``.

        Args:
            host: Must be 127.0.0.1; any other value raises ValueError.
            port: TCP port; 0 picks a free one.
            hook: Hook called around every API request (fault injection).
            max_log_entries: Requests kept in the request log; older ones
                are dropped.

        """
        check_loopback(host)
        self._host = host
        self._port = port
        self.state = SandboxState(hook=hook, max_log_entries=max_log_entries)
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Life cycle

    def start(self) -> Sandbox:
        """Bind the port and serve in a daemon thread; return self.

        Raises:
            RuntimeError: if the sandbox is already running.
            OSError: if the port cannot be bound.

        """
        if self._server is not None:
            raise RuntimeError("the sandbox is already running; call close() first")
        self._server = SandboxHTTPServer(self.state, self._port, self._host)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"planhat-sandbox:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, close open connections and release the port."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> Sandbox:
        """Start the sandbox."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the sandbox."""
        self.close()

    @property
    def port(self) -> int:
        """The bound TCP port.

        Raises:
            RuntimeError: if the sandbox is not running.

        """
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Base URL of the API, e.g. ``http://127.0.0.1:8765`` (no trailing slash)."""
        return f"http://{self._host}:{self.port}"

    # Workspaces

    def add_workspace(
        self,
        name: str,
        *,
        token: str,
        tickets: int = 0,
        seed: int = 0,
        companies: int | None = None,
    ) -> Workspace:
        """Create a workspace reached with ``Authorization: Bearer <token>``.

        See ``Workspace`` for the arguments.

        Raises:
            ValueError: if the name or the token is invalid or already in use.

        """
        return self.state.create_workspace(
            name, token=token, tickets=tickets, seed=seed, companies=companies
        )

    def workspace(self, name: str) -> Workspace:
        """Return the workspace with this name.

        Raises:
            KeyError: if no workspace has this name.

        """
        return self.state.workspace(name)

    @property
    def workspaces(self) -> list[Workspace]:
        """All workspaces in creation order."""
        return self.state.workspaces()

    def remove_workspace(self, name: str) -> None:
        """Remove a workspace; its token then gets 401.

        Raises:
            KeyError: if no workspace has this name.

        """
        self.state.remove_workspace(name)

    # Request log and hook

    @property
    def request_log(self) -> RequestLog:
        """The log of API requests (admin requests are not logged)."""
        return self.state.request_log

    def requests(
        self,
        workspace: str | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
        after: int = 0,
    ) -> list[RequestLogEntry]:
        """Return logged API requests; see ``RequestLog.entries`` for the filters."""
        return self.state.request_log.entries(
            workspace, method=method, path=path, after=after
        )

    def clear_requests(self) -> None:
        """Empty the request log."""
        self.state.request_log.clear()

    @property
    def hook(self) -> SandboxHook:
        """Hook called around every API request; assign a subclass to inject faults."""
        return self.state.hook

    @hook.setter
    def hook(self, hook: SandboxHook | None) -> None:
        self.state.hook = hook or SandboxHook()
