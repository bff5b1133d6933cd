"""The HTTP side: a threaded HTTP/1.1 server on 127.0.0.1 answering /bot<token>/<method>."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# (token, method, content type, body, query string) -> (status, JSON body), or None to close the
# connection without an answer.
Dispatch = Callable[[str, str, str, bytes, str], tuple[int, dict[str, Any]] | None]


class ApiServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that remembers its open connections, to close them on shutdown."""

    request_queue_size = 128  # hundreds of simulated users connect at once in the benchmarks

    daemon_threads = True

    def __init__(self, dispatch: Dispatch, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.dispatch = dispatch
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        """Note a connection opening or closing."""
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """End every open connection, idle keep-alive ones included."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries a Content-Length
    server: ApiServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the client's
        # delayed ACK add 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, open_=False)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        body = self._read_body()
        url = urlsplit(self.path)
        parts = url.path.split("/")
        if len(parts) != 3 or not parts[1].startswith("bot"):
            self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        token, method = parts[1].removeprefix("bot"), parts[2]
        content_type = self.headers.get("Content-Type", "")
        answer = self.server.dispatch(token, method, content_type, body, url.query)
        if answer is None:
            self.close_connection = True  # drop: no status line, no body
            return
        self._answer(*answer)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():
                pass  # trailers
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client went away (e.g. a cancelled long poll)

    def log_message(self, format: str, *args: Any) -> None:
        pass
