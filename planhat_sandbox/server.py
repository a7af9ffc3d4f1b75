"""HTTP/1.1 server of the sandbox: keep-alive, request logging and dispatch."""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from planhat_sandbox import admin, api
from planhat_sandbox.hooks import Exchange, Reply
from planhat_sandbox.state import SandboxState

logger = logging.getLogger("planhat_sandbox")

#: The only address the sandbox binds: it serves test data without real
#: authentication, so no other machine may reach it.
LOOPBACK = "127.0.0.1"
#: Largest request body accepted, in bytes.
# NOTE: Planhat's body size limit is unknown; 5,000 tickets with 100 KB
# descriptions are about 500 MB, far beyond what a client should send.
MAX_BODY_BYTES = 256 * 1024 * 1024
#: Seconds an idle keep-alive connection stays open.
IDLE_TIMEOUT_SECONDS = 30.0


def check_loopback(host: str) -> None:
    """Raise ValueError unless ``host`` is 127.0.0.1."""
    if host != LOOPBACK:
        raise ValueError(
            f"planhat-sandbox binds {LOOPBACK} only, got {host!r}. It serves test "
            "data with admin routes that need no token, so it must not be "
            "reachable from other machines."
        )


class SandboxHTTPServer(ThreadingHTTPServer):
    """Threading HTTP server bound to 127.0.0.1 that can close its open connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, state: SandboxState, port: int = 0, host: str = LOOPBACK
    ) -> None:
        """Bind ``host:port`` (port 0 picks a free port) for ``state``.

        Raises:
            ValueError: if ``host`` is not 127.0.0.1.

        """
        check_loopback(host)
        self.state = state
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((host, port), SandboxRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Track the connection so that ``close_connections`` can end it."""
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget and close a finished connection."""
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Print the traceback of an error, unless the client went away.

        A client that exits with requests in flight, such as a tap stopped
        while it requests pages ahead, resets its connections. That is
        ordinary client behaviour, not a fault of the sandbox.
        """
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Shut down every open connection, including idle keep-alive ones."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            # The peer may have closed the connection already.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class SandboxRequestHandler(BaseHTTPRequestHandler):
    """Handler of one connection: Planhat API routes and admin routes."""

    server: SandboxHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "planhat-sandbox"
    timeout = IDLE_TIMEOUT_SECONDS
    # Without TCP_NODELAY, headers and body leave in two segments and the
    # client's delayed ACK adds about 40 ms to every response.
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        """Return the ``Server`` header without the Python version."""
        return self.server_version

    def do_GET(self) -> None:
        """Handle a GET request."""
        self._dispatch()

    do_PUT = do_DELETE = do_POST = do_PATCH = do_GET

    def _dispatch(self) -> None:
        started = time.monotonic()
        wall_time = time.time()
        split = urlsplit(self.path)
        path = split.path
        parameters = parse_qs(split.query, keep_blank_values=True)
        state = self.server.state

        body, problem = self._read_body()
        if path.startswith(admin.PREFIX):
            reply = problem or admin.handle_admin(
                state, self.command, path, parameters, body
            )
            self._send(reply)
            self._log_line(reply, None, started)
            return

        number = state.request_log.next_sequence()
        headers = {
            name.lower(): value
            for name, value in self.headers.items()
            if name.lower() != "authorization"
        }
        workspace = api.authenticate(state, self.headers.get("Authorization"))
        exchange = Exchange(
            number, self.command, path, parameters, headers, body, workspace
        )
        reply = problem or self._answer_api(state, exchange)
        reply = state.hook.before_sending(exchange, reply)

        # Log before sending, so a client that has the response also finds its entry.
        state.request_log.append(
            sequence=number,
            workspace=workspace.name if workspace is not None else None,
            method=self.command,
            path=path,
            query=exchange.query,
            status=reply.status,
            items=reply.items,
            monotonic=started,
            wall_time=wall_time,
            duration=time.monotonic() - started,
        )
        self._send(reply)
        self._log_line(
            reply, workspace.name if workspace is not None else None, started
        )

    def _answer_api(self, state: SandboxState, exchange: Exchange) -> Reply:
        workspace = exchange.workspace
        if workspace is None:
            return api.unauthorized_reply()

        decision = workspace.check_rate_limit(time.monotonic())
        rate_headers: dict[str, str] = {}
        if decision is not None:
            limit = workspace.rate_limit
            rate_headers = api.rate_limit_headers(
                decision, bool(limit and limit.send_retry_after)
            )
            if not decision.allowed:
                return api.too_many_requests_reply(rate_headers)

        try:
            reply = state.hook.before_handling(exchange) or api.handle_api(
                state, exchange, workspace
            )
        except Exception as error:
            logger.exception(
                "request %d failed: %s %s",
                exchange.number,
                exchange.method,
                exchange.path,
            )
            reply = api.error_reply(
                500, "Internal Server Error", f"the sandbox failed: {error}"
            )
        reply.headers = {**rate_headers, **reply.headers}
        return reply

    def _read_body(self) -> tuple[bytes, Reply | None]:
        """Read the request body, or return the reply for a body that cannot be read."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return b"", api.error_reply(
                411,
                "Length Required",
                "chunked request bodies are not supported; send Content-Length",
                close=True,
            )
        length_text = self.headers.get("Content-Length") or "0"
        if not length_text.isdigit():
            return b"", api.error_reply(
                400,
                "Bad Request",
                f"invalid Content-Length {length_text!r}",
                close=True,
            )
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            message = (
                f"request body of {length} bytes is larger than "
                f"the {MAX_BODY_BYTES} bytes accepted"
            )
            return b"", api.error_reply(413, "Payload Too Large", message, close=True)
        return self.rfile.read(length), None

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            if reply.content_type is not None:
                self.send_header("Content-Type", reply.content_type)
            length = (
                len(reply.body)
                if reply.content_length is None
                else reply.content_length
            )
            self.send_header("Content-Length", str(length))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError) as error:
            logger.info(
                "client closed the connection before the response was sent: %s", error
            )
            self.close_connection = True

    def _log_line(self, reply: Reply, workspace: str | None, started: float) -> None:
        logger.info(
            "%s %s -> %d items=%s workspace=%s %.1f ms",
            self.command,
            self.path,
            reply.status,
            "-" if reply.items is None else reply.items,
            workspace or "-",
            (time.monotonic() - started) * 1000,
        )

    def log_message(self, format: str, *args: Any) -> None:
        """Send the base class's messages (timeouts, malformed requests) to DEBUG."""
        logger.debug("%s: " + format, self.address_string(), *args)
