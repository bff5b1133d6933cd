"""Shared test fixtures."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest


@dataclass
class Reply:
    """What the local server answers on a route. `delay` seconds pass before the status line;
    `send_length=False` leaves out Content-Length, so the body ends when the connection closes."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    send_length: bool = True


@dataclass
class Received:
    """One request as the local server saw it; `headers` looks names up case-insensitively."""

    method: str
    path: str
    headers: Message
    body: bytes


# A responder returns a Reply or a tuple (status, headers, body[, delay]).
Responder = Callable[[Received], "Reply | tuple"]


class LocalServer:
    """An HTTP server on 127.0.0.1 with routes set by the test and a log of what it received."""

    def __init__(self) -> None:
        self._routes: dict[str, Responder] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self.requests: list[Received] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.local = self  # type: ignore[attr-defined]
        host, port = self._httpd.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        """The absolute URL of `path` on this server."""
        return self.base_url + path

    def route(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        send_length: bool = True,
    ) -> str:
        """Answer any method on `path` (query string optional) with a fixed reply; return its URL.

        Registering the same path again replaces the earlier reply.
        """
        reply = Reply(
            status=status,
            headers=dict(headers or {}),
            body=body.encode("utf-8") if isinstance(body, str) else body,
            delay=delay,
            send_length=send_length,
        )
        return self.handle(path, lambda _request: reply)

    def handle(self, path: str, responder: Responder) -> str:
        """Answer `path` with what `responder(request)` returns each time; returns its URL.

        The responder gives a Reply or a tuple (status, headers, body[, delay]).
        """
        with self._lock:
            self._routes[path] = responder
        return self.url(path)

    def requests_to(self, path: str) -> list[Received]:
        """The requests received so far for `path` (compared without the query string)."""
        with self._lock:
            return [r for r in self.requests if urlsplit(r.path).path == path]

    def _respond(self, request: Received) -> Reply:
        with self._lock:
            self.requests.append(request)
            responder = self._routes.get(request.path) or self._routes.get(
                urlsplit(request.path).path
            )
        if responder is None:
            return Reply(status=404, body=b"no such route")
        reply = responder(request)
        if isinstance(reply, tuple):
            status, headers, body, *delay = reply
            body = body.encode("utf-8") if isinstance(body, str) else body
            reply = Reply(status, dict(headers or {}), body, *delay)
        return reply

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()  # wakes handlers still sleeping through a delay
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    def _serve(self) -> None:
        local: LocalServer = self.server.local  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        request = Received(self.command, self.path, self.headers, self.rfile.read(length))
        reply = local._respond(request)
        if reply.delay and local.stopping.wait(reply.delay):
            return
        has_body = self.command != "HEAD" and reply.status not in (204, 304)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            explicit_length = any(n.lower() == "content-length" for n in reply.headers)
            if has_body and reply.send_length and not explicit_length:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if has_body:
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting, as timeout tests intend

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    """A local HTTP server for the test: `http_server.route("/feed.xml", body, headers=...)`."""
    server = LocalServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
