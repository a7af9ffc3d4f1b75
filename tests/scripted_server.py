"""A tiny HTTP server on 127.0.0.1 that answers from a script, for client tests.

Each request takes the next scripted reply: a status, headers and a body, or
a special action such as closing the connection mid-body or stalling.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"[]"
    headers: dict[str, str] = field(default_factory=dict)
    #: Announce this many more bytes than the body has, then close.
    truncate_by: int = 0
    #: Seconds to wait before answering.
    delay: float = 0.0


class ScriptedServer:
    """Serve scripted replies; the last reply repeats once the script runs out."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.received: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._answer()

            def do_PUT(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(length)
                self._answer()

            def _answer(self) -> None:
                index = len(server.received)
                server.received.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "at": time.monotonic()},
                )
                reply = server.replies[min(index, len(server.replies) - 1)]
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body) + reply.truncate_by))
                if reply.truncate_by:
                    self.send_header("Connection", "close")
                self.end_headers()
                try:
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    # The client timed out and hung up first, as the test intends.
                    return
                if reply.truncate_by:
                    self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
